"""The Redis cache backend (fiido/cache.py): Django's, with one connection pool per process,
whatever context a request's backend instance is made in."""

from __future__ import annotations

import contextvars

import pytest
from django.core.cache import caches

from fiido.cache import RedisCache

pytestmark = pytest.mark.redis


def test_every_requests_backend_shares_one_client_and_one_connection(redis_url, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "fiido.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "fiido-test-cache",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }

    def one_request(n: int):
        # As under ASGI: each request in a context of its own, where Django makes its cache backends.
        cache = caches["default"]
        assert isinstance(cache, RedisCache)
        cache.set(f"key-{n}", n, 10)
        assert cache.get(f"key-{n}") == n
        return cache

    backends = [contextvars.copy_context().run(one_request, n) for n in range(5)]
    assert len({id(backend) for backend in backends}) == 5  # Django's: one per context
    assert len({id(backend._cache) for backend in backends}) == 1  # ours: one client, one pool
    (pool,) = backends[0]._cache._pools.values()
    assert len(pool._available_connections) + len(pool._in_use_connections) == 1
    assert len({id(backend._cache.get_client(write=True)) for backend in backends}) == 1  # one redis.Redis


def test_other_locations_or_options_get_their_own_client(redis_url):
    one = RedisCache(redis_url, {"OPTIONS": {"socket_timeout": 0.5}})
    same = RedisCache(redis_url, {"OPTIONS": {"socket_timeout": 0.5}})
    other = RedisCache(redis_url, {"OPTIONS": {"socket_timeout": 0.25}})
    assert one._cache is same._cache and other._cache is not one._cache
