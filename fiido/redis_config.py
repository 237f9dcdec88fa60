"""Which Redis servers the deployment uses, and how to reach them.

One description serves the channel layer, the cache (rate limits) and the
hub's and ``/healthz``'s probes, so they can never disagree about where Redis
is. Three forms, read from the environment by ``fiido/settings.py``:

- ``REDIS_URL=redis://host:6379/0``: one server; ``rediss://`` for TLS, with
  the CA, client certificate and key from ``REDIS_TLS_*``.
- ``REDIS_URL=redis://a:6379/0,redis://b:6379/0``: several servers. The
  channel layer spreads groups over them (channels_redis hashes each group's
  name onto its host list, so every worker must list them in the same order);
  the cache uses the first.
- ``REDIS_SENTINELS=h1:26379,h2:26379,h3:26379`` with
  ``REDIS_SENTINEL_MASTER=name``: the master Sentinel names, followed through
  failovers. Several names (``a,b``) are several servers, as above.

Each server is one *host entry* in channels_redis's format (``create_pool``
in ``channels_redis/utils.py`` builds a redis-py pool from it, a
``SentinelConnectionPool`` for the Sentinel form), so the probes reuse the
layer's own pool factory. Nothing here reads Django's settings at import time.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.core.exceptions import ImproperlyConfigured

LAYER_SOCKET_TIMEOUT = 60  # above the core layer's 5 s BZPOPMIN, or receive() times out on an idle Redis (DESIGN §6)
SENTINEL_SOCKET_TIMEOUT = 1.0  # a Sentinel that does not answer in this long is skipped for the next one
PROBE_TIMEOUT = 1.0  # the hub's and /healthz's ping


def _split(raw: str | None) -> list[str]:
    return [item.strip() for item in (raw or "").split(",") if item.strip()]


def _file(name: str, path: str) -> str:
    if path and not os.path.isfile(path):
        raise ImproperlyConfigured(f"{name}: no such file: {path!r}")
    return path


def redis_hosts(
    *,
    url: str = "",
    sentinels: str = "",
    sentinel_master: str = "",
    password: str = "",
    sentinel_password: str = "",
    sentinel_tls: bool = False,
    tls_ca_file: str = "",
    tls_cert_file: str = "",
    tls_key_file: str = "",
) -> list[dict[str, Any]]:
    """The host entries, one per Redis server (shard); empty without Redis.

    Raises ``ImproperlyConfigured`` with the setting's name on anything that
    would only fail later, at the first connection.
    """
    urls = _split(url)
    sentinel_nodes = _split(sentinels)
    masters = _split(sentinel_master)
    tls = {
        key: value
        for key, value in (
            ("ssl_ca_certs", _file("REDIS_TLS_CA_FILE", tls_ca_file)),
            ("ssl_certfile", _file("REDIS_TLS_CERT_FILE", tls_cert_file)),
            ("ssl_keyfile", _file("REDIS_TLS_KEY_FILE", tls_key_file)),
        )
        if value
    }
    if tls_key_file and not tls_cert_file:
        raise ImproperlyConfigured("REDIS_TLS_KEY_FILE is set without REDIS_TLS_CERT_FILE (the client certificate).")
    if urls and (sentinel_nodes or masters):
        raise ImproperlyConfigured("Set either REDIS_URL or REDIS_SENTINELS with REDIS_SENTINEL_MASTER, not both.")
    if urls:
        if password:
            raise ImproperlyConfigured("REDIS_PASSWORD is for the Sentinel form; put the password in REDIS_URL.")
        hosts = [_url_host(entry, tls) for entry in urls]
        if tls and not any(host["address"].startswith("rediss://") for host in hosts):
            raise ImproperlyConfigured("REDIS_TLS_* files are set but no REDIS_URL uses rediss:// (TLS).")
    elif sentinel_nodes or masters:
        if not (sentinel_nodes and masters):
            raise ImproperlyConfigured("REDIS_SENTINELS and REDIS_SENTINEL_MASTER must be set together.")
        if tls and not sentinel_tls:
            raise ImproperlyConfigured("REDIS_TLS_* files are set but REDIS_SENTINEL_TLS is off.")
        nodes = [_host_port(node) for node in sentinel_nodes]
        sentinel_tls_files = tls if sentinel_tls else None
        hosts = [_sentinel_host(name, nodes, password, sentinel_password, sentinel_tls_files) for name in masters]
    else:
        if tls:
            raise ImproperlyConfigured("REDIS_TLS_* files are set but REDIS_URL is not.")
        return []
    names = [describe(host) for host in hosts]
    if len(set(names)) != len(names):
        raise ImproperlyConfigured(f"The same Redis server is listed twice: {names}")
    return hosts


def default_prefix(secret_key: str, hosts: list[dict[str, Any]]) -> str:
    """``REDIS_PREFIX`` when none is set: the start of every key and pub/sub
    channel of this deployment. From ``SECRET_KEY``, which every worker of one
    deployment shares and two deployments do not, and from the database number
    of each ``REDIS_URL`` when it is not 0: keys live in that database, but
    pub/sub ignores it, so two services told apart only by ``/1`` and ``/2``
    (a staging and a production, two test runs) would otherwise hear each
    other's queue and agents' events. Database 0 adds nothing (the prefix of
    every deployment made before stays the same)."""
    base = "fiido-" + hashlib.sha256(f"fiido.redis-prefix:{secret_key}".encode()).hexdigest()[:12]
    numbers = [database_number(host["address"]) for host in hosts if "address" in host]
    return base + ("-db" + ".".join(map(str, numbers)) if any(numbers) else "")


def database_number(url: str) -> int:
    """The database a Redis URL selects (``/3`` or ``?db=3``, as redis-py reads it; 0 by default)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query).get("db")
    raw = query[0] if query else (parts.path.strip("/") if parts.scheme != "unix" else "")
    return int(raw) if raw.isdigit() else 0


