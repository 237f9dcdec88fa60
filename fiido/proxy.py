"""Who the client is, behind a reverse proxy: trusted forwarding headers only.

A request that arrives from one of ``settings.TRUSTED_PROXIES`` (addresses or
networks) takes its client address from ``X-Forwarded-For`` and its scheme
from ``X-Forwarded-Proto``; from anyone else those headers are ignored, so a
client cannot rotate ``X-Forwarded-For`` past the rate limits or claim HTTPS.
It is applied to the ASGI scope in ``fiido.asgi`` before anything routes, so
Django's ``REMOTE_ADDR`` and ``request.is_secure()``, and the raw stream
endpoints, all see the same client.

The client is the right-most ``X-Forwarded-For`` address that is not itself a
trusted proxy: every proxy appends the address it saw, so everything to its
left was written by the client and proves nothing. The shipped nginx
(``deploy/nginx.conf``) overwrites the header with the address it saw.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def is_trusted(address: str | None) -> bool:
    if not address or not settings.TRUSTED_PROXIES:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def _header(scope: dict, name: bytes) -> str | None:
    values = [value.decode("latin-1") for key, value in scope.get("headers", ()) if key == name]
    return ",".join(values) if values else None


def forwarded_scope(scope: dict) -> dict:
    """``scope`` with ``client`` and ``scheme`` taken from a trusted proxy's headers."""
    peer = (scope.get("client") or (None, None))[0]
    if not is_trusted(peer):
        return scope
    scope = dict(scope)
    forwarded_for = _header(scope, b"x-forwarded-for")
    if forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        client = next((hop for hop in reversed(hops) if not is_trusted(hop)), hops[0] if hops else None)
        if client and _valid_ip(client):
            scope["client"] = (client, 0)
    proto = (_header(scope, b"x-forwarded-proto") or "").split(",")[-1].strip().lower()
    if proto in {"http", "https"}:
        scope["scheme"] = proto
    return scope


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
