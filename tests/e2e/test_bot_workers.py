"""The bot across real daphne workers sharing one Redis: a question asked on one
worker is answered, cards and all, on a stream served by the other."""

from __future__ import annotations

import pytest

from chatbot.demo import seed_orders_and_faq
from tests.support import SSEReader, customer

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def live_messages(stream: SSEReader) -> list[dict]:
    return [event["message"] for event in stream.of_type("message")]


def test_a_customer_question_in_bot_active_is_answered_across_workers(workers, redis_url):
    seed_orders_and_faq()
    first, second = workers(2, REDIS_URL=redis_url)
    visitor, name = customer(first.url)
    stream = SSEReader(f"{second.url}/api/sessions/{name}/events", cookies=visitor.client.cookies).wait_connected()
    try:
        stream.wait_for(lambda r: r.of_type("history"), what="history")
        response = visitor.post(
            f"/api/sessions/{name}/messages", {"content": "Where is my order UK22080? My email is oliver@example.com"}
        )
        assert response.status_code == 201, response.text
        reply = response.json()["reply"]
        assert reply["role"] == "bot"

        shown = stream.wait_for(
            lambda r: [m for m in live_messages(r) if m["role"] == "bot"], what="the bot's reply on the other worker"
        )
        (bot,) = shown
        assert bot["id"] == reply["id"] and bot["html"] == reply["html"]
        cards = [part for part in bot["parts"] if part["type"] == "card"]
        assert [(c["title"], c["carrier"], c["tracking_number"]) for c in cards] == [
            ("Fiido D11 Folding E-bike", "DPD", "15501234567890"),
            ("Fiido Rear Rack", "Royal Mail", "RM123456785GB"),
        ]
        assert 'rel="noopener noreferrer"' in bot["html"]
        assert [m["role"] for m in live_messages(stream)] == ["user", "bot"]

        # Asking for a person on the second worker moves the session to the queue for both.
        with visitor.at(second.url) as elsewhere:
            handoff = visitor.post(f"/api/sessions/{name}/messages", {"content": "转人工"}, client=elsewhere)
        assert handoff.status_code == 201, handoff.text
        status = stream.wait_for(lambda r: r.of_type("status"), what="the escalation")
        assert status[0]["status"] == "pending_manual" and status[0]["previous"] == "bot_active"
        assert status[0]["escalation_reason"] == "Customer asked for a person"
        state = visitor.client.get(f"/api/sessions/{name}").json()
        assert state["status"] == "pending_manual"
        ids = stream.ids()
        assert ids == sorted(set(ids))
    finally:
        stream.close()
        visitor.close()