def _url_host(url: str, tls: Mapping[str, str]) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"REDIS_URL: {url!r} must start with redis://, rediss:// (TLS) or unix://")
    if parts.scheme != "unix" and not parts.hostname:
        raise ImproperlyConfigured(f"REDIS_URL: {url!r} names no host")
    host: dict[str, Any] = {"address": url, "socket_timeout": LAYER_SOCKET_TIMEOUT}
    if parts.scheme == "rediss":
        host.update(tls)
    return host


def _host_port(node: str) -> tuple[str, int]:
    host, _, port = node.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ImproperlyConfigured(f"REDIS_SENTINELS: {node!r} must be host:port")
    return host.strip("[]"), int(port)


def _sentinel_host(
    name: str,
    nodes: list[tuple[str, int]],
    password: str,
    sentinel_password: str,
    tls: Mapping[str, str] | None,
) -> dict[str, Any]:
    sentinel_kwargs: dict[str, Any] = {
        "socket_timeout": SENTINEL_SOCKET_TIMEOUT,
        "socket_connect_timeout": SENTINEL_SOCKET_TIMEOUT,
    }
    host: dict[str, Any] = {
        "master_name": name,
        "sentinels": nodes,
        "sentinel_kwargs": sentinel_kwargs,
        "socket_timeout": LAYER_SOCKET_TIMEOUT,
    }
    if sentinel_password:
        sentinel_kwargs["password"] = sentinel_password
    if password:
        host["password"] = password
    if tls is not None:
        sentinel_kwargs.update(ssl=True, **tls)
        host.update(ssl=True, **tls)
    return host


def describe(host: Mapping[str, Any]) -> str:
    """A host entry as an operator would name it, without its password (logs, metrics)."""
    if "master_name" in host:
        return f"sentinel:{host['master_name']}"
    parts = urlsplit(host["address"])
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}"


