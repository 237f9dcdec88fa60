"""Ratings: the customer rates their closed conversation once, 1 to 5 with an
optional comment; agents see it in the event log."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from chatbot import conversations
from chatbot.models import ChatSession, Event, Rating

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer() -> Client:
    return Client()


def start(client: Client) -> str:
    response = client.post("/api/sessions", {}, content_type="application/json")
    assert response.status_code == 201
    return response.json()["session_name"]


def rate(client: Client, name: str, body) -> tuple[int, dict]:
    response = client.post(f"/api/sessions/{name}/rating", body, content_type="application/json")
    return response.status_code, response.json()


def test_a_closed_conversation_is_rated_once_and_agents_see_it(customer):
    name = start(customer)
    assert customer.post(f"/api/sessions/{name}/close").status_code == 200
    status, body = rate(customer, name, {"score": 4, "comment": "  Helpful  "})
    assert status == 201
    assert (body["rating"]["score"], body["rating"]["comment"]) == (4, "Helpful")
    event = Event.objects.filter(session__name=name).order_by("-seq").first()
    assert event.kind == Event.Kind.RATING
    assert json.loads(event.payload)["rating"]["score"] == 4
    assert ChatSession.objects.get(name=name).last_seq == event.seq
    status, body = rate(customer, name, {"score": 1})
    assert (status, body) == (409, {"error": "This conversation is already rated."})
    assert Rating.objects.get(session__name=name).score == 4


def test_an_open_conversation_cannot_be_rated_yet(customer):
    name = start(customer)
    assert rate(customer, name, {"score": 5}) == (409, {"error": "Rate the conversation once it is closed."})
    assert not Rating.objects.exists()


@pytest.mark.parametrize("score", [0, 6, "5", 4.5, True, None])
def test_a_score_must_be_a_whole_number_from_1_to_5(customer, score):
    name = start(customer)
    customer.post(f"/api/sessions/{name}/close")
    assert rate(customer, name, {"score": score}) == (400, {"error": "score must be a whole number from 1 to 5."})
    assert not Rating.objects.exists()


def test_a_comment_is_text_within_the_message_limit(customer, settings):
    name = start(customer)
    customer.post(f"/api/sessions/{name}/close")
    limit = settings.MESSAGE_MAX_CHARS
    status, body = rate(customer, name, {"score": 3, "comment": "x" * (limit + 1)})
    assert (status, body) == (400, {"error": f"comment is longer than {limit} characters."})
    assert rate(customer, name, {"score": 3, "comment": 7})[0] == 400
    assert not Rating.objects.exists()


def test_only_the_conversations_customer_may_rate_it(customer):
    name = start(customer)
    customer.post(f"/api/sessions/{name}/close")
    assert rate(Client(), name, {"score": 5})[0] == 404
    assert rate(customer, "no-such-conversation", {"score": 5})[0] == 404
    assert not Rating.objects.exists()


def test_the_event_log_records_statuses_holders_and_agents_messages(agent_user):
    """The report columns: a status event's new status and holder, an agent message's author."""
    session = conversations.take_over(conversations.escalate(conversations.start(), reason="x"), agent=agent_user)
    conversations.post_agent_message(session, agent=agent_user, content="Hi")
    columns = list(Event.objects.filter(session=session).order_by("seq").values_list("kind", "status", "agent"))
    assert columns == [
        ("message", "", None),  # the greeting
        ("status", "pending_manual", None),
        ("status", "manual_live", agent_user.pk),
        ("message", "", None),  # "Alice has joined the chat"
        ("message", "", agent_user.pk),
    ]
