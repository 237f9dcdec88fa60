"""Experiment (not the shipped code): ``db_call`` keeps its executor thread's DB connection.

``BENCH_ASGI_APP=bench.experiments.db_call_reuse:application bench/run.py --only S4-5000,S5 --systems ours``

The shipped ``fiido.realtime.hub.db_call`` opens and closes a connection per
call. The stream executor's threads are few and long-lived, so here each keeps
its connection and only checks that it is still usable. Measured in
``bench/NOTES.md``.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fiido.settings")

import django

django.setup()

from asgiref.sync import sync_to_async  # noqa: E402
from django.db import connection  # noqa: E402

import fiido.realtime.hub as hub  # noqa: E402


async def db_call(function, *args):
    def run():
        if connection.connection is not None and not connection.is_usable():
            connection.close()
        return function(*args)

    return await sync_to_async(run, thread_sensitive=False)()


hub.db_call = db_call  # before the stream modules import it

from fiido.asgi import application  # noqa: E402, F401
