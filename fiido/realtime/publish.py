"""Hand stored events to the channel layer once their transaction commits.

The layer is a doorbell (see the package docstring): publishing never fails a
write and never holds one up. ``publish_on_commit`` registers an on-commit
hook that only appends the events to this process's ``Publisher`` queue, with
no I/O. Hooks run in commit order (on SQLite while ``fiido.db.sqlite3``'s
process write lock is still held), so the queue is in commit order, and no
thread ever waits for Redis while it holds a database lock.

Under the ASGI server the publisher drains that queue on the server's event
loop, where the layer's connections live, in order, batch by batch; each
batch gets one deadline (``PUBLISH_TIMEOUT_SECONDS``) for all its groups and
its one retry. A request does not wait for Redis at all. Where no server loop
runs (management commands, the test client, a shell) the events are sent at
once from the committing thread, under the same single deadline.

A batch that fails or runs out of time is dropped, with one warning until the
layer answers again, and the layer is skipped for ``RETRY_AFTER_FAILURE_SECONDS``:
streams then read what they missed from the database (hub catch-up). With
several Redis servers each has its own deadline and its own failures: a
server that is down costs only the groups it carries.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from fiido import metrics
from fiido.realtime.groups import QUEUE_GROUP, agents_group, session_group
from fiido.realtime.shards import shard_count, shard_of
from fiido.realtime.sse import dumps

logger = logging.getLogger(__name__)

RETRY_AFTER_FAILURE_SECONDS = 1.0  # after a failure, skip the layer this long
MAX_PENDING_MESSAGES = 10_000  # beyond this the oldest are dropped; streams catch up from the database
LAYER_MESSAGE_TYPE = "fiido.event"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event row as the layer carries it: seq plus its stored JSON.

    A ``final`` event is not in the log (seq 0): it is the last frame of the
    session's streams, sent without an id, after which they end (a deleted
    conversation); queue streams pass it on like any notice. An event for
    ``agents`` only (a note, numbered in its own log) goes to the session's
    agents' group and nowhere else.
    """

    session_name: str
    seq: int
    data: str
    to_queue: bool
    final: bool = False
    agents_only: bool = False


class _LayerHealth:
    """Log one warning when publishing starts failing, one line when it recovers."""

    def __init__(self, name: str = "") -> None:
        self.name = name  # " (redis://b:6379)" when the layer has several servers
        self.failing_since: float | None = None

    def failed(self, error: BaseException) -> None:
        if self.failing_since is None:
            logger.warning(
                "Channel layer unreachable%s (%s); events are stored and streams "
                "catch up from the database until it returns.",
                self.name,
                error or type(error).__name__,
            )
        self.failing_since = time.monotonic()

    def succeeded(self) -> None:
        if self.failing_since is not None:
            logger.warning("Channel layer reachable again%s; live delivery resumed.", self.name)
            self.failing_since = None

    def should_skip(self) -> bool:
        return self.failing_since is not None and time.monotonic() - self.failing_since < RETRY_AFTER_FAILURE_SECONDS


_healths: dict[int, _LayerHealth] = {0: _LayerHealth()}  # by Redis server (index in the layer's hosts)
_health = _healths[0]


def _health_of(shard: int) -> _LayerHealth:
    health = _healths.get(shard)
    if health is None:
        health = _healths[shard] = _LayerHealth(f" (server {shard})")
    return health


# A message for the layer: (group, {"type", "group", "seq", "data", "final"}).
Outgoing = tuple[str, dict]


def layer_messages(events: Sequence[StoredEvent]) -> list[Outgoing]:
    """What ``events`` become on the layer: each goes to its session's group,
    and customer-visible changes to the agents' queue too."""
    messages = []
    for event in events:
        if event.agents_only:
            group = agents_group(event.session_name)
            messages.append((group, {"type": LAYER_MESSAGE_TYPE, "group": group, "seq": event.seq, "data": event.data}))
            continue
        group = session_group(event.session_name)
        message = {"type": LAYER_MESSAGE_TYPE, "group": group, "seq": event.seq, "data": event.data}
        messages.append((group, {**message, "final": event.final}))
        if event.to_queue:
            messages.append((QUEUE_GROUP, {**message, "group": QUEUE_GROUP, "final": False}))
    return messages


