"""One channel-layer subscription per process, fanned out to its streams.

A stream never touches the layer itself: it registers a ``Subscription`` with
the hub, and the hub's single reader task pushes each event (encoded once)
into the inbox of every local subscription of that group. Reading the layer
from one long-lived task also avoids cancelling ``receive()``, which makes
channels_redis drop queues and subscriptions (DESIGN §6, known traps).

The hub's clock ticks once a second. It checks Redis (when configured), and
when the layer is down, or a heartbeat is due, it asks the app's *probe* for
each group's newest seq and tells the streams that are behind to catch up
from the database. After an outage it joins its groups again (the core layer
forgets them when Redis restarts) and makes every stream catch up.

With several Redis servers (the layer's groups spread over them) each is
checked on its own: one that is down degrades only the streams whose groups
it carries, and only they poll the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from fiido import metrics
from fiido.realtime.groups import WAITING_GROUP
from fiido.realtime.publish import LAYER_MESSAGE_TYPE, publisher
from fiido.realtime.shards import shard_of
from fiido.realtime.sse import encode
from fiido.redis_config import configured_hosts, describe, probe_client

logger = logging.getLogger(__name__)

CLOCK_SECONDS = 1.0  # how often the hub checks the layer; also the polling period while degraded
LAYER_CALL_TIMEOUT = 2.0  # a group_add that takes longer counts as a layer failure
RECOVERY_GRACE_SECONDS = 3.0  # keep polling briefly after an outage while subscriptions settle
INBOX_LIMIT = 500  # a stream further behind than this is told to catch up from the database instead

Probe = Callable[[list[str]], dict[str, int]]
_probe: Probe | None = None
# Renders a stored event (JSON text) for a reader of a language.
Localizer = Callable[[str, str], str]
_localizer: Localizer | None = None


# Reads every waiting conversation's place in the queue: {session name: position}.
Positions = Callable[[], dict[str, int]]
_positions: Positions | None = None


def register_probe(probe: Probe) -> None:
    """Install the app's look-up of each group's newest seq (one query for many groups)."""
    global _probe
    _probe = probe


def register_positions(positions: Positions) -> None:
    """Install the app's read of the queue's order (one query for every waiting conversation)."""
    global _positions
    _positions = positions


def register_localizer(localizer: Localizer) -> None:
    """Install the app's rendering of an event for a reader of another language."""
    global _localizer
    _localizer = localizer


async def db_call(function: Callable, *args):
    """Run a short database read on the shared thread pool.

    ``thread_sensitive=False`` keeps stream reads off the request's
    thread-sensitive context, so no thread or connection is held per stream.
    Each pool thread keeps its own connection between calls (the pool is
    small and fixed, so this is a bounded pool of connections): opening one
    per call cost a quarter of a worker's CPU while streams connected. A
    connection the database dropped (a restart, an idle timeout) is replaced
    and the read retried once.
    """

    def run():
        try:
            return function(*args)
        except (InterfaceError, OperationalError):
            connection.close()
            return function(*args)
        finally:
            if connection.settings_dict["OPTIONS"].get("pool"):
                connection.close()  # back to the pool (DATABASE_POOL): the pool bounds connections, not threads

    return await sync_to_async(run, thread_sensitive=False)()


class Envelope:
    """One published event, shared by every local stream of its group.

    Encoded once per language in use among those streams: the stored event
    is in the default language, and the app's localizer renders it for others.
    """

    __slots__ = ("_frames", "at", "audience", "data", "final", "group", "seq")

    def __init__(
        self,
        seq: int,
        data: str,
        final: bool = False,
        group: str = "",
        at: float | None = None,
        audience: str = "",
    ) -> None:
        self.seq = seq  # its number in its group's log; 0 for a notice (no log)
        self.data = data
        self.final = final  # the stream's last frame: sent without an id, then the stream ends
        self.group = group
        self.at = at  # when it was published (time.time()), for the delivery lag metric
        self.audience = audience  # "customers": not for agents' streams of the group (their own typing)
        self._frames: dict[tuple[str | None, bool], bytes] = {}

    def with_id(self, language: str | None = None) -> bytes:
        return self._frame(language, True)

    def without_id(self, language: str | None = None) -> bytes:
        return self._frame(language, False)

    def _frame(self, language: str | None, with_id: bool) -> bytes:
        key = (language, with_id)
        frame = self._frames.get(key)
        if frame is None:
            data = self.data if language is None or _localizer is None else _localizer(self.data, language)
            frame = self._frames[key] = encode(data, id=self.seq) if with_id else encode(data)
        return frame


