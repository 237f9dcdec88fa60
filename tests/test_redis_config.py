"""The Redis settings: every form turns into the channel layer's host entries,
and anything that would only fail at the first connection is refused at start
with the setting's name."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.core.exceptions import ImproperlyConfigured

from fiido.realtime.groups import QUEUE_GROUP
from fiido.redis_config import cache_config, database_number, default_prefix, describe, redis_hosts


def test_one_url_and_a_comma_list_are_one_host_each_in_order():
    hosts = redis_hosts(url="redis://a:6379/0, redis://b:6380/0")
    assert [h["address"] for h in hosts] == ["redis://a:6379/0", "redis://b:6380/0"]
    assert all(h["socket_timeout"] == 60 for h in hosts)
    assert cache_config(hosts, "p")["LOCATION"] == "redis://a:6379/0"


def test_tls_files_go_to_rediss_hosts(tmp_path):
    ca, cert, key = (tmp_path / name for name in ("ca.pem", "cert.pem", "key.pem"))
    for path in (ca, cert, key):
        path.write_text("x")
    (host,) = redis_hosts(url="rediss://r:6380/0", tls_ca_file=str(ca), tls_cert_file=str(cert), tls_key_file=str(key))
    assert host["ssl_ca_certs"] == str(ca) and host["ssl_certfile"] == str(cert) and host["ssl_keyfile"] == str(key)
    assert cache_config([host], "p")["OPTIONS"]["ssl_ca_certs"] == str(ca)


def test_the_sentinel_form_names_masters_and_sentinels():
    hosts = redis_hosts(sentinels="s1:26379,[::1]:26380", sentinel_master="one,two", password="pw")
    assert [h["master_name"] for h in hosts] == ["one", "two"]
    assert hosts[0]["sentinels"] == [("s1", 26379), ("::1", 26380)]
    assert hosts[0]["password"] == "pw"
    assert [describe(h) for h in hosts] == ["sentinel:one", "sentinel:two"]
    cache = cache_config(hosts, "p")
    assert cache["OPTIONS"]["pool_class"] == "fiido.redis_config.SentinelPool"
    assert cache["OPTIONS"]["master_name"] == "one" and cache["OPTIONS"]["password"] == "pw"


def test_no_redis_is_no_hosts():
    assert redis_hosts() == []


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"url": "http://r:6379"}, "REDIS_URL"),
        ({"url": "redis://"}, "names no host"),
        ({"url": "redis://a:1/0,redis://a:1/1"}, "listed twice"),
        ({"url": "redis://a:1/0", "sentinels": "s:1", "sentinel_master": "m"}, "not both"),
        ({"sentinels": "s:1"}, "together"),
        ({"sentinel_master": "m"}, "together"),
        ({"sentinels": "s", "sentinel_master": "m"}, "host:port"),
        ({"url": "redis://a:1/0", "tls_ca_file": "/no/such/ca.pem"}, "REDIS_TLS_CA_FILE"),
        ({"url": "redis://a:1/0", "tls_ca_file": __file__}, "rediss://"),
        ({"sentinels": "s:1", "sentinel_master": "m", "tls_ca_file": __file__}, "REDIS_SENTINEL_TLS"),
        ({"url": "rediss://a:1/0", "tls_key_file": __file__}, "REDIS_TLS_CERT_FILE"),
        ({"url": "redis://a:1/0", "password": "pw"}, "REDIS_PASSWORD"),
    ],
)
def test_misconfigurations_are_refused_with_the_settings_name(given, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        redis_hosts(**given)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_POOL": "true"}, "DATABASE_POOL needs PostgreSQL"),
        ({"DATABASE_PGBOUNCER": "true"}, "DATABASE_PGBOUNCER needs PostgreSQL"),
        (
            {"DATABASE_POOL": "true", "DATABASE_URL": "postgres://u@h/d", "DATABASE_CONN_MAX_AGE": "60"},
            "exclude each other",
        ),
        ({"DATABASE_POOL": "true", "DATABASE_URL": "postgres://u@h/d", "DATABASE_POOL_MIN_SIZE": "20"}, "MIN_SIZE"),
        ({"REDIS_SENTINELS": "s:1"}, "REDIS_SENTINEL_MASTER"),
    ],
)
def test_database_and_redis_settings_are_checked_at_start(env, message):
    import subprocess
    import sys

    from tests.support import ROOT

    result = subprocess.run(
        [sys.executable, "-c", "import fiido.settings"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert message in result.stderr, result.stderr[-500:]


def test_the_pool_setting_builds_djangos_pool_options():
    import subprocess
    import sys

    from tests.support import ROOT

    code = "import fiido.settings as s; d = s.DATABASES['default']; print(d['OPTIONS']['pool'], d['CONN_MAX_AGE'])"
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgres://u@h/d", "DATABASE_POOL": "true"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "{'min_size': 2, 'max_size': 10, 'timeout': 10.0} 0", result.stderr[-500:]


def test_the_default_prefix_tells_redis_databases_apart_and_keeps_database_0s():
    prefix = {url: default_prefix("one-secret", redis_hosts(url=url)) for url in (
        "redis://r:6379", "redis://r:6379/0", "redis://r:6379/7", "redis://r:6379?db=7", "unix:///run/r.sock?db=2",
    )}  # fmt: skip
    assert prefix["redis://r:6379"] == prefix["redis://r:6379/0"]  # as before: deployments on database 0 keep theirs
    assert prefix["redis://r:6379/7"] == prefix["redis://r:6379?db=7"] == prefix["redis://r:6379/0"] + "-db7"
    assert prefix["unix:///run/r.sock?db=2"].endswith("-db2")
    assert default_prefix("another-secret", redis_hosts(url="redis://r:6379/0")) != prefix["redis://r:6379/0"]
    assert database_number("redis://r:6379/12") == 12 and database_number("rediss://r:6380") == 0


@pytest.mark.redis
async def test_two_services_on_two_databases_of_one_redis_never_hear_each_other(redis_url):
    """Pub/sub ignores the database number: before the prefix carried it, two
    deployments (or two test runs) on ``/1`` and ``/2`` of one server with the
    same SECRET_KEY shared the queue group, and each one's agents saw the other's
    customers waiting (found by two CI runs at once, each failing on the other's alerts)."""
    parts = urlsplit(redis_url)

    def layer(database: int) -> RedisPubSubChannelLayer:
        url = urlunsplit(parts._replace(path=f"/{database}", query=""))
        return RedisPubSubChannelLayer(hosts=[url], prefix=default_prefix("one-secret", redis_hosts(url=url)))

    async def heard(sender, receiver, channel: str, data: str) -> dict:
        """Send until ``receiver`` hears it: a SUBSCRIBE has no reply here to wait for."""
        for _ in range(100):
            await sender.group_send(QUEUE_GROUP, {"type": "fiido.event", "data": data})
            try:
                return await asyncio.wait_for(receiver.receive(channel), 0.2)
            except TimeoutError:
                continue
        raise AssertionError(f"{data!r} never arrived")

    staging, production, production_too = layer(1), layer(2), layer(2)
    try:
        listening = {}
        for name, each in (("staging", staging), ("production", production_too)):
            listening[name] = await each.new_channel()
            await each.group_add(QUEUE_GROUP, listening[name])
        await heard(staging, staging, listening["staging"], "staging is listening")
        message = await heard(production, production_too, listening["production"], "a customer is waiting")
        assert message["data"] == "a customer is waiting"  # the same service hears it …
        while True:  # (drop the repeats of staging's own check)
            try:
                message = await asyncio.wait_for(staging.receive(listening["staging"]), 1)
            except TimeoutError:
                break  # … the other one never does
            assert message["data"] == "staging is listening", message
    finally:
        for each in (staging, production, production_too):
            await each.flush()
