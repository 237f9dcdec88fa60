"""Rate limits: a 429 with ``Retry-After`` once a caller goes over its rate.

Counting is django-ratelimit's (fixed windows in Django's cache: Redis when
``REDIS_URL`` is set, so every worker shares the counters). Rates are
settings (``RATE_LIMIT_*``, read from the environment) and read when a request
is counted, never at import time.

This module holds the mechanism (``Limit``, ``refusal``, ``client_address``)
and the login limit, which guards Django's own login views; the customer
side's limits live with the customer side, in ``chatbot/limits.py``.

A cache outage fails open: a Redis restart must not refuse every customer
(DESIGN §6.5), so the limits lapse until the cache answers again, with one
warning a minute in the log.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django_ratelimit.core import get_usage

from fiido.http import error_response

logger = logging.getLogger(__name__)

WARNING_INTERVAL_SECONDS = 60  # one "cache unreachable" warning a minute, not one per request
CACHE_RETRY_AFTER_SECONDS = 1.0  # after a cache failure, requests skip the limits this long
_last_warning = 0.0
_cache_skip_until = 0.0


@dataclass(frozen=True)
class Limit:
    """One rate limit: a counter group, the setting holding its rate, its refusal."""

    group: str
    setting: str
    message: str

    def rate(self, group: str, request: HttpRequest) -> str:
        return getattr(settings, self.setting)


LOGINS = Limit("fiido.logins", "RATE_LIMIT_LOGINS", "Too many login attempts. Try again later.")
LOGINS_PER_ADDRESS = Limit(
    "fiido.logins-address", "RATE_LIMIT_LOGINS_PER_ADDRESS", "Too many login attempts from this address. Try later."
)


def login_key(username: object) -> str:
    """The username as Django's login form will look it up, case-folded: NFKC
    makes ``ａｇｅｎｔ１`` log in as ``agent1``, so it must count as ``agent1``."""
    return unicodedata.normalize("NFKC", str(username)).strip().casefold()[:150]


def client_address(request: HttpRequest) -> str:
    """The caller's address: the socket's, or what a trusted proxy says (fiido/proxy.py)."""
    return request.META.get("REMOTE_ADDR") or ""


def seconds_to_wait(request: HttpRequest, limit: Limit, key: str) -> int | None:
    """Count one request against ``limit`` for ``key``; the seconds to wait when over it, else None."""
    if time.monotonic() < _cache_skip_until:
        return None  # the cache just failed: fail open without waiting on it again
    try:
        usage = get_usage(request, group=limit.group, key=lambda group, request: key, rate=limit.rate, increment=True)
    except Exception:  # noqa: BLE001 - the cache is down: fail open, warn once a minute
        usage = None
    if usage is None:  # the cache raised or answered nothing (RATELIMIT_FAIL_OPEN)
        _cache_failed(limit)
        return None
    if not usage["should_limit"]:
        return None
    return max(1, usage["time_left"])


def _cache_failed(limit: Limit) -> None:
    """Skip the cache for a second (a paused Redis would cost every request its
    socket timeout), and warn once a minute."""
    global _last_warning, _cache_skip_until
    now = time.monotonic()
    _cache_skip_until = now + CACHE_RETRY_AFTER_SECONDS
    if now - _last_warning >= WARNING_INTERVAL_SECONDS:
        _last_warning = now
        logger.warning("Rate-limit cache unreachable; %s is not enforced until it answers.", limit.group)


def refusal(request: HttpRequest, limit: Limit, key: str, *, json: bool = True) -> HttpResponse | None:
    """A 429 response if this request goes over ``limit``, else None."""
    wait = seconds_to_wait(request, limit, key)
    if wait is None:
        return None
    if json:
        return error_response(limit.message, 429, Retry_After=str(wait))
    response = HttpResponse(f"{limit.message}\n", status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(wait)
    return response


class LoginRateLimitMiddleware:
    """Limit POSTs to the workbench's and the admin's login forms per address and
    username (``RATE_LIMIT_LOGINS``), and per address whatever the username
    (``RATE_LIMIT_LOGINS_PER_ADDRESS``), so trying many names does not multiply
    the allowance.

    Sync-only on purpose, and last in ``MIDDLEWARE``: Django then runs the
    whole middleware chain in one thread per request instead of hopping
    between the event loop and a thread for every ``MiddlewareMixin`` hook.
    Measured with 1,000 POSTs on one daphne worker: ≈ 2.0–2.3 CPU-ms per
    request here, ≈ 2.5 with it in the middle of the chain, ≈ 2.9 when it
    was async-capable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._paths: frozenset[str] | None = None

    def login_paths(self) -> frozenset[str]:
        if self._paths is None:
            self._paths = frozenset({reverse("workbench:login"), reverse("admin:login")})
        return self._paths

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path in self.login_paths():
            address = client_address(request)
            username = login_key(request.POST.get("username", ""))
            refused = refusal(request, LOGINS, f"{address}|{username}", json=False) or refusal(
                request, LOGINS_PER_ADDRESS, address, json=False
            )
            if refused is not None:
                return refused
        return self.get_response(request)
