"""Redis over TLS: a redis-server that speaks only TLS and requires a client
certificate (a CA made by the test); the workers reach it with ``rediss://``
and ``REDIS_TLS_*`` for the channel layer, the cache and the health probe."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support import SSEReader, customer
from tests.support_redis import Tls, TlsRedisServer

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


@pytest.fixture
def tls_redis(tmp_path):
    server = TlsRedisServer(Tls(tmp_path)).start()
    try:
        yield server
    finally:
        server.stop()


def test_the_server_refuses_a_client_without_its_certificate(tls_redis):
    import redis

    anonymous = redis.Redis(port=tls_redis.port, ssl=True, ssl_ca_certs=str(tls_redis.tls.ca), socket_timeout=2)
    with pytest.raises(redis.exceptions.ConnectionError):
        anonymous.ping()
    plain = redis.Redis(port=tls_redis.port, socket_timeout=2)
    with pytest.raises(redis.exceptions.ConnectionError):
        plain.ping()


def test_workers_share_events_and_rate_limits_through_a_tls_redis(workers, tls_redis):
    tls = tls_redis.tls
    first, second = workers(
        2,
        REDIS_URL=tls_redis.url,
        REDIS_TLS_CA_FILE=str(tls.ca),
        REDIS_TLS_CERT_FILE=str(tls.client_cert),
        REDIS_TLS_KEY_FILE=str(tls.client_key),
        REDIS_PREFIX=f"tls-{uuid.uuid4().hex}",
        RATE_LIMIT_SESSIONS="3/h",
    )
    for worker in (first, second):
        assert httpx.get(f"{worker.url}/healthz").json() == {"database": "ok", "channel_layer": "redis"}

    visitor, name = customer(first.url)
    reader = SSEReader(f"{second.url}/api/sessions/{name}/events", cookies=visitor.client.cookies).wait_connected()
    try:
        reader.wait_for(lambda r: r.of_type("history"), what="the opening history")
        sent = visitor.post(f"/api/sessions/{name}/messages", {"content": "over TLS"}).json()
        reply = sent["reply"]
        reader.wait_for(lambda r: reply["id"] in [m["id"] for m in r.messages()], what="the bot's reply, via the layer")
        shown = [m["id"] for m in reader.messages()]
        assert shown == sorted(set(shown)) and sent["message"]["id"] in shown
    finally:
        reader.close()

    # The cache is the TLS Redis too: both workers count against one allowance.
    customer(second.url)
    customer(first.url)
    with pytest.raises(AssertionError, match="Too many new conversations"):
        customer(second.url)
