"""Rate limits: customer messages per conversation and per address, new
conversations per address, login attempts per address and username; 429 with
Retry-After.

The suite runs with generous limits (tests/conftest.py); each test here sets
the rate it checks, and counts from an address or session of its own, so
counters left in a shared cache (Redis in CI) by other tests or runs never
meet these. Rates here are per hour: a fixed window that ended in the middle
of a test would reset its count.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from chatbot.models import ChatSession, Message
from tests.support import ROOT
from workbench.management.commands.create_agent import ensure_agent

pytestmark = pytest.mark.django_db


def fresh_address() -> str:
    """An address no other test or run counts against."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def post(client: Client, path: str, body: dict | None = None, **extra):
    return client.post(path, json.dumps(body or {}), content_type="application/json", **extra)


def assert_429(response, *, json_body: bool = True) -> None:
    assert response.status_code == 429, (response.status_code, response.content)
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 3600  # the tests count per hour, so no test straddles a window's end
    if json_body:
        assert response["Content-Type"].startswith("application/json")
        assert set(response.json()) == {"error"} and response.json()["error"]


def send(client: Client, name: str, text: str):
    return post(client, f"/api/sessions/{name}/messages", {"content": text, "client_id": str(uuid.uuid4())})


# ---------------------------------------------------------------------------
# Customer messages per conversation
# ---------------------------------------------------------------------------
def test_messages_over_the_rate_of_one_conversation_get_429_and_are_not_stored(settings):
    settings.RATE_LIMIT_MESSAGES = "3/h"
    customer = Client(REMOTE_ADDR=fresh_address())
    name = post(customer, "/api/sessions").json()["session_name"]
    for index in range(3):
        assert send(customer, name, f"question {index}").status_code == 201
    stored = Message.objects.filter(session__name=name).count()
    refused = send(customer, name, "one too many")
    assert_429(refused)
    assert Message.objects.filter(session__name=name).count() == stored
    # The limit is per conversation: the same visitor's next one has its own allowance.
    other = post(customer, "/api/sessions").json()["session_name"]
    assert send(customer, other, "a new conversation").status_code == 201


def test_a_stranger_cannot_use_up_the_owners_allowance(settings):
    """Requests for someone else's conversation are 404 and count for nothing."""
    settings.RATE_LIMIT_MESSAGES = "2/h"
    owner = Client(REMOTE_ADDR=fresh_address())
    name = post(owner, "/api/sessions").json()["session_name"]
    stranger = Client(REMOTE_ADDR=fresh_address())
    for _ in range(5):
        assert send(stranger, name, "spam").status_code == 404
    assert send(owner, name, "first").status_code == 201
    assert send(owner, name, "second").status_code == 201
    assert_429(send(owner, name, "third"))


# ---------------------------------------------------------------------------
# Customer messages per client address, over all its conversations
# ---------------------------------------------------------------------------
def test_messages_over_the_rate_of_one_address_get_429_whatever_the_conversation(settings):
    """A new conversation brings a new per-conversation allowance, not a new
    per-address one (security probe, finding 5)."""
    settings.RATE_LIMIT_MESSAGES = "100/h"
    settings.RATE_LIMIT_MESSAGES_PER_ADDRESS = "4/h"
    address = fresh_address()
    customer = Client(REMOTE_ADDR=address)
    first, second = (post(customer, "/api/sessions").json()["session_name"] for _ in range(2))
    for index in range(2):
        assert send(customer, first, f"question {index}").status_code == 201
        assert send(customer, second, f"question {index}").status_code == 201
    # A third conversation, even from a fresh browser at the same address, gets no more.
    other_browser = Client(REMOTE_ADDR=address)
    third = post(other_browser, "/api/sessions").json()["session_name"]
    stored = Message.objects.filter(session__name__in=[first, second, third]).count()
    assert_429(send(other_browser, third, "one too many"))
    assert_429(send(customer, first, "still too many"))
    assert Message.objects.filter(session__name__in=[first, second, third]).count() == stored
    # Another address is not affected.
    elsewhere = Client(REMOTE_ADDR=fresh_address())
    name = post(elsewhere, "/api/sessions").json()["session_name"]
    assert send(elsewhere, name, "hello").status_code == 201


def test_the_address_limit_counts_with_the_conversation_limit(settings):
    """Whichever limit is lower refuses first; both answer the same 429."""
    settings.RATE_LIMIT_MESSAGES = "2/h"
    settings.RATE_LIMIT_MESSAGES_PER_ADDRESS = "3/h"
    customer = Client(REMOTE_ADDR=fresh_address())
    first, second = (post(customer, "/api/sessions").json()["session_name"] for _ in range(2))
    assert [send(customer, first, "q").status_code for _ in range(2)] == [201, 201]
    conversation_full = send(customer, first, "over the conversation's rate")
    assert_429(conversation_full)
    assert "conversation" in conversation_full.json()["error"]
    # The refused post still counted against the address: three posts so far.
    address_full = send(customer, second, "over the address's rate")
    assert_429(address_full)
    assert "address" in address_full.json()["error"]


