"""ASGI entry point.

Event streams are routed here, before Django's handler, so they bypass the
middleware stack: each ``MiddlewareMixin`` hook runs in a thread that would
stay held for the stream's whole life (DESIGN §6, known traps). Streams
authenticate from the session cookie themselves. Everything else is Django,
served on a fixed pool of request threads (``fiido/handler.py``).
"""

import gc
import os
import re

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fiido.settings")

from fiido.handler import get_pooled_asgi_application

django_application = get_pooled_asgi_application()  # sets Django up before models are imported

from django.conf import settings  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from fiido import logs, metrics, periodic  # noqa: E402
from fiido.http import request_body_limit  # noqa: E402
from fiido.proxy import forwarded_scope  # noqa: E402
from fiido.realtime.daphne_io import light_input_queues, limit_request_bodies, skip_form_parsing  # noqa: E402
from fiido.realtime.stream import stream_refusal  # noqa: E402


def _stream_routes() -> list[tuple[re.Pattern, object]]:
    """Every app's ``stream_routes`` (``settings.STREAM_ROUTES``), as urls.py includes
    the apps' URLconfs: the project package names them and imports neither app."""
    routes = []
    for dotted in settings.STREAM_ROUTES:
        routes.extend((re.compile(pattern), endpoint) for pattern, endpoint in import_string(dotted))
    return routes


STREAM_ROUTES = _stream_routes()

# Under daphne: bodies over the limit (larger on the upload paths) are refused before they are read.
limit_request_bodies(request_body_limit)
# ... and their bodies are not parsed as forms by Twisted (daphne never reads that).
skip_form_parsing()
# ... and each connection's input queue costs bytes, not kilobytes (10,000 idle streams).
light_input_queues()

# What is loaded by now lives as long as the process: move it out of the cyclic
# collector's reach. A full collection over it took ~40 ms here, a latency spike
# for every request and stream of the worker whenever one ran.
gc.freeze()


async def application(scope, receive, send):
    periodic.ensure_started()  # the worker's own timers (idle conversations close themselves)
    if scope["type"] == "http":
        scope = forwarded_scope(scope)  # the client behind a trusted proxy (fiido/proxy.py)
        path = scope["path"]
        if path == "/metrics":
            return await metrics.endpoint(scope, receive, send)
        for pattern, endpoint in STREAM_ROUTES:
            match = pattern.match(path)
            if match:
                logs.bind_stream(scope, match.groupdict().get("name"))
                refused = stream_refusal(scope)
                if refused is not None:
                    return await refused(send)
                return await endpoint(scope, receive, send, **match.groupdict())
    return await django_application(scope, receive, send)
