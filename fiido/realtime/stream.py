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
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from functools import partial
from importlib import import_module
from urllib.parse import parse_qs

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host

from fiido import metrics
from fiido.realtime import daphne_io
from fiido.realtime.caps import Key, stream_caps
from fiido.realtime.hub import CATCH_UP, RECHECK, DirectWrite, Envelope, Signal, Subscription, get_hub
from fiido.realtime.sse import RETRY_FRAME, encode, security_headers, stream_headers

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
# Re-checks, at each heartbeat, that the viewer may still watch: None to go
# on, or the stream's last event (an agent deactivated, logged out, demoted).
Recheck = Callable[[], Awaitable[dict | None]]


class StreamEnded(Exception):
    """Raised by an app's ``opening`` or ``fetch_after`` when the stream's subject is
    gone for good (a deleted conversation): ``frame`` is the stream's last frame."""

    def __init__(self, payload: dict) -> None:
        super().__init__(payload.get("type"))
        self.frame = encode(payload)


async def session_events(
    group: str,
    *,
    opening: Opening,
    fetch_after: FetchAfter,
    send: Callable | None = None,
    also: tuple[str, ...] = (),
    recheck: Recheck | None = None,
    language: str | None = None,
    side: str | None = None,
    side_fetch_after: FetchAfter | None = None,
    watch: str | None = None,
) -> AsyncIterator[bytes]:
    """A session stream: opening frames, then every event once, in seq order.

    With the ASGI ``send`` it is served on, live events that arrive while the
    stream is idle are written by the hub straight to the client
    (``Subscription``); only gaps, catch-ups and heartbeats come through here.
    A final event (a deleted conversation, an ended login), published or found
    by a catch-up (``StreamEnded``) or a ``recheck``, is the stream's last frame.

    ``side`` is a second numbered log of the session for this reader alone
    (the agents' notes): its entries follow the same seq rules, from
    ``side_fetch_after``, but go out without an ``id:`` (the stream resumes by
    the main log's seq), so the stream sends all of them again on every
    opening and the page keeps each once, by its id. Notices (seq 0: someone
    typing, alerts from the ``also`` groups) and, for a stream that ``watch``es
    its conversation, queue positions go out as they come, without an id.
    """
    hub = get_hub()
    direct = direct_writer(send) if send is not None else None
    # Registered before the backlog is read.
    subscription = await hub.subscribe(
        group, direct, also=also, recheck=recheck is not None, language=language, side=side, watch=watch
    )
    try:
        yield RETRY_FRAME
        frames, subscription.last, more = await opening()
        for frame in frames:
            yield frame
        frames = frame = None  # sent: a stream idle for hours keeps no copy of its history
        if more:
            subscription.push(CATCH_UP)
        if side_fetch_after is not None:
            async for frame in _side_catch_up(subscription, side_fetch_after):
                yield frame
        while True:
            item = await subscription.get()
            if type(item) is Envelope:
                if item.final:
                    yield item.without_id(language)
                    return
                if item.seq == 0 or item.group not in (group, side):
                    yield item.without_id(language)  # a notice: never stored, never replayed
                    continue
                if item.group == side:
                    if item.seq == subscription.side_last + 1:
                        subscription.side_last = item.seq
                        yield item.without_id(language)
                    elif item.seq > subscription.side_last + 1 and side_fetch_after is not None:
                        async for frame in _side_catch_up(subscription, side_fetch_after):
                            yield frame
                    continue
                if item.seq <= subscription.last:
                    continue  # already sent (backlog, catch-up, or a duplicate publish)
                if item.seq == subscription.last + 1:
                    subscription.last = item.seq
                    yield item.with_id(language)
                    if item.at is not None:
                        metrics.observe_lag(item.at)
                    continue
                # A gap: something was published and not received; fill it from the database.
            elif item is RECHECK:
                await _recheck(recheck)
                continue
            elif item is not CATCH_UP:
                yield item.frame  # a heartbeat, a queue position
                continue
            while True:
                rows = await fetch_after(subscription.last)
                metrics.stats.catch_ups += 1
                for seq, data in rows:
                    if seq > subscription.last + 1:
                        _skip_missing(group, subscription.last + 1, seq - 1)
                    if seq > subscription.last:
                        subscription.last = seq
                        metrics.stats.catch_up_events += 1
                        yield encode(data, id=seq)
                if len(rows) < CATCH_UP_BATCH:
                    break
            rows = data = None  # sent (as above)
            if side_fetch_after is not None:
                async for frame in _side_catch_up(subscription, side_fetch_after):
                    yield frame
    except StreamEnded as ended:
        yield ended.frame
    finally:
        hub.unsubscribe(subscription)