# ---------------------------------------------------------------------------
# New conversations per client address
# ---------------------------------------------------------------------------
def test_new_conversations_over_the_rate_of_one_address_get_429(settings):
    settings.RATE_LIMIT_SESSIONS = "2/h"
    address = fresh_address()
    for _ in range(2):
        assert post(Client(REMOTE_ADDR=address), "/api/sessions").status_code == 201
    count = ChatSession.objects.count()
    assert_429(post(Client(REMOTE_ADDR=address), "/api/sessions"))
    assert ChatSession.objects.count() == count
    # The chat page starts nothing (the page's script POSTs on the first message), so it is not limited.
    assert Client(REMOTE_ADDR=address).get("/").status_code == 200
    assert ChatSession.objects.count() == count
    # Another address is not affected.
    assert post(Client(REMOTE_ADDR=fresh_address()), "/api/sessions").status_code == 201


def test_requests_for_a_person_over_the_rate_of_one_address_get_429(settings):
    """One client cannot fill every agent's queue by escalating conversation after conversation."""
    settings.RATE_LIMIT_ESCALATIONS = "2/h"
    address = fresh_address()
    for _ in range(2):
        visitor = Client(REMOTE_ADDR=address)
        name = post(visitor, "/api/sessions").json()["session_name"]
        assert post(visitor, f"/api/sessions/{name}/escalate").status_code == 200
    visitor = Client(REMOTE_ADDR=address)
    name = post(visitor, "/api/sessions").json()["session_name"]
    assert_429(post(visitor, f"/api/sessions/{name}/escalate"))
    assert ChatSession.objects.get(name=name).status == "bot_active"
    other = Client(REMOTE_ADDR=fresh_address())
    name = post(other, "/api/sessions").json()["session_name"]
    assert post(other, f"/api/sessions/{name}/escalate").status_code == 200


def test_a_returning_visitor_is_not_counted_as_a_new_conversation(settings):
    settings.RATE_LIMIT_SESSIONS = "1/h"
    visitor = Client(REMOTE_ADDR=fresh_address())
    assert post(visitor, "/api/sessions").status_code == 201  # starts one
    for _ in range(3):
        assert visitor.get("/").status_code == 200  # resumes it


