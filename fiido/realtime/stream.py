"""SSE streams served straight over ASGI, fed by the process's hub.

Streams are routed in ``fiido/asgi.py`` before Django's handler: Django's
middleware runs its sync hooks in a thread that lives as long as the request,
which would hold one OS thread per open stream (DESIGN §6, known traps). Here
a stream costs one task, one small watcher task and one ``Subscription``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import import_module
from urllib.parse import parse_qs

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http.cookie import parse_cookie

from fiido.realtime.hub import CATCH_UP, Envelope, Signal, get_hub
from fiido.realtime.sse import HEADERS, RETRY_FRAME, SECURITY_HEADERS, encode

Rows = list[tuple[int, str]]
# Reads a session's stored events after a seq: [(seq, json), ...] in order.
FetchAfter = Callable[[int], Awaitable[Rows]]
# Builds a stream's opening frames once it is registered; returns them and
# the newest seq they cover.
Opening = Callable[[], Awaitable[tuple[list[bytes], int]]]
# Builds a fresh queue snapshot event and the queue version it reflects.
Snapshot = Callable[[], Awaitable[tuple[dict, int]]]


async def session_events(group: str, *, opening: Opening, fetch_after: FetchAfter) -> AsyncIterator[bytes]:
    """A session stream: opening frames, then every event once, in seq order."""
    hub = get_hub()
    subscription = await hub.subscribe(group)  # registered before the backlog is read
    try:
        yield RETRY_FRAME
        frames, subscription.last = await opening()
        for frame in frames:
            yield frame
        while True:
            item = await subscription.get()
            if type(item) is Envelope:
                if item.seq <= subscription.last:
                    continue  # already sent (backlog, catch-up, or a duplicate publish)
                if item.seq == subscription.last + 1:
                    subscription.last = item.seq
                    yield item.with_id()
                    continue
                # A gap: something was published and not received; fill it from the database.
            elif item is not CATCH_UP:
                yield item.frame  # heartbeat
                continue
            for seq, data in await fetch_after(subscription.last):
                if seq == subscription.last + 1:
                    subscription.last = seq
                    yield encode(data, id=seq)
    finally:
        hub.unsubscribe(subscription)


async def queue_events(group: str, *, snapshot: Snapshot) -> AsyncIterator[bytes]:
    """The agents' queue: a snapshot, then live changes; a new snapshot whenever
    something may have been missed (DESIGN §5.5)."""
    hub = get_hub()
    subscription = await hub.subscribe(group)
    try:
        yield RETRY_FRAME
        yield encode({"type": "connected", "session_name": None, "status": None, "last_event_id": 0})
        event, subscription.last = await snapshot()
        yield encode(event)
        while True:
            item = await subscription.get()
            if type(item) is Envelope:
                yield item.without_id()
            elif item is CATCH_UP:
                event, subscription.last = await snapshot()
                yield encode(event)
            else:
                yield item.frame
    finally:
        hub.unsubscribe(subscription)


async def serve(receive, send, frames: AsyncIterator[bytes]) -> None:
    """Send ``frames`` as an SSE response until the client goes away.

    A disconnect cancels the stream at whatever it awaits; its ``finally``
    clauses leave the hub, and the response ends quietly.
    """
    task = asyncio.current_task()
    disconnected = False

    async def watch() -> None:
        nonlocal disconnected
        while (await receive())["type"] != "http.disconnect":
            pass
        disconnected = True
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        async for frame in frames:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
    except asyncio.CancelledError:
        if not disconnected:
            raise
    finally:
        watcher.cancel()
        await frames.aclose()


def django_session(scope) -> SessionBase:
    """The visitor's Django session, from the request's cookie (loaded lazily)."""
    cookies = {}
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            cookies = parse_cookie(value.decode("latin-1"))
            break
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return store(cookies.get(settings.SESSION_COOKIE_NAME))


def header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def query_param(scope, name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


async def send_json_error(send, status: int, message: str, headers: list | None = None) -> None:
    """Answer a refused stream with the API's JSON error shape."""
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"cache-control", b"no-store"),
                *SECURITY_HEADERS,
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


__all__ = [
    "Signal",
    "django_session",
    "header",
    "query_param",
    "queue_events",
    "send_json_error",
    "serve",
    "session_events",
]