async def _side_catch_up(subscription: Subscription, fetch_after: FetchAfter) -> AsyncIterator[bytes]:
    """The side log's entries after the last one sent, from the database, without ids."""
    while True:
        rows = await fetch_after(subscription.side_last)
        for seq, data in rows:
            if seq > subscription.side_last:
                subscription.side_last = seq
                yield encode(data)
        if len(rows) < CATCH_UP_BATCH:
            return


_reported_holes: deque[tuple[str, int]] = deque(maxlen=1000)


def _skip_missing(group: str, first: int, last: int) -> None:
    """Log, once per hole, events that the database shows will never come.

    Events commit in seq order (each one is numbered under the session's row
    lock), so a read that sees seq N without N-1 proves N-1 was deleted behind
    the state machine's back. Waiting for it would freeze the conversation on
    every open screen; skipping it loses only what is already gone.
    """
    if (group, first) not in _reported_holes:
        _reported_holes.append((group, first))
        logger.error("%s: events %d-%d are missing from the database; streams skip them.", group, first, last)


async def queue_events(
    group: str, *, snapshot: Snapshot, also: tuple[str, ...] = (), recheck: Recheck | None = None
) -> AsyncIterator[bytes]:
    """The agents' queue: a snapshot, then live changes; a new snapshot whenever
    something may have been missed (DESIGN §5.5)."""
    hub = get_hub()
    subscription = await hub.subscribe(group, also=also, recheck=recheck is not None)
    try:
        yield RETRY_FRAME
        yield encode({"type": "connected", "session_name": None, "status": None, "last_event_id": 0})
        event, subscription.last = await snapshot()
        yield encode(event)
        while True:
            item = await subscription.get()
            if type(item) is Envelope:
                yield item.without_id()
                if item.final:
                    return
                if item.at is not None:
                    metrics.observe_lag(item.at)
            elif item is CATCH_UP:
                event, subscription.last = await snapshot()
                yield encode(event)
            elif item is RECHECK:
                await _recheck(recheck)
            else:
                yield item.frame
    except StreamEnded as ended:
        yield ended.frame
    finally:
        hub.unsubscribe(subscription)


async def _recheck(recheck: Recheck | None) -> None:
    """Raise ``StreamEnded`` when the viewer may no longer watch."""
    final = await recheck() if recheck is not None else None
    if final is not None:
        raise StreamEnded(final)


TOO_MANY_STREAMS = "Too many open streams for this conversation or address. Close another tab, or wait."
TOO_MANY_STREAMS_RETRY_SECONDS = b"10"


async def serve(
    receive, send, frames: AsyncIterator[bytes], *, caps: Iterable[tuple[Key, int]] = (), kind: str = "customer"
) -> None:
    """Send ``frames`` as an SSE response until the client goes away.

    ``caps`` are the (key, limit) pairs this stream counts against
    (``fiido.realtime.caps``): over one, it is refused with 429 before it
    reads anything. A disconnect cancels the stream at whatever it awaits;
    its ``finally`` clauses leave the hub, and the response ends quietly.
    ``kind`` (customer, agent, queue) labels it in the metrics.
    """
    lease = stream_caps.acquire(caps)
    if lease is None:
        await frames.aclose()
        return await send_json_error(send, 429, TOO_MANY_STREAMS, [(b"retry-after", TOO_MANY_STREAMS_RETRY_SECONDS)])
    metrics.stats.streams[kind] += 1
    try:
        await _serve(receive, send, frames)
    finally:
        metrics.stats.streams[kind] -= 1
        lease.release()


