"""fiido/proxy.py: forwarding headers are believed only from TRUSTED_PROXIES."""

from __future__ import annotations

import pytest

from fiido.proxy import forwarded_scope


def scope(peer: str, **headers: str) -> dict:
    return {
        "type": "http",
        "scheme": "http",
        "client": (peer, 5000),
        "headers": [(name.replace("_", "-").lower().encode(), value.encode()) for name, value in headers.items()],
    }


@pytest.fixture(autouse=True)
def proxies(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "::1"]


def test_a_trusted_proxy_names_the_client_and_the_scheme():
    seen = forwarded_scope(scope("10.1.2.3", X_Forwarded_For="203.0.113.9", X_Forwarded_Proto="https"))
    assert seen["client"] == ("203.0.113.9", 0) and seen["scheme"] == "https"


def test_anyone_else_cannot():
    original = scope("198.51.100.7", X_Forwarded_For="203.0.113.9", X_Forwarded_Proto="https")
    assert forwarded_scope(original) is original


def test_the_right_most_untrusted_hop_is_the_client():
    """Left of it is whatever the client wrote; right of it, the trusted proxies."""
    seen = forwarded_scope(scope("10.0.0.1", X_Forwarded_For="1.1.1.1, 203.0.113.9, 10.0.0.2"))
    assert seen["client"][0] == "203.0.113.9"


@pytest.mark.parametrize("value", ["not-an-address", "", " , ", "999.1.1.1"])
def test_garbage_keeps_the_proxys_address(value):
    seen = forwarded_scope(scope("10.0.0.1", X_Forwarded_For=value, X_Forwarded_Proto="gopher"))
    assert seen["client"] == ("10.0.0.1", 5000) and seen["scheme"] == "http"


def test_no_trusted_proxies_means_no_forwarding(settings):
    settings.TRUSTED_PROXIES = []
    original = scope("10.1.2.3", X_Forwarded_For="203.0.113.9")
    assert forwarded_scope(original) is original
