"""Django's Redis cache backend, with one connection pool per process.

Django keeps its cache backends in an ``asgiref.local.Local`` that follows the
request's context, and under ASGI every request runs in a context of its
own (``fiido/handler.py`` copies the server's, as Django's handler does). So
every request that used the cache built a new ``RedisCache``, a new
connection pool and a new connection to Redis, with redis-py's handshake
(which reads redis-py's own package metadata from disk each time), and left
the connection for the garbage collector to close: every customer message
(its two rate limits) paid ≈ 1.5 CPU-ms for it (``bench/NOTES.md``, third
round).

Here the backend instances still come and go with the request, as Django
makes them, but all of them share one ``RedisCacheClient`` (and so its pools
and their connections) per location and options, for the process's life;
and that client keeps one ``redis.Redis`` per pool, where Django's made one
per command (building redis-py's table of response callbacks each time; a
rate limit is up to three commands). A ``redis.Redis`` is safe to share
between threads: it takes a connection from its pool per command. Everything
else is Django's ``RedisCache``.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

_clients: dict[tuple, RedisCacheClient] = {}
_clients_lock = threading.Lock()


class SharedRedisCacheClient(RedisCacheClient):
    """Django's client, with one ``redis.Redis`` per connection pool."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._redis: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._redis.get(id(pool))
        if client is None:  # two threads may both make one: either will do
            client = self._redis.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: Any, params: dict) -> None:
        super().__init__(server, params)
        self._class = SharedRedisCacheClient

    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = (self._class, tuple(self._servers), repr(sorted(self._options.items())))
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client