def hosts_from_environ(environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """``redis_hosts`` from environment variables (``fiido/settings.py``)."""
    raw_tls = (environ.get("REDIS_SENTINEL_TLS") or "").strip().lower()
    if raw_tls not in {"", "0", "1", "true", "false", "yes", "no", "on", "off"}:
        raise ImproperlyConfigured(f"REDIS_SENTINEL_TLS must be a boolean (true/false), got {raw_tls!r}")
    return redis_hosts(
        url=environ.get("REDIS_URL", ""),
        sentinels=environ.get("REDIS_SENTINELS", ""),
        sentinel_master=environ.get("REDIS_SENTINEL_MASTER", ""),
        password=environ.get("REDIS_PASSWORD", ""),
        sentinel_password=environ.get("REDIS_SENTINEL_PASSWORD", ""),
        sentinel_tls=raw_tls in {"1", "true", "yes", "on"},
        tls_ca_file=environ.get("REDIS_TLS_CA_FILE", ""),
        tls_cert_file=environ.get("REDIS_TLS_CERT_FILE", ""),
        tls_key_file=environ.get("REDIS_TLS_KEY_FILE", ""),
    )


def configured_hosts() -> list[dict[str, Any]]:
    """The host entries for the current Django settings (read at call time, so
    a test that overrides ``REDIS_URL`` is followed)."""
    from django.conf import settings

    return redis_hosts(
        url=settings.REDIS_URL,
        sentinels=",".join(settings.REDIS_SENTINELS),
        sentinel_master=settings.REDIS_SENTINEL_MASTER,
        password=settings.REDIS_PASSWORD,
        sentinel_password=settings.REDIS_SENTINEL_PASSWORD,
        sentinel_tls=settings.REDIS_SENTINEL_TLS,
        tls_ca_file=settings.REDIS_TLS_CA_FILE,
        tls_cert_file=settings.REDIS_TLS_CERT_FILE,
        tls_key_file=settings.REDIS_TLS_KEY_FILE,
    )


def probe_client(host: Mapping[str, Any]):
    """An asyncio client for one server with short timeouts, built by the
    layer's own pool factory (so it follows Sentinel as the layer does)."""
    from channels_redis.utils import create_pool
    from redis import asyncio as aioredis

    entry = {**host, "socket_timeout": PROBE_TIMEOUT, "socket_connect_timeout": PROBE_TIMEOUT}
    if "address" in entry:
        entry["retry_on_timeout"] = False
    return aioredis.Redis(connection_pool=create_pool(entry))


def sync_client(host: Mapping[str, Any]):
    """A blocking client for one server (TLS and Sentinel as configured), with
    short timeouts: for the few reads made from request threads (presence)."""
    import redis
    from redis.sentinel import Sentinel

    options = {k: v for k, v in host.items() if k not in {"address", "sentinels", "master_name", "sentinel_kwargs"}}
    options.update(socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT)
    if "master_name" in host:
        sentinel = Sentinel(host["sentinels"], sentinel_kwargs=host.get("sentinel_kwargs"), **options)
        return sentinel.master_for(host["master_name"])
    return redis.Redis.from_url(host["address"], **options)


def cache_config(hosts: list[dict[str, Any]], key_prefix: str) -> dict[str, Any]:
    """Django's ``CACHES["default"]`` on the first server: Django's RedisCache
    writes to its first server and reads from the others, which suits
    replicas, not shards, so counters live on one server."""
    host = dict(hosts[0])
    # A Redis outage must not stall requests; fiido.ratelimits fails open.
    options: dict[str, Any] = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    if "master_name" in host:
        location = f"sentinel://{host['master_name']}"
        options.update(
            pool_class="fiido.redis_config.SentinelPool",
            master_name=host["master_name"],
            sentinels=host["sentinels"],
            sentinel_kwargs=host["sentinel_kwargs"],
        )
        options.update({k: v for k, v in host.items() if k in {"password", "ssl", *_TLS_KEYS}})
    else:
        location = host["address"]
        options.update({k: v for k, v in host.items() if k in _TLS_KEYS})
    return {
        # Django's RedisCache, with one connection pool per process (fiido/cache.py).
        "BACKEND": "fiido.cache.RedisCache",
        "LOCATION": location,
        "KEY_PREFIX": key_prefix,
        "OPTIONS": options,
    }


_TLS_KEYS = {"ssl_ca_certs", "ssl_certfile", "ssl_keyfile"}


class SentinelPool:
    """``pool_class`` for Django's RedisCache in the Sentinel form: Django asks
    its pool class ``from_url(location, **options)``, and redis-py has no URL
    for Sentinel, so the options carry the Sentinels and the master's name."""

    @classmethod
    def from_url(cls, url: str, *, master_name: str, sentinels, sentinel_kwargs=None, **options):
        from redis.sentinel import Sentinel, SentinelConnectionPool

        return SentinelConnectionPool(master_name, Sentinel(sentinels, sentinel_kwargs=sentinel_kwargs), **options)
