"""Shared fixtures: real Redis, real daphne workers, a real Chromium, agents, captured events."""

from __future__ import annotations

import contextlib
import json
import os
import shutil

import pytest

from tests.support import RedisServer, Worker, need, redis_answers, worker_env

# Rate limits (fiido.ratelimits) count per client address, and every test
# client and worker request comes from 127.0.0.1: the suite runs with generous
# limits, which the workers it starts inherit through the environment.
# tests/test_rate_limits.py sets real ones. An explicit RATE_LIMIT_* wins.
TEST_RATE_LIMITS = {
    "RATE_LIMIT_MESSAGES": "10000/m",
    "RATE_LIMIT_MESSAGES_PER_ADDRESS": "10000/m",
    "RATE_LIMIT_SESSIONS": "10000/m",
    "RATE_LIMIT_ESCALATIONS": "10000/m",
    "RATE_LIMIT_LOGINS": "10000/m",
    "RATE_LIMIT_LOGINS_PER_ADDRESS": "10000/m",
    "RATE_LIMIT_TYPING": "10000/m",
    "RATE_LIMIT_ATTACHMENTS": "10000/m",
}
# Likewise the stream caps (fiido/realtime/caps.py): tests open hundreds of
# streams from 127.0.0.1; tests/e2e/test_stream_caps.py sets real ones.
TEST_STREAM_CAPS = {
    "SSE_MAX_STREAMS_PER_CONVERSATION": "100000",
    "SSE_MAX_STREAMS_PER_ADDRESS": "100000",
    "SSE_MAX_STREAMS_PER_LOGIN": "100000",
}
# Outside tests, asking for a person while no agent has the workbench open
# leaves a message for email (chatbot/hours.py); most tests escalate before
# an agent logs in, so the suite counts support as staffed unless a test (the
# after-hours ones) says otherwise.
# Likewise one test agent often holds dozens of conversations: capacity
# (AGENT_MAX_LIVE) is tested where it is the point, with limits set there.
TEST_SUPPORT = {"SUPPORT_OFFLINE_WITHOUT_AGENTS": "false", "AGENT_MAX_LIVE": "100000"}
for _name, _value in {**TEST_RATE_LIMITS, **TEST_STREAM_CAPS, **TEST_SUPPORT}.items():
    os.environ.setdefault(_name, _value)


@pytest.fixture(scope="session", autouse=True)
def generous_rate_limits():
    """Apply TEST_RATE_LIMITS and TEST_STREAM_CAPS in this process too (settings may be read before this module)."""
    from django.conf import settings

    for name in TEST_RATE_LIMITS:
        setattr(settings, name, os.environ[name])
    for name in TEST_STREAM_CAPS:
        setattr(settings, name, int(os.environ[name]))
    settings.SUPPORT_OFFLINE_WITHOUT_AGENTS = os.environ["SUPPORT_OFFLINE_WITHOUT_AGENTS"].lower() in {
        "1",
        "true",
        "yes",
    }
    settings.AGENT_MAX_LIVE = int(os.environ["AGENT_MAX_LIVE"])


@pytest.fixture(autouse=True)
def attachments_root(tmp_path, settings, monkeypatch):
    """Each test keeps its photos and files in a directory of its own, and so do
    the daphne workers it starts (they inherit ``ATTACHMENTS_ROOT``)."""
    root = tmp_path / "attachments"
    monkeypatch.setenv("ATTACHMENTS_ROOT", str(root))
    storage = settings.STORAGES["attachments"]
    options = {**storage.get("OPTIONS", {}), "location": str(root)}
    settings.STORAGES = {**settings.STORAGES, "attachments": {**storage, "OPTIONS": options}}
    return root


@pytest.fixture(scope="session")
def redis_url():
    """A Redis to talk to: ``REDIS_URL`` if set, else a private redis-server."""
    url = os.environ.get("REDIS_URL")
    if url:
        if not redis_answers(url):
            need(f"REDIS_URL={url} does not answer")
        yield url
        return
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_server():
    """A private redis-server this test may stop and start again."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def agent_user(django_user_model):
    from workbench.management.commands.create_agent import ensure_agent

    user, _ = ensure_agent("alice", "alice-password", first_name="Alice")
    return user


@pytest.fixture
def other_agent(django_user_model):
    from workbench.management.commands.create_agent import ensure_agent

    user, _ = ensure_agent("bob", "bob-password", first_name="Bob")
    return user


@pytest.fixture
def published_events(monkeypatch, django_capture_on_commit_callbacks):
    """Capture what the state machine publishes, the way Zulip's
    ``capture_send_event_calls`` does: ``with published_events(expect=2) as sent:``."""
    from fiido.realtime import publish

    @contextlib.contextmanager
    def capture(expect: int | None = None):
        sent: list[tuple[str, dict]] = []

        async def fake_send(group, message):
            sent.append((group, message))

        monkeypatch.setattr(publish, "_send", fake_send)
        with django_capture_on_commit_callbacks(execute=True):
            yield sent
        if expect is not None:
            session_events = [m for g, m in sent if g.startswith("session.")]
            assert len(session_events) == expect, sent

    return capture


@pytest.fixture
def workers(transactional_db, request):
    """Start daphne workers against the test database: ``workers(2, redis_url=...)``."""
    started: list[Worker] = []

    def start(count: int = 2, app: str = "fiido.asgi:application", **env: str) -> list[Worker]:
        for index in range(count):
            worker = Worker(worker_env(**env), name=f"worker{len(started) + index}", app=app)
            started.append(worker.start())
        return started[-count:]

    yield start
    for worker in started:
        worker.stop()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        for worker in started:
            print(f"--- {worker.name} log ---\n{worker.output()[-5000:]}")


CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(monkeypatch):
    """Debian's Chromium driven by Playwright; skips (outside CI) when either is missing."""
    executable = shutil.which(CHROMIUM) or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if executable is None:
        need(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("playwright is not installed (pip install -r requirements-test.txt)")
    # Playwright's sync API runs an event loop in this thread; the test's own
    # ORM calls are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def record(request):
    """Record a fault test's figures for docs/RELIABILITY.md (``make faults``)."""

    def write(name: str, **figures) -> None:
        path = os.environ.get("FIIDO_REPORT_JSONL")
        if path:
            with open(path, "a") as report:
                report.write(json.dumps({"test": request.node.name, "name": name, **figures}) + "\n")

    return write


@pytest.fixture(scope="session", autouse=True)
def _release_pool_connections(django_db_setup, django_db_blocker):
    """Close database connections left in the thread pools of closed event loops
    (``db_call`` keeps one per pool thread), so the test database can be dropped.

    Threads that are still alive (asgiref's executors) keep theirs for
    ``CONN_MAX_AGE``; on PostgreSQL those sessions are ended from here.
    """
    yield
    import gc

    from django.db import connection

    gc.collect()
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
