"""Who is online: the users (agents) with at least one stream open, on any worker.

Presence follows the streams, so nobody has to log out: each process counts
its own open streams per user. With Redis, every process records the users it
serves in ``<prefix>:presence:<user id>`` (a sorted set: worker id -> expiry,
Redis's own clock), refreshed at each heartbeat, and the set
``<prefix>:presence:online`` holds who counts as online. A process whose last
stream of a user closes takes itself out; one that dies stops refreshing, and
every process's sweep (each clock second) drops entries once they expire, 1.5
heartbeats after their last refresh: a user whose worker died is offline
within two heartbeat intervals. Moving a user in or out of the online set is
an atomic SADD or SREM inside a Lua script, so exactly one process sees each
change and announces it (the app's announcer, installed with
``register_announcer``). Without Redis, the one process is the truth.

A last stream that closes counts only after ``LEAVE_GRACE_SECONDS``: going
from one workbench page to the next closes a page's streams and opens the
next page's, which must not flash "offline" to the team.

Like the hub (DESIGN §6, known traps): one task per process, no thread or
query per stream; announcements (which read the database) run on the shared
pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
import weakref
from collections.abc import AsyncIterator, Callable

from django.conf import settings

logger = logging.getLogger(__name__)

CLOCK_SECONDS = 1.0
LEAVE_GRACE_SECONDS = 3.0
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

# Told (in a pool thread) when a user comes online (True) or goes offline (False), once across workers.
Announcer = Callable[[int, bool], None]
_announcer: Announcer | None = None

_JOIN = """
local t = redis.call('time')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('zadd', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('pexpire', KEYS[1], tonumber(ARGV[2]) * 2)
return redis.call('sadd', KEYS[2], ARGV[3])
"""
_LEAVE = """
local t = redis.call('time')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('zrem', KEYS[1], ARGV[1])
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
if redis.call('zcard', KEYS[1]) == 0 then return redis.call('srem', KEYS[2], ARGV[2]) end
return 0
"""
_SWEEP = """
local t = redis.call('time')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local gone = {}
for _, user in ipairs(redis.call('smembers', KEYS[1])) do
  local key = ARGV[1] .. user
  redis.call('zremrangebyscore', key, '-inf', now)
  if redis.call('zcard', key) == 0 then
    redis.call('srem', KEYS[1], user)
    table.insert(gone, user)
  end
end
return gone
"""
# Read-only: who in the online set still has an unexpired entry. A reader must not trust the
# set alone: after every process of a deployment stopped at once, nobody is left to sweep it.
_ONLINE = """
local t = redis.call('time')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local live = {}
for _, user in ipairs(redis.call('smembers', KEYS[1])) do
  if redis.call('zcount', ARGV[1] .. user, '(' .. now, '+inf') > 0 then table.insert(live, user) end
end
return live
"""


def _uses_redis() -> bool:
    from fiido.redis_config import configured_hosts

    return bool(configured_hosts())


def register_announcer(announcer: Announcer) -> None:
    global _announcer
    _announcer = announcer


def _namespace() -> str:
    """Keys of this deployment (its Redis prefix) and database: two test runs
    sharing a Redis, or SQLite and PostgreSQL suites back to back, never see
    each other's users (ids repeat across databases)."""
    database = settings.DATABASES["default"]["NAME"]
    return f"{settings.REDIS_PREFIX}:presence:{database}:"


class _LocalStore:
    """One process: its own counts are the whole truth."""

    def __init__(self) -> None:
        self.online: set[int] = set()

    async def join(self, user_id: int) -> bool:
        new = user_id not in self.online
        self.online.add(user_id)
        return new

    async def leave(self, user_id: int) -> bool:
        gone = user_id in self.online
        self.online.discard(user_id)
        return gone

    async def sweep(self) -> list[int]:
        return []

    def online_ids(self) -> set[int]:
        return set(self.online)


class _RedisStore:
    """On the first configured Redis server (a Sentinel set follows its master)."""

    def __init__(self) -> None:
        from fiido.redis_config import configured_hosts, probe_client

        self.prefix = _namespace()
        self.online_key = self.prefix + "online"
        self.client = probe_client(configured_hosts()[0])
        self.ttl_ms = int(settings.SSE_HEARTBEAT_SECONDS * 1500)  # refreshed every heartbeat
        self._join = self.client.register_script(_JOIN)
        self._leave = self.client.register_script(_LEAVE)
        self._sweep = self.client.register_script(_SWEEP)

    async def join(self, user_id: int) -> bool:
        keys = [self.prefix + str(user_id), self.online_key]
        return bool(await self._join(keys=keys, args=[WORKER_ID, self.ttl_ms, user_id]))

    async def leave(self, user_id: int) -> bool:
        keys = [self.prefix + str(user_id), self.online_key]
        return bool(await self._leave(keys=keys, args=[WORKER_ID, user_id]))

    async def sweep(self) -> list[int]:
        return [int(user) for user in await self._sweep(keys=[self.online_key], args=[self.prefix])]


class Presence:
    """This process's open streams per user, and its part in the shared record."""

    def __init__(self) -> None:
        self.store = _RedisStore() if _uses_redis() else _LocalStore()
        self.counts: dict[int, int] = {}
        self._leaving: dict[int, asyncio.TimerHandle] = {}
        self._background: set[asyncio.Task] = set()
        self._failing = False
        self._task = asyncio.ensure_future(self._clock())

    @contextlib.asynccontextmanager
    async def connected(self, user_id: int) -> AsyncIterator[None]:
        """While the block runs, ``user_id`` has a stream open here."""
        self._opened(user_id)
        try:
            yield
        finally:
            self._closed(user_id)

    def _opened(self, user_id: int) -> None:
        self.counts[user_id] = self.counts.get(user_id, 0) + 1
        pending = self._leaving.pop(user_id, None)
        if pending is not None:
            pending.cancel()  # back within the grace period: never counted as gone
        elif self.counts[user_id] == 1:
            self._spawn(self._join(user_id))

    def _closed(self, user_id: int) -> None:
        self.counts[user_id] -= 1
        if self.counts[user_id] == 0:
            del self.counts[user_id]
            loop = asyncio.get_running_loop()
            self._leaving[user_id] = loop.call_later(LEAVE_GRACE_SECONDS, self._left, user_id)

    def _left(self, user_id: int) -> None:
        self._leaving.pop(user_id, None)
        if user_id not in self.counts:
            self._spawn(self._leave(user_id))

    async def _join(self, user_id: int) -> None:
        if await self._store_call(self.store.join(user_id)):
            await _announce(user_id, True)

    async def _leave(self, user_id: int) -> None:
        if await self._store_call(self.store.leave(user_id)):
            await _announce(user_id, False)

    async def _clock(self) -> None:
        ticks_per_refresh = max(1, round(settings.SSE_HEARTBEAT_SECONDS / CLOCK_SECONDS))
        tick = 0
        while True:
            await asyncio.sleep(CLOCK_SECONDS)
            tick += 1
            try:
                if tick % ticks_per_refresh == 0:
                    for user_id in list(self.counts):
                        await self._join(user_id)  # refresh; announces if a sweep had dropped it
                for user_id in await self._store_call(self.store.sweep()) or []:
                    await _announce(user_id, False)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Presence clock tick failed")

    async def _store_call(self, call):
        try:
            result = await call
        except Exception as error:  # noqa: BLE001 - presence is best effort while Redis is away
            if not self._failing:
                logger.warning("Presence cannot reach Redis (%s); agents may show offline until it returns.", error)
            self._failing = True
            return None
        self._failing = False
        return result

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def stop(self) -> None:
        self._task.cancel()
        for task in self._background:
            task.cancel()


async def _announce(user_id: int, online: bool) -> None:
    if _announcer is None:
        return
    from fiido.realtime.hub import db_call

    try:
        await db_call(_announcer, user_id, online)
    except Exception:
        logger.exception("Announcing the presence of user %s failed", user_id)


_presences: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Presence] = weakref.WeakKeyDictionary()
_local = _LocalStore()  # where no server loop runs (tests, shells): nobody is connected


def get_presence() -> Presence:
    """This event loop's presence tracker, started on first use."""
    loop = asyncio.get_running_loop()
    presence = _presences.get(loop)
    if presence is None:
        presence = _presences[loop] = Presence()
    return presence


_sync_client = None


def online_ids() -> set[int]:
    """The users online on any worker (a short Redis read; call it off the event loop)."""
    global _sync_client
    if _uses_redis():
        from fiido.redis_config import configured_hosts, sync_client

        if _sync_client is None:
            _sync_client = sync_client(configured_hosts()[0])
        try:
            prefix = _namespace()
            return {int(user) for user in _sync_client.eval(_ONLINE, 1, prefix + "online", prefix)}
        except Exception as error:  # noqa: BLE001 - nobody counts as online while Redis is away
            logger.warning("Presence cannot reach Redis (%s)", error)
            return set()
    for presence in list(_presences.values()):
        return presence.store.online_ids()
    return _local.online_ids()
