"""The multi-worker deployment: supervisord runs daphne workers on one socket;
a worker killed with SIGKILL is restarted, and its clients resume elsewhere
with nothing lost and nothing twice."""

from __future__ import annotations

import os
import signal
import uuid

import httpx
import pytest

from tests.support import SSEReader, Supervisor, agent, customer, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


@pytest.fixture
def supervisor(transactional_db, redis_url):
    started = Supervisor(2, redis_url)
    try:
        wait_until(lambda: len(started.pids()) == 2, timeout=60, what="two workers RUNNING")
        wait_until(lambda: _healthy(started.url), timeout=30, what="the socket to answer")
        yield started
    finally:
        started.stop()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _connections_of(pid: int, port: int) -> int:
    import psutil

    return sum(
        1 for c in psutil.Process(pid).net_connections(kind="tcp") if c.laddr.port == port and c.status == "ESTABLISHED"
    )


def send_with_retry(desk, name: str, text: str) -> dict:
    """Post as a real client would: retry a dropped connection with the same
    client_id, which the server makes idempotent."""
    body = {"content": text, "client_id": str(uuid.uuid4())}
    for _ in range(3):
        try:
            return desk.post(f"/workbench/api/sessions/{name}/messages", body).json()["message"]
        except httpx.TransportError:
            continue
    raise AssertionError(f"could not send {text!r}")


def test_a_killed_worker_is_restarted_and_its_streams_resume_without_loss(supervisor, agent_user, record):
    visitor, name = customer(supervisor.url)
    visitor.post(f"/api/sessions/{name}/escalate")
    desk = agent(supervisor.url, "alice", "alice-password")
    assert desk.post(f"/workbench/api/sessions/{name}/takeover").status_code == 200

    readers = [
        SSEReader(f"{supervisor.url}/api/sessions/{name}/events", cookies=visitor.client.cookies).wait_connected()
        for _ in range(12)
    ]
    pids = supervisor.pids()
    load = {worker: _connections_of(pid, supervisor.port) for worker, pid in pids.items()}
    victim = max(load, key=load.get)
    assert load[victim] > 0, load
    os.kill(pids[victim], signal.SIGKILL)

    sent = [send_with_retry(desk, name, f"while down {i}") for i in range(3)]
    # Clients whose worker died reconnect, to whichever worker answers, from their last id.
    final = []
    for reader in readers:
        wait_until(lambda r=reader: r.error is not None or "while down 2" in [m["content"] for m in r.messages()])
        if reader.error is None:
            final.append(reader)
            continue
        resumed = SSEReader(
            f"{supervisor.url}/api/sessions/{name}/events",
            cookies=visitor.client.cookies,
            headers={"Last-Event-ID": str(reader.ids()[-1])},
        ).wait_connected()
        resumed.events = reader.events + resumed.events
        final.append(resumed)
    dropped = sum(1 for r in readers if r.error is not None)
    assert 0 < dropped <= load[victim]  # its other connections were plain requests
    try:
        for reader in final:
            reader.wait_for(lambda r: "while down 2" in [m["content"] for m in r.messages()])
            ids = reader.ids()
            assert ids == sorted(set(ids)), ids
            shown = [m["id"] for m in reader.messages()]
            assert len(shown) == len(set(shown))
            assert {m["id"] for m in sent} <= set(shown)
        restarted = wait_until(
            lambda: (p := supervisor.pids()).get(victim) not in (None, pids[victim]) and p,
            timeout=60,
            what="supervisor to restart the worker",
        )
        assert len(restarted) == 2
        record(
            "worker-killed",
            workers=2,
            streams=len(readers),
            streams_on_killed_worker=dropped,
            messages_while_down=len(sent),
            lost=0,
            duplicated=0,
            restarted=True,
        )
    finally:
        for reader in {*readers, *final}:
            reader.close()


def test_housekeeping_clears_expired_sessions_and_applies_the_retention(transactional_db, redis_url):
    """supervisord runs deploy/housekeeping.sh beside the workers: expired Django
    sessions go, with RETENTION_DAYS set conversations closed before it, and a
    closed conversation without report figures (closed before an upgrade) gets them."""
    from datetime import timedelta

    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from chatbot import conversations
    from chatbot.models import ChatSession, ReportSample

    old = conversations.start()
    conversations.close(old)
    ChatSession.objects.filter(pk=old.pk).update(closed_at=timezone.now() - timedelta(days=40))
    recent = conversations.start()
    conversations.close(recent)
    ReportSample.objects.filter(session=recent).delete()  # as if closed before figures were stored
    expired = SessionStore()
    expired.set_expiry(1)
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(expire_date=timezone.now() - timedelta(days=1))

    started = Supervisor(1, redis_url, RETENTION_DAYS="30", HOUSEKEEPING_INTERVAL_SECONDS="1")
    try:
        wait_until(lambda: not ChatSession.objects.filter(pk=old.pk).exists(), timeout=60, what="the retention")
        wait_until(lambda: not Session.objects.filter(session_key=expired.session_key).exists(), timeout=60)
        assert ChatSession.objects.filter(pk=recent.pk).exists()
        settled = ReportSample.objects.filter(session=recent, metric=ReportSample.Metric.CONVERSATION)
        wait_until(settled.exists, timeout=60, what="the report figures")
        assert settled.get().value == 0  # the bot alone: neither escalated nor held
        assert "housekeeping" in started.ctl("status")
    finally:
        started.stop()