class Signal:
    """A hub notice that is not an event: a heartbeat or a catch-up request."""

    __slots__ = ("frame",)

    def __init__(self, frame: bytes | None = None) -> None:
        self.frame = frame


CATCH_UP = Signal()
RECHECK = Signal()  # at each heartbeat, to streams that must re-check their viewer's access


# Writes one frame to a stream's client at once; False when it cannot (the
# client is gone or behind), and the frame must take the stream's own path.
DirectWrite = Callable[[bytes], bool]


class Subscription:
    """A stream's place in the hub: its group, its last sent seq, its inbox.

    A session stream that is idle (parked in ``get()`` with nothing queued)
    and has a ``direct`` writer gets its next event, or a heartbeat, written
    by ``push`` itself, from the hub's dispatch: no task wake-up, no trip
    through the stream's generator. That is the whole cost of fan-out, so it
    matters at a thousand streams of one conversation, and a heartbeat to
    ten thousand idle streams stays a few milliseconds. Anything else (a gap,
    a stream still sending its backlog, a client that is behind) queues as
    usual, and the stream's task handles it in order.
    """

    __slots__ = (
        "__weakref__",
        "_items",
        "_waiter",
        "also",
        "direct",
        "group",
        "language",
        "last",
        "recheck",
        "side",
        "side_last",
        "watch",
        "watched",
    )

    def __init__(
        self,
        group: str,
        direct: DirectWrite | None = None,
        *,
        also: tuple[str, ...] = (),
        recheck: bool = False,
        language: str | None = None,
        side: str | None = None,
        watch: str | None = None,
    ) -> None:
        self.group = group  # the group whose events (by seq) this stream sends, with ids
        self.side = side  # a second numbered log it sends without ids (agents' notes), or None
        self.side_last = 0
        self.language = language  # its reader's; None: events as stored
        self.also = also  # groups it only takes final notices from (an agent's login session)
        self.recheck = recheck  # woken at each heartbeat to re-check who is watching
        self.last = 0
        self.watch = watch  # the conversation whose queue position this stream is told (a customer's)
        self.watched: int | None = None  # the position it was last told
        self.direct = direct
        self._items: deque | None = None  # made when something queues: most streams never queue anything
        self._waiter: asyncio.Future | None = None

    def push(self, item: Envelope | Signal) -> bool:
        """Hand ``item`` to the stream; True when it was written to the client here and now."""
        items = self._items
        waiter = self._waiter
        if type(item) is Envelope and item.audience and self.side is not None:
            return False  # a customers-only notice; agents' streams (those with a side log) skip it
        if self.direct is not None and not items and waiter is not None and not waiter.done():
            # Parked with nothing queued: everything up to ``last`` is written.
            if type(item) is Envelope:
                if item.group == self.group and item.seq == self.last + 1 and self._write(item.with_id(self.language)):
                    self.last = item.seq
                    return True
                if item.seq == 0 and not item.final and self._write(item.without_id(self.language)):
                    return False  # a notice (typing, an alert): not an event, no lag to measure
            elif item.frame is not None and self._write(item.frame):
                return False  # a heartbeat, a queue position
        if items is None:
            items = self._items = deque()
        elif len(items) >= INBOX_LIMIT:
            # Too far behind: drop what is queued and re-read the database.
            items.clear()
            item = CATCH_UP
        items.append(item)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return False

    def _write(self, frame: bytes) -> bool:
        try:
            return self.direct(frame)
        except Exception:  # noqa: BLE001 - the stream's own path sends it, or sees the connection go
            _report_direct_write_failure()
            return False

    async def get(self) -> Envelope | Signal:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        items = self._items
        item = items.popleft()
        if not items:
            self._items = None  # an empty deque still holds a block of 64 slots
        return item