# ---------------------------------------------------------------------------
# Login attempts per address and username
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("login_url", ["/workbench/login/", "/admin/login/"])
def test_login_attempts_over_the_rate_get_429_even_with_the_right_password(settings, login_url):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.RATE_LIMIT_LOGINS = "3/h"
    username = f"agent-{uuid.uuid4().hex[:8]}"
    ensure_agent(username, "right-password")
    address = fresh_address()
    client = Client(REMOTE_ADDR=address)
    for _ in range(3):
        response = client.post(login_url, {"username": username, "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    refused = client.post(login_url, {"username": username, "password": "right-password"})
    assert_429(refused, json_body=False)
    assert "_auth_user_id" not in client.session
    # Another username from the same address, and the same one from elsewhere, still log in.
    other = f"agent-{uuid.uuid4().hex[:8]}"
    ensure_agent(other, "other-password")
    assert client.post(login_url, {"username": other, "password": "wrong"}).status_code == 200
    elsewhere = Client(REMOTE_ADDR=fresh_address())
    response = elsewhere.post("/workbench/login/", {"username": username, "password": "right-password"})
    assert response.status_code == 302


def test_look_alike_usernames_count_as_the_name_they_log_in_as(settings):
    """Django's login form applies NFKC, so fullwidth ``ａｇｅｎｔ１`` logs in as
    ``agent1``: it must not get an allowance of its own (probe, second round)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.RATE_LIMIT_LOGINS = "3/h"
    username = f"agent{uuid.uuid4().hex[:6]}"
    ensure_agent(username, "right-password")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in username)
    client = Client(REMOTE_ADDR=fresh_address())
    for variant in (username, username.upper(), f" {username} "):
        assert client.post("/workbench/login/", {"username": variant, "password": "wrong"}).status_code == 200
    assert_429(client.post("/workbench/login/", {"username": fullwidth, "password": "right-password"}), json_body=False)
    assert "_auth_user_id" not in client.session


def test_many_usernames_from_one_address_share_a_cap(settings):
    settings.RATE_LIMIT_LOGINS = "100/h"
    settings.RATE_LIMIT_LOGINS_PER_ADDRESS = "4/h"
    client = Client(REMOTE_ADDR=fresh_address())
    for _ in range(4):
        name = f"nobody-{uuid.uuid4().hex[:8]}"
        assert client.post("/workbench/login/", {"username": name, "password": "guess"}).status_code == 200
    assert_429(client.post("/workbench/login/", {"username": "yet-another", "password": "guess"}), json_body=False)


def test_showing_the_login_form_is_not_counted(settings):
    settings.RATE_LIMIT_LOGINS = "1/h"
    client = Client(REMOTE_ADDR=fresh_address())
    for _ in range(3):
        assert client.get("/workbench/login/").status_code == 200


# ---------------------------------------------------------------------------
# Configuration and failure
# ---------------------------------------------------------------------------
def test_an_unreachable_cache_lets_requests_through(settings):
    """A Redis outage must not refuse every customer: the limits fail open."""
    settings.CACHES = {
        "default": {
            "BACKEND": "fiido.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    settings.RATE_LIMIT_SESSIONS = "1/h"
    address = fresh_address()
    for _ in range(3):
        assert post(Client(REMOTE_ADDR=address), "/api/sessions").status_code == 201


@pytest.mark.parametrize("raw", ["20", "twenty/m", "20/x", "-1/m", "20/m/s"])
def test_a_malformed_rate_is_refused_at_startup(monkeypatch, raw):
    from fiido.settings import _env_rate

    monkeypatch.setenv("RATE_LIMIT_MESSAGES", raw)
    with pytest.raises(ImproperlyConfigured, match="RATE_LIMIT_MESSAGES"):
        _env_rate("RATE_LIMIT_MESSAGES", "20/m")


@pytest.mark.parametrize("name", ["RATE_LIMIT_MESSAGES", "RATE_LIMIT_MESSAGES_PER_ADDRESS"])
def test_the_settings_refuse_a_malformed_message_rate(name):
    """Each message rate is read through the same check as the others, at startup."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "fiido.settings", name: "60"}
    result = subprocess.run(
        [sys.executable, "-c", "import fiido.settings"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} must be a rate like 20/m" in result.stderr


@pytest.mark.parametrize("raw", ["20/m", "100/h", "5/10s", "1000/d"])
def test_well_formed_rates_are_accepted(monkeypatch, raw):
    from fiido.settings import _env_rate

    monkeypatch.setenv("RATE_LIMIT_MESSAGES", raw)
    assert _env_rate("RATE_LIMIT_MESSAGES", "20/m") == raw


def new_conversations(worker, forwarded_for: list[str]) -> list[int]:
    """POST /api/sessions once per X-Forwarded-For value; the status codes."""
    answers = []
    for address in forwarded_for:
        with httpx.Client(base_url=worker.url, timeout=15) as client:
            client.get("/workbench/login/")  # a CSRF cookie
            token = client.cookies["csrftoken"]
            response = client.post("/api/sessions", json={}, headers={"X-Forwarded-For": address, "X-CSRFToken": token})
            answers.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["Retry-After"]) >= 1
                assert set(response.json()) == {"error"}
    return answers


@pytest.mark.e2e
@pytest.mark.redis
def test_workers_share_their_counters_through_redis(workers, redis_url):
    """Two daphne workers count one address together: the limit holds across processes."""
    first, second = workers(2, REDIS_URL=redis_url, RATE_LIMIT_SESSIONS="3/h", TRUSTED_PROXIES="127.0.0.1")
    address = fresh_address()
    answers = [new_conversations(worker, [address])[0] for worker in (first, second, first, second)]
    assert answers == [201, 201, 201, 429]


@pytest.mark.e2e
@pytest.mark.redis
def test_a_trusted_proxy_names_the_client_and_nobody_else_can(workers, redis_url):
    """Behind a proxy in TRUSTED_PROXIES, X-Forwarded-For names the client (each
    address has its own allowance); from anyone else the header is ignored, so
    rotating it does not get past the limit."""
    (behind_proxy,) = workers(1, REDIS_URL=redis_url, RATE_LIMIT_SESSIONS="2/h", TRUSTED_PROXIES="127.0.0.1")
    # Its counter is the socket's address, 127.0.0.1, the same in every run: a
    # prefix of its own keeps an earlier run's count (same hour, same Redis) apart.
    (exposed,) = workers(1, REDIS_URL=redis_url, RATE_LIMIT_SESSIONS="2/h", REDIS_PREFIX=f"test-{uuid.uuid4().hex}")
    first, second = fresh_address(), fresh_address()
    assert new_conversations(behind_proxy, [first, first, second, second, first]) == [201, 201, 201, 201, 429]
    # A client that appends its own hop cannot pick its address: the right-most untrusted one counts.
    assert new_conversations(behind_proxy, [f"{fresh_address()}, {second}"]) == [429]
    # Without TRUSTED_PROXIES the socket's address counts, whatever the header says.
    spoofed = [fresh_address() for _ in range(3)]
    assert new_conversations(exposed, spoofed) == [201, 201, 429]
