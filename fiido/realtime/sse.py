"""The one SSE encoder: every byte a stream sends is written here."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SSE_RETRY_MS = 3000  # browsers reconnect 3 s after a network error (DESIGN §5)
RETRY_FRAME = b"retry: %d\n\n" % SSE_RETRY_MS
# Streams bypass Django's middleware (fiido.asgi), so they send their own
# security headers: no sniffing, and a policy that allows nothing to load.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"referrer-policy", b"same-origin"),
]
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
    *SECURITY_HEADERS,
]


def security_headers() -> list[tuple[bytes, bytes]]:
    """SECURITY_HEADERS plus HSTS as Django's SecurityMiddleware would send it
    (browsers ignore it over plain HTTP, which is redirected anyway)."""
    from django.conf import settings

    if not settings.SECURE_HSTS_SECONDS:
        return SECURITY_HEADERS
    hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
    if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
        hsts += "; includeSubDomains"
    if settings.SECURE_HSTS_PRELOAD:
        hsts += "; preload"
    return [*SECURITY_HEADERS, (b"strict-transport-security", hsts.encode())]


def stream_headers() -> list[tuple[bytes, bytes]]:
    """The headers of every stream response."""
    return [*HEADERS[:3], *security_headers()]


def dumps(payload: Mapping[str, Any]) -> str:
    """Compact JSON, the form events are stored and sent in."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def encode(payload: Mapping[str, Any] | str, *, id: int | None = None) -> bytes:
    """One unnamed SSE event: an optional ``id:`` line and one ``data:`` line.

    ``payload`` is a dict or already-encoded JSON text. JSON text never holds
    a raw newline, so one ``data:`` line always suffices.
    """
    data = payload if isinstance(payload, str) else dumps(payload)
    if id is None:
        return b"data: " + data.encode() + b"\n\n"
    return b"id: %d\ndata: " % id + data.encode() + b"\n\n"