class Hub:
    """The per-process owner of the channel layer subscription."""

    def __init__(self, layer) -> None:
        self.layer = layer
        # The layer's Redis servers (fiido/redis_config.py); none in memory.
        self.hosts = configured_hosts() if not isinstance(layer, InMemoryChannelLayer) else []
        self.groups: dict[str, set[Subscription]] = {}
        self.channel: str | None = None
        self.down: set[int] = set()  # servers (by index in hosts) the hub cannot reach
        self._channel_ready = asyncio.Event()
        self._joins: dict[str, asyncio.Future] = {}
        self._polling_until: dict[int, float] = {}  # server -> keep polling its groups until (after recovery)
        self._next_heartbeat = time.monotonic() + settings.SSE_HEARTBEAT_SECONDS
        self._background: set[asyncio.Task] = set()
        self._positions_task: asyncio.Task | None = None
        self._positions_stale = False
        self._tasks = [
            asyncio.ensure_future(self._read()),
            asyncio.ensure_future(self._clock()),
        ]

    # -- public --------------------------------------------------------------
    @property
    def degraded(self) -> bool:
        """Some Redis server of the layer is unreachable (its streams poll the database)."""
        return bool(self.down)

    @property
    def state(self) -> str:
        if not self.hosts:
            return "in-memory"
        return "degraded" if self.down else "redis"

    async def subscribe(
        self,
        group: str,
        direct: DirectWrite | None = None,
        *,
        also: tuple[str, ...] = (),
        recheck: bool = False,
        language: str | None = None,
        side: str | None = None,
        watch: str | None = None,
    ) -> Subscription:
        """Register a stream for ``group`` (its ``side`` log and the notice groups
        ``also`` too); live events flow once this returns. ``recheck`` streams get
        ``RECHECK`` at every heartbeat; ``language`` is the reader's; a stream that
        ``watch``es a conversation is told its queue position whenever it changes."""
        subscription = Subscription(
            group, direct, also=also, recheck=recheck, language=language, side=side, watch=watch
        )
        joins = []
        for name in _groups_of(subscription):
            members = self.groups.get(name)
            if members is None:
                members = self.groups[name] = set()
                self._joins[name] = asyncio.ensure_future(self._join(name))
            members.add(subscription)
            if name in self._joins:
                joins.append(self._joins[name])
        for join in joins:
            await asyncio.shield(join)
        if watch is not None:
            self.refresh_positions()  # its first position, read with any others due
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a stream; the last one out of a group leaves the layer group."""
        for name in _groups_of(subscription):
            members = self.groups.get(name)
            if members is None:
                continue
            members.discard(subscription)
            if not members:
                del self.groups[name]
                self._joins.pop(name, None)
                self._spawn(self._leave(name))

    def stop(self) -> None:
        for task in [*self._tasks, *self._background]:
            task.cancel()

    # -- layer ---------------------------------------------------------------
    async def _join(self, group: str) -> None:
        try:
            await asyncio.wait_for(self._channel_ready.wait(), LAYER_CALL_TIMEOUT)
            await asyncio.wait_for(self.layer.group_add(group, self.channel), LAYER_CALL_TIMEOUT)
        except Exception as error:  # noqa: BLE001 - streams poll until the hub rejoins
            self._set_degraded(error, self._shard(group) if self.channel is not None else None)
        finally:
            self._joins.pop(group, None)

    async def _leave(self, group: str) -> None:
        if group in self.groups or self.channel is None:
            return  # a new stream joined meanwhile
        try:
            await asyncio.wait_for(self.layer.group_discard(group, self.channel), LAYER_CALL_TIMEOUT)
        except Exception:
            logger.debug("group_discard(%s) failed", group, exc_info=True)

    async def _read(self) -> None:
        backoff = 0.1
        while True:
            try:
                if self.channel is None:
                    self.channel = await self.layer.new_channel(prefix="fiido.hub.")
                    self._channel_ready.set()
                message = await self.layer.receive(self.channel)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001
                self._set_degraded(error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            try:
                self._dispatch(message)
            except Exception:
                # Never let one bad message stop this process's live delivery.
                logger.exception("Dispatching a layer message failed")

    def _dispatch(self, message: dict) -> None:
        if message.get("type") != LAYER_MESSAGE_TYPE:
            return
        if message["group"] == WAITING_GROUP:
            self.refresh_positions()  # a doorbell, for the hub itself
            return
        members = self.groups.get(message["group"])
        if members:
            at = message.get("at")
            envelope = Envelope(
                message["seq"],
                message["data"],
                message.get("final", False),
                message["group"],
                at,
                message.get("audience", ""),
            )
            written = 0
            for subscription in members:
                if subscription.push(envelope):
                    written += 1
            if written and at is not None:
                metrics.observe_lag(at, written)  # one bucket update for all the streams written here

    # -- queue positions -----------------------------------------------------
    def refresh_positions(self) -> None:
        """Re-read the queue's order (once, however many doorbells rang meanwhile)
        and tell each watching stream whose position changed."""
        if _positions is None or WAITING_GROUP not in self.groups:
            return
        if self._positions_task is not None and not self._positions_task.done():
            self._positions_stale = True  # read again when this read is done
            return
        self._positions_task = asyncio.ensure_future(self._read_positions())

    async def _read_positions(self) -> None:
        while True:
            self._positions_stale = False
            try:
                positions = await db_call(_positions)
            except Exception:
                logger.exception("Reading queue positions failed")
                return
            for subscription in list(self.groups.get(WAITING_GROUP, ())):
                position = positions.get(subscription.watch)
                if position != subscription.watched:
                    subscription.watched = position
                    if position is not None:
                        subscription.push(Signal(encode(_position_event(subscription.watch, position))))
            if not self._positions_stale:
                return

    # -- clock ---------------------------------------------------------------
    async def _clock(self) -> None:
        clients = [probe_client(host) for host in self.hosts]
        while True:
            await asyncio.sleep(CLOCK_SECONDS)
            try:
                if clients:
                    await self._check_layer(clients)
                now = time.monotonic()
                heartbeat_due = now >= self._next_heartbeat
                if heartbeat_due:
                    self._next_heartbeat = now + settings.SSE_HEARTBEAT_SECONDS
                polled = self.down | {shard for shard, until in self._polling_until.items() if now < until}
                if heartbeat_due:
                    await self._catch_up_lagging()
                elif polled:
                    await self._catch_up_lagging(polled)
                if heartbeat_due or polled:
                    self.refresh_positions()
                if heartbeat_due:
                    self._broadcast(Signal(encode({"type": "heartbeat", "at": _now_iso()})))
                    for subscription in self._streams():
                        if subscription.recheck:
                            subscription.push(RECHECK)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Realtime hub clock tick failed")

    async def _check_layer(self, clients: list) -> None:
        """Ping every Redis server at once; recover those that answer again."""
        answers = await asyncio.gather(*(client.ping() for client in clients), return_exceptions=True)
        for shard, answer in enumerate(answers):
            if isinstance(answer, BaseException):
                self._set_degraded(answer, shard)
            elif shard in self.down:
                await self._recover(shard)

    async def _recover(self, shard: int) -> None:
        """Join the server's groups again, then make their streams re-read the database."""
        if self.channel is None:
            return  # the reader has not got a channel yet; try again next tick
        groups = [group for group in list(self.groups) if self._shard(group) == shard]
        try:
            for group in groups:
                await asyncio.wait_for(self.layer.group_add(group, self.channel), LAYER_CALL_TIMEOUT)
        except Exception as error:  # noqa: BLE001
            logger.debug("Rejoining groups failed: %s", error)
            return
        self.down.discard(shard)
        self._polling_until[shard] = time.monotonic() + RECOVERY_GRACE_SECONDS
        logger.warning("Channel layer reachable again%s; %d groups rejoined.", self._name(shard), len(groups))
        for subscription in self._streams():
            if self._shard(subscription.group) == shard:
                subscription.push(CATCH_UP)

    def _set_degraded(self, error: BaseException, shard: int | None = None) -> None:
        """Mark one server (or, when the failure names none, every one) as down."""
        shards = set(range(len(self.hosts) or 1)) if shard is None else {shard}
        for index in sorted(shards - self.down):
            logger.warning(
                "Channel layer unavailable%s (%s); its streams read the database every %.0f s.",
                self._name(index),
                error or type(error).__name__,
                CLOCK_SECONDS,
            )
        self.down |= shards

    def _shard(self, group: str) -> int:
        if len(self.hosts) < 2:
            return 0
        return shard_of(self.layer, group)

    def _name(self, shard: int) -> str:
        return f" ({describe(self.hosts[shard])})" if len(self.hosts) > 1 else ""

    async def _catch_up_lagging(self, shards: set[int] | None = None) -> None:
        """Tell every stream whose group has events it has not sent to catch up
        (only those whose groups the servers ``shards`` carry, when given)."""
        streams = list(self._streams())
        if shards is not None and len(self.hosts) > 1:
            streams = [s for s in streams if self._shard(s.group) in shards]
        if not streams:
            return
        if _probe is None:
            self._broadcast(CATCH_UP)
            return
        groups = {subscription.group for subscription in streams}
        groups.update(subscription.side for subscription in streams if subscription.side)
        latest = await db_call(_probe, list(groups))
        for subscription in streams:
            newest = latest.get(subscription.group)
            behind = newest is None or subscription.last < newest
            if subscription.side and subscription.side_last < latest.get(subscription.side, 0):
                behind = True
            if behind:
                subscription.push(CATCH_UP)

    def _broadcast(self, item: Envelope | Signal) -> None:
        for subscription in self._streams():
            subscription.push(item)

    def _streams(self) -> Iterable[Subscription]:
        """Every local stream once (a stream is in its notice groups too)."""
        for name, members in list(self.groups.items()):
            for subscription in list(members):
                if subscription.group == name:
                    yield subscription

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _groups_of(subscription: Subscription) -> tuple[str, ...]:
    side = (subscription.side,) if subscription.side else ()
    watch = (WAITING_GROUP,) if subscription.watch else ()
    return (subscription.group, *side, *subscription.also, *watch)


def _position_event(name: str, position: int) -> dict:
    return {"type": "queue_position", "session_name": name, "position": position}


_direct_write_failed = False


def _report_direct_write_failure() -> None:
    """Once per process: a direct write raised, which means daphne or Twisted
    no longer look as fiido/realtime/daphne_io.py expects (the stream's own
    path still delivers, slower)."""
    global _direct_write_failed
    if not _direct_write_failed:
        _direct_write_failed = True
        logger.warning("Direct socket writes failed; streams fall back to their own path.", exc_info=True)
    else:
        logger.debug("Direct write failed; the stream takes it", exc_info=True)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """This event loop's hub, started on first use."""
    loop = asyncio.get_running_loop()
    layer = get_channel_layer()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        if hub is not None:
            hub.stop()
        hub = _hubs[loop] = Hub(layer)
        publisher.attach(loop)
    return hub


def all_hubs() -> list[Hub]:
    """Every running hub of this process (one per server loop; for metrics)."""
    return list(_hubs.values())


def current_hub() -> Hub | None:
    """This event loop's hub if one is running (for health checks and tests)."""
    try:
        return _hubs.get(asyncio.get_running_loop())
    except RuntimeError:
        return None
