"""SSE streams served straight over ASGI, fed by the process's hub.

Streams are routed in ``fiido/asgi.py`` before Django's handler: Django's
middleware runs its sync hooks in a thread that lives as long as the request,
which would hold one OS thread per open stream (DESIGN §6, known traps). Here
a stream costs one task, one small watcher task and one ``Subscription``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from importlib import import_module
from urllib.parse import parse_qs

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http.cookie import parse_cookie
from twisted.web.http import Request as TwistedRequest

from fiido.realtime.hub import CATCH_UP, DirectWrite, Envelope, Signal, get_hub
from fiido.realtime.sse import HEADERS, RETRY_FRAME, SECURITY_HEADERS, encode

logger = logging.getLogger(__name__)

DRAIN_POLL_SECONDS = 0.05  # how often a stream over its buffer limit checks whether the client caught up

Rows = list[tuple[int, str]]
CATCH_UP_BATCH = 200  # fetch_after returns at most this many rows; the stream asks again for more
# Reads a session's stored events after a seq: [(seq, json), ...] in order,
# at most CATCH_UP_BATCH of them.
FetchAfter = Callable[[int], Awaitable[Rows]]
# Builds a stream's opening frames once it is registered; returns them, the
# newest seq they cover, and whether more missed events wait in the database.
Opening = Callable[[], Awaitable[tuple[list[bytes], int, bool]]]
# Builds a fresh queue snapshot event and the queue version it reflects.
Snapshot = Callable[[], Awaitable[tuple[dict, int]]]


async def session_events(
    group: str, *, opening: Opening, fetch_after: FetchAfter, send: Callable | None = None
) -> AsyncIterator[bytes]:
    """A session stream: opening frames, then every event once, in seq order.

    With the ASGI ``send`` it is served on, live events that arrive while the
    stream is idle are written by the hub straight to the client
    (``Subscription``); only gaps, catch-ups and heartbeats come through here.
    """
    hub = get_hub()
    direct = direct_writer(send) if send is not None else None
    subscription = await hub.subscribe(group, direct)  # registered before the backlog is read
    try:
        yield RETRY_FRAME
        frames, subscription.last, more = await opening()
        for frame in frames:
            yield frame
        if more:
            subscription.push(CATCH_UP)
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
            while True:
                rows = await fetch_after(subscription.last)
                for seq, data in rows:
                    if seq == subscription.last + 1:
                        subscription.last = seq
                        yield encode(data, id=seq)
                if len(rows) < CATCH_UP_BATCH:
                    break
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
    backlog = _send_backlog(send)
    try:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        async for frame in frames:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
            if backlog is not None and backlog[0]() > settings.SSE_SEND_BUFFER_BYTES:
                if not await _drained(backlog[0]):
                    # A client that stopped reading: cut it off rather than buffer
                    # without bound. It reconnects with Last-Event-ID and loses nothing.
                    logger.info("Closed a stream whose client stopped reading (%d bytes queued)", backlog[0]())
                    backlog[1]()
                    return
    except asyncio.CancelledError:
        if not disconnected:
            raise
    finally:
        watcher.cancel()
        await frames.aclose()


async def _drained(queued: Callable[[], int]) -> bool:
    """Wait for a client to read its backlog down; False if it does not in time."""
    deadline = asyncio.get_running_loop().time() + settings.SSE_SLOW_READER_SECONDS
    while queued() > settings.SSE_SEND_BUFFER_BYTES // 2:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(DRAIN_POLL_SECONDS)
    return True


def _daphne_request(send) -> TwistedRequest | None:
    """The Twisted request behind daphne's ``send`` (``partial(server.handle_reply,
    protocol)``) when it sits on a plain TCP transport; None elsewhere."""
    protocol = next(iter(getattr(send, "args", ())), None)
    if not isinstance(protocol, TwistedRequest) or not hasattr(protocol.transport, "_tempDataLen"):
        return None
    return protocol


def _queued_bytes(transport) -> int:
    """Bytes Twisted holds for this client that the socket has not taken yet."""
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


def _send_backlog(send) -> tuple[Callable[[], int], Callable[[], None]] | None:
    """Under daphne: how many bytes wait in this client's socket buffer, and how
    to drop the connection.

    ASGI has no backpressure and daphne buffers every write in memory, so a
    reader that stalls would grow the process without bound; its Twisted
    transport knows what is still queued. Elsewhere this returns None and
    the server's own flow control applies.
    """
    request = _daphne_request(send)
    if request is None:
        return None
    transport = request.transport
    return partial(_queued_bytes, transport), transport.abortConnection


def direct_writer(send) -> DirectWrite | None:
    """Under daphne: write a frame to the client now, without a trip through
    the stream's task (the hub calls it during dispatch).

    It does what daphne's ``send`` does with a body message, minus the
    coroutine. When nothing is queued for the client it goes one step
    further and hands the chunk to the socket itself: Twisted would queue it,
    register the socket with the event loop, write it on the next turn and
    unregister it, and that round trip (two ``epoll_ctl`` calls and their
    selector bookkeeping) was most of a fan-out's CPU. Whatever the socket
    does not take is queued in Twisted behind it, so order is kept.

    It refuses (False) when the connection is finished or closing, or when
    the client has half the slow-reader limit queued: that frame then takes
    the stream's own path, which waits for the client or cuts it off
    (``serve``). Outside daphne there is no direct path.
    """
    protocol = _daphne_request(send)
    if protocol is None:
        return None
    transport = protocol.transport
    limit = settings.SSE_SEND_BUFFER_BYTES // 2

    def write(frame: bytes) -> bool:
        if (
            protocol.finished
            or protocol._disconnected
            or protocol.channel is None
            or transport.disconnecting
            or not transport.connected
        ):
            return False
        waiting = _queued_bytes(transport)
        if waiting or getattr(transport, "TLS", False) or not protocol.startedWriting:
            if waiting > limit:
                return False
            TwistedRequest.write(protocol, frame)
            return True
        chunk = b"%x\r\n%b\r\n" % (len(frame), frame) if protocol.chunked else frame
        try:
            sent = transport.socket.send(chunk)
        except BlockingIOError:
            sent = 0
        except OSError:
            return False  # the connection is going; the stream's path sees it
        if sent < len(chunk):
            transport.write(chunk[sent:])
        protocol.sentLength += len(frame)
        return True

    return write


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
