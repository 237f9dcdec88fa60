"""``/healthz``: is the database reachable, and is live delivery working?"""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, JsonResponse

from fiido.realtime.hub import current_hub
from fiido.redis_config import configured_hosts, probe_client


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
    """in-memory; redis while every Redis server of the layer answers; else degraded."""
    hosts = configured_hosts()
    if not hosts:
        return "in-memory"
    hub = current_hub()
    if hub is not None and hub.degraded:
        return "degraded"
    clients = [probe_client(host) for host in hosts]
    try:
        answers = await asyncio.wait_for(
            asyncio.gather(*(client.ping() for client in clients), return_exceptions=True), 1.5
        )
        return "degraded" if any(isinstance(answer, BaseException) for answer in answers) else "redis"
    except Exception:  # noqa: BLE001
        return "degraded"
    finally:
        for client in clients:
            await client.aclose(close_connection_pool=True)


async def healthz(request: HttpRequest) -> JsonResponse:
    """200 while the service can answer; the body tells an operator what is degraded."""
    database = await sync_to_async(_ping_database, thread_sensitive=False)()
    layer = await _channel_layer_state()
    status = 200 if database == "ok" else 503
    return JsonResponse({"database": database, "channel_layer": layer}, status=status)
