"""Work each worker process runs every so often, with no scheduler to deploy.

``settings.PERIODIC_JOBS`` lists ``(dotted path, seconds)`` pairs: a plain
function of no arguments, run on the shared thread pool (database work)
every that many seconds (0: never). The runner starts on the first request
or stream of each event loop (``fiido.asgi``). With several workers each
would run every job, so with Redis a job's round is claimed first (``SET NX``
with the period as expiry): one worker runs it, the others skip that round.
The jobs stay correct if two run at once anyway (the idle sweep re-checks
under the row lock), so a lost claim only costs a duplicate read.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

_runners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[asyncio.Task]] = weakref.WeakKeyDictionary()


def ensure_started() -> None:
    """Start this loop's periodic jobs once (cheap to call on every request)."""
    loop = asyncio.get_running_loop()
    if loop in _runners:
        return
    _runners[loop] = [
        asyncio.ensure_future(_every(dotted, seconds)) for dotted, seconds in settings.PERIODIC_JOBS if seconds > 0
    ]


async def _every(dotted: str, seconds: int) -> None:
    from fiido.realtime.hub import db_call

    job = import_string(dotted)
    claim = _claimer(dotted, seconds)
    while True:
        await asyncio.sleep(seconds)
        try:
            if await claim():
                await db_call(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Periodic job %s failed", dotted)


def _claimer(dotted: str, seconds: int):
    """A coroutine function that says whether this process runs this round."""
    from fiido.redis_config import configured_hosts, probe_client

    hosts = configured_hosts()
    if not hosts:

        async def always() -> bool:
            return True

        return always

    client = probe_client(hosts[0])
    key = f"{settings.REDIS_PREFIX}:periodic:{settings.DATABASES['default']['NAME']}:{dotted}"

    async def claim() -> bool:
        try:
            # A little under the period, so the next round's claim is free when it comes.
            return bool(await client.set(key, "1", nx=True, px=max(100, int(seconds * 900))))
        except Exception:  # noqa: BLE001 - without Redis every worker runs it (still correct)
            return True

    return claim
