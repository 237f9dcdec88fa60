"""The hub and the publisher name the Redis server that carries a group the
way channels_redis itself places it (both layers), checked against where the
layer's writes really land on two real servers."""

from __future__ import annotations

import pytest
import redis
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

from fiido.realtime.shards import shard_count, shard_of
from tests.support import RedisServer, eventually

pytestmark = [pytest.mark.redis]

GROUPS = [f"session.conversation-{i}" for i in range(24)]


@pytest.fixture
def two_servers():
    servers = [RedisServer().start(), RedisServer().start()]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


async def test_pubsub_groups_are_published_on_the_server_shard_of_names(two_servers):
    layer = RedisPubSubChannelLayer(hosts=[{"address": s.url} for s in two_servers], prefix="shardtest")
    listeners = []
    for server in two_servers:
        pubsub = redis.Redis.from_url(server.url).pubsub()
        pubsub.psubscribe("shardtest*")
        pubsub.get_message(timeout=1)  # the psubscribe confirmation
        listeners.append(pubsub)
    try:
        assert shard_count(layer) == 2
        expected = {group: shard_of(layer, group) for group in GROUPS}
        assert set(expected.values()) == {0, 1}, "both servers carry some groups"
        for group in GROUPS:
            await layer.group_send(group, {"type": "probe", "group": group})
        landed: dict[str, int] = {}

        def drain() -> bool:
            for index, pubsub in enumerate(listeners):
                while (message := pubsub.get_message(timeout=0.01)) is not None:
                    if message["type"] == "pmessage":
                        channel = message["channel"].decode()
                        landed[channel.split("__group__", 1)[1]] = index
            return len(landed) == len(GROUPS)

        await eventually(drain, what="every group's message on some server")
        assert landed == expected
    finally:
        await layer.flush()
        for pubsub in listeners:
            pubsub.close()


async def test_core_groups_live_on_the_server_shard_of_names(two_servers):
    layer = RedisChannelLayer(hosts=[{"address": s.url} for s in two_servers], prefix="shardtest")
    channel = await layer.new_channel()
    try:
        assert shard_count(layer) == 2
        for group in GROUPS:
            await layer.group_add(group, channel)
        clients = [redis.Redis.from_url(s.url) for s in two_servers]
        for group in GROUPS:
            where = [index for index, client in enumerate(clients) if client.exists(f"shardtest:group:{group}")]
            assert where == [shard_of(layer, group)], group
    finally:
        await layer.flush()


def test_the_in_memory_layer_has_one_shard():
    from channels.layers import InMemoryChannelLayer

    layer = InMemoryChannelLayer()
    assert shard_count(layer) == 1 and shard_of(layer, "session.x") == 0
