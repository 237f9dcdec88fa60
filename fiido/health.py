"""``/healthz``: is the database reachable, and is live delivery working?"""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from fiido.realtime.hub import current_hub


def _ping_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception:  # noqa: BLE001 - reported, not raised
        return "error"
    finally:
        connection.close()


async def _channel_layer_state() -> str:
    if not settings.REDIS_URL:
        return "in-memory"
    hub = current_hub()
    if hub is not None and hub.degraded:
        return "degraded"
    import redis.asyncio as aioredis

    client = aioredis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        await asyncio.wait_for(client.ping(), 1.5)
        return "redis"
    except Exception:  # noqa: BLE001
        return "degraded"
    finally:
        await client.aclose()


async def healthz(request: HttpRequest) -> JsonResponse:
    """200 while the service can answer; the body tells an operator what is degraded."""
    database = await sync_to_async(_ping_database, thread_sensitive=False)()
    layer = await _channel_layer_state()
    status = 200 if database == "ok" else 503
    return JsonResponse({"database": database, "channel_layer": layer}, status=status)
