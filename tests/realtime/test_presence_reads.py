"""Reading who is online trusts each user's unexpired entries, not the online
set alone: when every process of a deployment stops at once (a restart, a
test run's workers killed), nobody is left to sweep the set."""

from __future__ import annotations

import pytest
import redis

from fiido.realtime import presence

pytestmark = pytest.mark.redis


def test_a_user_whose_every_entry_expired_is_not_online(settings, redis_url, monkeypatch):
    settings.REDIS_URL = redis_url
    monkeypatch.setattr(presence, "_sync_client", None)
    client = redis.Redis.from_url(redis_url)
    prefix = presence._namespace()
    seconds, micros = client.time()
    now_ms = seconds * 1000 + micros // 1000
    stale, live = 990_001, 990_002
    client.sadd(prefix + "online", stale, live)
    client.zadd(prefix + str(stale), {"a-worker-that-died": now_ms - 1_000})
    client.zadd(prefix + str(live), {"a-worker-still-here": now_ms + 60_000})
    try:
        online = presence.online_ids()
        assert live in online
        assert stale not in online
        assert client.sismember(prefix + "online", stale)  # a read changes nothing; the sweep does that
    finally:
        client.srem(prefix + "online", stale, live)
        client.delete(prefix + str(stale), prefix + str(live))
        client.close()