async def _serve(receive, send, frames: AsyncIterator[bytes]) -> None:
    task = asyncio.current_task()
    disconnected = False
    serving = True

    def gone() -> None:
        nonlocal disconnected
        if serving:  # not once the stream is over: the task is cleaning up after it
            disconnected = True
            task.cancel()

    client = daphne_io.client_socket(send)
    if client is None:
        _warn_fallback(send)
        watcher = asyncio.ensure_future(_await_disconnect(receive, gone))
    else:
        watcher = None  # daphne tells the stream itself: no task per stream waiting on receive()
        client.on_disconnect(gone)
    budget = settings.SSE_SEND_BUFFER_BYTES  # the fallback's bound: what one response may hand to send
    try:
        await send({"type": "http.response.start", "status": 200, "headers": stream_headers()})
        async for frame in frames:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
            size, frame = len(frame), None  # sent: an idle stream keeps no copy (the last may be its history)
            if client is None:
                budget -= size
                if budget < 0:
                    # Whether the client reads cannot be seen from here: end the
                    # response; one that reads resumes by Last-Event-ID, one that
                    # does not holds at most this much.
                    break
            elif client.queued_bytes() > settings.SSE_SEND_BUFFER_BYTES:
                if not await _drained(client.queued_bytes):
                    # A client that stopped reading: cut it off rather than buffer
                    # without bound. It reconnects with Last-Event-ID and loses nothing.
                    logger.info("Closed a stream whose client stopped reading (%d bytes queued)", client.queued_bytes())
                    metrics.stats.slow_readers_cut += 1
                    client.abort()
                    return
        # The stream ended (its final event was sent, or the fallback's budget is spent).
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        if not disconnected:
            raise
    finally:
        serving = False
        if watcher is not None:
            watcher.cancel()
        await frames.aclose()


async def _await_disconnect(receive, gone: Callable[[], None]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone()


async def _drained(queued: Callable[[], int]) -> bool:
    """Wait for a client to read its backlog down; False if it does not in time."""
    deadline = asyncio.get_running_loop().time() + settings.SSE_SLOW_READER_SECONDS
    while queued() > settings.SSE_SEND_BUFFER_BYTES // 2:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(DRAIN_POLL_SECONDS)
    return True


def direct_writer(send) -> DirectWrite | None:
    """Under daphne: write a frame to the client now, without a trip through the
    stream's task (the hub calls it during dispatch; ``daphne_io`` says how).
    It refuses once the client has half the slow-reader limit queued. Outside
    daphne there is no direct path."""
    client = daphne_io.client_socket(send)
    if client is None:
        return None
    limit = settings.SSE_SEND_BUFFER_BYTES // 2
    return partial(client.write_now, limit=limit)


_warned_fallback = False


def _warn_fallback(send) -> None:
    global _warned_fallback
    if not _warned_fallback:
        _warned_fallback = True
        logger.warning(
            "Streams cannot reach the client socket behind %r (not daphne's send, or a middleware wraps it): "
            "no direct writes, and each stream ends after SSE_SEND_BUFFER_BYTES instead of watching its "
            "client's backlog (clients resume by Last-Event-ID). See fiido/realtime/daphne_io.py.",
            send,
        )


def django_session(scope) -> SessionBase:
    """The visitor's Django session, from the request's cookie (loaded lazily)."""
    cookies = {}
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            cookies = parse_cookie(value.decode("latin-1"))
            break
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return store(cookies.get(settings.SESSION_COOKIE_NAME))


def client_address(scope) -> str:
    """The client's address (a trusted proxy's word for it: fiido/proxy.py)."""
    return (scope.get("client") or ("",))[0] or ""


def header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def query_param(scope, name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


def stream_refusal(scope) -> Callable[[Callable], Awaitable[None]] | None:
    """Django's host and HTTPS rules, for the stream routes that bypass its middleware.

    A ``Host`` not in ``ALLOWED_HOSTS`` is a 400 (as ``HttpRequest.get_host``
    makes it); with ``SECURE_SSL_REDIRECT`` a plain-HTTP stream is redirected
    to HTTPS (as ``SecurityMiddleware`` does). None when the request may go on.
    """
    host = header(scope, b"host")
    if host is None:  # HTTP/1.0: the server's name, as Django's get_host() falls back to
        server, port = scope.get("server") or ("", None)
        host = f"{server}:{port}" if port not in (None, 80, 443) else server
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, allowed):
        return partial(send_json_error, status=400, message="Invalid Host header.")
    if settings.SECURE_SSL_REDIRECT and scope.get("scheme") != "https":
        query = scope.get("query_string", b"").decode("latin-1")
        location = f"https://{settings.SECURE_SSL_HOST or host}{scope['path']}" + (f"?{query}" if query else "")
        return partial(_redirect, location=location)
    return None


async def _redirect(send, *, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 301,
            "headers": [(b"location", location.encode("latin-1", "replace")), *security_headers()],
        }
    )
    await send({"type": "http.response.body", "body": b""})


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
                *security_headers(),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


__all__ = [
    "Signal",
    "StreamEnded",
    "django_session",
    "header",
    "query_param",
    "queue_events",
    "send_json_error",
    "serve",
    "session_events",
]
