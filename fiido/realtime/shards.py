"""Which Redis server of the channel layer carries a group.

channels_redis spreads groups over its host list by a hash of a name (the
pub/sub layer hashes the group's pub/sub channel, the core layer the group's
name). The hub and the publisher ask the layer itself, so they follow its
rule exactly (``tests/realtime/test_shards.py`` checks it against where
messages really land): a server that is down then degrades only the groups
it carries.
"""

from __future__ import annotations

from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer


def shard_count(layer) -> int:
    """How many Redis servers ``layer`` spreads its groups over (1 in memory)."""
    if isinstance(layer, RedisPubSubChannelLayer):
        return len(layer._get_layer()._shards)
    if isinstance(layer, RedisChannelLayer):
        return layer.ring_size
    return 1


def shard_of(layer, group: str) -> int:
    """The index, in the layer's host list, of the server that carries ``group``.

    Must run on the event loop the layer is used from (the pub/sub layer keeps
    one connection set per loop).
    """
    if isinstance(layer, RedisPubSubChannelLayer):
        inner = layer._get_layer()
        shards = inner._shards
        if len(shards) == 1:
            return 0
        return shards.index(inner._get_shard(inner._get_group_channel_name(group)))
    if isinstance(layer, RedisChannelLayer):
        return layer.consistent_hash(group)
    return 0
