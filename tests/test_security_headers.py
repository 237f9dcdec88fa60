"""Security headers, cookies and the production configuration.

A Content-Security-Policy with no inline script or style on every page (the
pages and Django's admin have none to allow), nosniff and Referrer-Policy on
every response, secure HttpOnly cookies and HSTS with DEBUG off, and
``manage.py check --deploy`` clean with production settings.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys

import pytest
from django.test import Client
from django.urls import reverse

from chatbot import conversations
from tests.support import ROOT
from tests.test_authorization import open_stream

EXPECTED_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' https: http: data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "a-production-secret-key-that-is-long-and-random-enough-0123456789-abcdefghij",
    "ALLOWED_HOSTS": "desk.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SITE_URL": "https://desk.example.com",
}

# A script element without src runs inline, unless it is a JSON data block
# (json_script), which the browser never executes.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|<[^>]+\sstyle\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    directives = [part.strip() for part in header.split(";") if part.strip()]
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in directives}


@pytest.fixture
def pages(db, django_user_model, settings) -> dict[str, tuple[Client, str]]:
    """Every page, with a client that may see it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from workbench.management.commands.create_agent import ensure_agent

    agent = Client()
    agent.force_login(ensure_agent("alice", "alice-password")[0])
    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "root-password"))
    session = conversations.start(customer_name="<script>alert(1)</script>")
    conversations.post_customer_message(session, content="<img src=x onerror=alert(1)> hi")
    return {
        "chat": (Client(), "/"),
        "login": (Client(), reverse("workbench:login")),
        "queue": (agent, reverse("workbench:queue")),
        "session": (agent, reverse("workbench:session", args=[session.name])),
        "admin index": (admin, reverse("admin:index")),
        "admin login": (Client(), reverse("admin:login")),
        "admin list": (admin, reverse("admin:chatbot_chatsession_changelist")),
        "admin change": (admin, reverse("admin:chatbot_chatsession_change", args=[session.pk])),
    }


PAGES = ["chat", "login", "queue", "session", "admin index", "admin login", "admin list", "admin change"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_sends_the_policy_and_needs_nothing_it_forbids(pages, page):
    """The policy allows no inline script or style, so no page may contain any
    (Django 5.2's admin included): what CSP would block is absent."""
    client, url = pages[page]
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert policy(response) == EXPECTED_CSP
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    html = response.content.decode()
    assert not INLINE_SCRIPT.findall(html), INLINE_SCRIPT.findall(html)
    assert not INLINE_HANDLER.findall(html), INLINE_HANDLER.findall(html)
    assert not INLINE_STYLE.findall(html), INLINE_STYLE.findall(html)
    assert not JAVASCRIPT_URL.findall(html)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url"), [("post", "/api/sessions"), ("get", "/api/sessions/nope"), ("get", "/api/schema/")]
)
def test_api_responses_are_not_sniffed(method, url):
    response = getattr(Client(), method)(url, content_type="application/json")
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db(transaction=True)
def test_streams_send_their_own_security_headers():
    """Streams bypass Django's middleware, so they set nosniff and a nothing-allowed policy themselves."""
    client = Client()
    name = client.post("/api/sessions", {}, content_type="application/json").json()["session_name"]
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    for path in (f"/api/sessions/{name}/events", "/workbench/api/events"):  # a stream, and a refusal
        status, headers, _ = asyncio.run(open_stream(path, cookie))
        assert status in {200, 401}
        assert headers[b"x-content-type-options"] == b"nosniff"
        assert headers[b"content-security-policy"] == b"default-src 'none'; frame-ancestors 'none'"
        assert headers[b"referrer-policy"] == b"same-origin"


@pytest.mark.django_db
def test_with_debug_off_cookies_are_secure_http_is_redirected_and_hsts_is_sent(settings):
    settings.DEBUG = False
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    client = Client()
    plain = client.get("/")
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/"
    assert client.get("/healthz").status_code == 200  # probes may use plain HTTP
    response = client.get("/", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response.cookies["csrftoken"]["secure"]
    response = client.post(
        "/api/sessions",
        content_type="application/json",
        secure=True,
        headers={"X-CSRFToken": response.cookies["csrftoken"].value},
    )  # starting a conversation sets the session cookie
    assert response.status_code == 201
    session_cookie = response.cookies["sessionid"]
    assert session_cookie["secure"] and session_cookie["httponly"] and session_cookie["samesite"] == "Lax"


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RATE_LIMIT_", "SECURE_", "DEBUG", "REDIS_URL"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_warns_when_emails_would_link_nowhere():
    result = run_manage("check", "--deploy", env={**PRODUCTION_ENV, "SITE_URL": ""})
    assert "fiido.W004" in result.stdout + result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_one_process_has_no_redis():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "REDIS_URL"}
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "fiido.W001" in result.stdout + result.stderr


def test_production_settings():
    script = (
        "import json; from django.conf import settings as s; print(json.dumps({k: getattr(s, k) for k in ["
        "'SESSION_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT',"
        "'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_CONTENT_TYPE_NOSNIFF',"
        "'SECURE_REFERRER_POLICY', 'RATE_LIMIT_MESSAGES', 'RATE_LIMIT_MESSAGES_PER_ADDRESS', 'RATE_LIMIT_SESSIONS',"
        "'RATE_LIMIT_LOGINS']}"
        " | {'CACHE': s.CACHES['default']['BACKEND']}))"
    )
    result = run_manage("shell", "-v", "0", "-c", script, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values == {
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "RATE_LIMIT_MESSAGES": "20/m",
        "RATE_LIMIT_MESSAGES_PER_ADDRESS": "60/m",
        "RATE_LIMIT_SESSIONS": "10/m",
        "RATE_LIMIT_LOGINS": "5/m",
        "CACHE": "fiido.cache.RedisCache",
    }


def test_the_hsts_lifetime_is_configurable_and_can_be_turned_off():
    result = run_manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings as s; print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_PRELOAD)",
        env={**PRODUCTION_ENV, "SECURE_HSTS_SECONDS": "0", "SECURE_HSTS_PRELOAD": "false"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "False"]
