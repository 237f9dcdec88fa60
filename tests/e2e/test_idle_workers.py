"""Idle conversations close themselves inside the workers (no scheduler), once
however many workers sweep, and every open screen sees it once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chatbot.models import ChatSession, Event
from tests.support import SSEReader, customer

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

CLOSED_TEXT = "This chat was closed after 30 minutes without activity."


def test_two_workers_sweeping_close_a_quiet_conversation_once(workers, redis_url):
    first, second = workers(2, REDIS_URL=redis_url, IDLE_SWEEP_SECONDS="1", IDLE_CLOSE_WAITING_MINUTES="30")
    visitor, name = customer(first.url)
    assert visitor.post(f"/api/sessions/{name}/escalate").status_code == 200
    readers = [
        SSEReader(f"{worker.url}/api/sessions/{name}/events", cookies=visitor.client.cookies).wait_connected()
        for worker in (first, second)
    ]
    try:
        # The customer left 31 minutes ago (the clock is the database's).
        ChatSession.objects.filter(name=name).update(last_activity_at=timezone.now() - timedelta(minutes=31))
        # The close is two events, the status and then the message saying why: wait for both.
        for reader in readers:
            reader.wait_for(
                lambda r: (
                    [e for e in r.of_type("status") if e["status"] == "closed"]
                    and CLOSED_TEXT in [m["content"] for m in r.messages()]
                ),
                timeout=30,
            )
        for reader in readers:
            assert len([e for e in reader.of_type("status") if e["status"] == "closed"]) == 1
            texts = [m["content"] for m in reader.messages()]
            assert texts.count(CLOSED_TEXT) == 1
        session = ChatSession.objects.get(name=name)
        closes = Event.objects.filter(session=session, kind=Event.Kind.STATUS, payload__contains='"status":"closed"')
        assert session.status == ChatSession.Status.CLOSED and closes.count() == 1
    finally:
        for reader in readers:
            reader.close()