class Publisher:
    """This process's queue of committed events, drained in order on the server's loop."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: deque[Outgoing] = deque()
        self._lock = threading.Lock()
        self._draining = False
        self._task: asyncio.Task | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Publish through ``loop`` from now on (the ASGI server's; called per request, cheap)."""
        if self._loop is not loop:
            with self._lock:
                self._loop = loop
                self._draining = False  # a drain scheduled on an earlier loop died with it

    def submit(self, messages: Sequence[Outgoing]) -> None:
        """Queue ``messages`` for the layer; never blocks on I/O while a server loop runs."""
        now = time.time()
        for _, message in messages:
            message["at"] = now  # committed now: the delivery lag metric starts here
        loop = self._loop
        if loop is None or loop.is_closed():
            send_now(messages)
            return
        with self._lock:
            dropped = len(self._pending) + len(messages) - MAX_PENDING_MESSAGES
            for _ in range(max(0, dropped)):
                self._pending.popleft()
            self._pending.extend(messages)
            if self._draining:
                return
            self._draining = True
        if dropped > 0:
            logger.warning("Publish queue full: %d events left to the streams' database catch-up.", dropped)
        try:
            loop.call_soon_threadsafe(self._start)
        except RuntimeError:  # the loop closed meanwhile
            with self._lock:
                leftover, self._draining = list(self._pending), False
                self._pending.clear()
            send_now(leftover)

    def _start(self) -> None:
        self._task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._draining = False
                    return
                batch = list(self._pending)
                self._pending.clear()
            await send_batch(batch)


publisher = Publisher()


def publish_on_commit(events: Sequence[StoredEvent]) -> None:
    """Publish ``events`` after the current transaction commits.

    Should only be called from ``chatbot/conversations.py``: the state machine
    is the one place that writes events, so it is the one place that
    publishes them. Publishing never fails the request; a lost publish is
    made up by the streams' database catch-up.
    """
    if events:
        messages = layer_messages(events)
        transaction.on_commit(lambda: publisher.submit(messages))


def end_streams_on_commit(group: str, payload: dict) -> None:
    """After commit, end every stream subscribed to ``group`` (a login group)
    with ``payload`` as its last frame. A notice, not an event: never stored,
    no seq; a stream that misses it finds out at its next heartbeat's re-check."""
    message = {"type": LAYER_MESSAGE_TYPE, "group": group, "seq": 0, "data": dumps(payload), "final": True}
    transaction.on_commit(lambda: publisher.submit([(group, message)]))


def notify_on_commit(group: str, payload: dict, *, audience: str = "") -> None:
    """After commit, send ``payload`` to the streams subscribed to ``group`` (an
    agent's group): an alert or a read marker. A notice, never stored, no seq;
    a stream that misses it is not wrong, only less prompt (pages re-read
    their counts on every queue snapshot). ``audience`` "customers" keeps it
    from agents' streams of the group (see ``notify``)."""
    message = {"type": LAYER_MESSAGE_TYPE, "group": group, "seq": 0, "data": dumps(payload), "final": False}
    if audience:
        message["audience"] = audience
    transaction.on_commit(lambda: publisher.submit([(group, message)]))


def notify(group: str, payload: dict, *, audience: str = "") -> None:
    """Send ``payload`` to the streams of ``group`` now, outside any transaction:
    a signal that is not a conversation event (someone is typing). Never
    stored, no seq, never replayed; lost, like any notice, when the layer is
    down. ``audience`` "customers" keeps it from agents' streams of the group."""
    message = {"type": LAYER_MESSAGE_TYPE, "group": group, "seq": 0, "data": dumps(payload), "final": False}
    if audience:
        message["audience"] = audience
    publisher.submit([(group, message)])


def send_now(messages: Sequence[Outgoing]) -> None:
    """Send from this thread (no server loop to hand the events to).

    It runs as an on-commit hook, after the write committed: whatever happens
    here is logged, never raised into the request.
    """
    if not messages:
        return
    try:
        async_to_sync(send_batch)(list(messages))
    except Exception as error:  # noqa: BLE001 - e.g. called in a thread that runs a loop of its own
        _health.failed(error)


async def send_batch(messages: list[Outgoing]) -> None:
    """Send ``messages`` in order within one deadline per Redis server (the
    servers side by side); a failure is logged, never raised."""
    layer = get_channel_layer()
    if shard_count(layer) == 1:
        return await _send_to_shard(0, messages)
    parts: dict[int, list[Outgoing]] = {}
    for group, message in messages:
        parts.setdefault(shard_of(layer, group), []).append((group, message))
    await asyncio.gather(*(_send_to_shard(shard, part) for shard, part in parts.items()))


async def _send_to_shard(shard: int, messages: list[Outgoing]) -> None:
    health = _health_of(shard)
    if health.should_skip():
        metrics.stats.published_dropped += len(messages)
        return
    try:
        await asyncio.wait_for(_send_all(messages), settings.PUBLISH_TIMEOUT_SECONDS)
    except Exception as error:  # noqa: BLE001 - the events are stored; the streams catch up
        health.failed(error)
        metrics.stats.publish_failures += 1
        metrics.stats.published_dropped += len(messages)
    else:
        health.succeeded()
        metrics.stats.published += len(messages)


async def _send_all(messages: list[Outgoing]) -> None:
    retried = False
    for group, message in messages:
        try:
            await _send(group, message)
        except (ConnectionError, OSError):
            if retried:
                raise
            # The first command on a pooled connection that Redis closed while
            # restarting fails; one more try gets a fresh connection.
            retried = True
            await _send(group, message)


async def _send(group: str, message: dict) -> None:
    await get_channel_layer().group_send(group, message)
