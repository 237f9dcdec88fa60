"""The customer JSON API: ownership, idempotent sends, and every kind of bad input."""

from __future__ import annotations

import json
import uuid

import pytest
from django.contrib.sessions.models import Session as DjangoSession
from django.test import Client
from django.utils.html import escape

from chatbot import conversations
from chatbot.bots import get_bot
from chatbot.models import ChatSession, Event, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def visitor() -> Client:
    return Client()


def start(client: Client) -> str:
    response = client.post("/api/sessions", content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["session_name"]


def counts() -> tuple[int, int, int]:
    return ChatSession.objects.count(), Message.objects.count(), Event.objects.count()


def post(client: Client, path: str, body=None, **extra):
    return client.post(path, body if body is not None else {}, content_type="application/json", **extra)


def test_start_returns_the_session_state_with_history(visitor):
    response = visitor.post("/api/sessions", content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {
        "session_name",
        "status",
        "assigned_agent",
        "escalation_reason",
        "escalated_at",
        "message_count",
        "last_event_id",
        "messages",
    }
    assert body["status"] == "bot_active"
    assert body["last_event_id"] == 1
    assert body["messages"][0]["role"] == "bot"


def test_the_creator_reads_its_session_and_another_visitor_gets_404(visitor):
    name = start(visitor)
    state = visitor.get(f"/api/sessions/{name}")
    assert state.status_code == 200
    assert state.json()["session_name"] == name
    stranger = Client()
    for response in (
        stranger.get(f"/api/sessions/{name}"),
        post(stranger, f"/api/sessions/{name}/messages", {"content": "hi"}),
        post(stranger, f"/api/sessions/{name}/escalate"),
        post(stranger, f"/api/sessions/{name}/close"),
    ):
        assert response.status_code == 404
        assert response.json() == {"error": "Session not found."}


def test_unknown_session_is_404(visitor):
    assert visitor.get("/api/sessions/nope").json() == {"error": "Session not found."}


def test_message_answers_201_with_the_bot_reply_and_a_retry_answers_200(visitor):
    name = start(visitor)
    client_id = str(uuid.uuid4())
    first = post(visitor, f"/api/sessions/{name}/messages", {"content": "Hello", "client_id": client_id})
    assert first.status_code == 201
    body = first.json()
    assert body["message"]["client_id"] == client_id
    assert body["message"]["content"] == "Hello"
    assert body["reply"]["role"] == "bot"
    before = counts()
    again = post(visitor, f"/api/sessions/{name}/messages", {"content": "Hello", "client_id": client_id})
    assert again.status_code == 200
    assert again.json() == body
    assert counts() == before


def test_message_without_client_id_gets_one(visitor):
    name = start(visitor)
    body = post(visitor, f"/api/sessions/{name}/messages", {"content": "Hi"}).json()
    assert uuid.UUID(body["message"]["client_id"])


def test_escalate_then_cancel_then_close(visitor):
    name = start(visitor)
    escalated = post(visitor, f"/api/sessions/{name}/escalate", {"reason": "Need help"})
    assert escalated.status_code == 200
    assert escalated.json()["status"] == "pending_manual"
    assert escalated.json()["escalation_reason"] == "Need help"
    assert post(visitor, f"/api/sessions/{name}/cancel-escalation").json()["status"] == "bot_active"
    assert post(visitor, f"/api/sessions/{name}/close").json()["status"] == "closed"


def test_illegal_transition_is_409_and_changes_nothing(visitor):
    name = start(visitor)
    before = counts()
    response = post(visitor, f"/api/sessions/{name}/cancel-escalation")
    assert response.status_code == 409
    assert response.json() == {"error": "No request for a person is waiting."}
    post(visitor, f"/api/sessions/{name}/close")
    before = counts()
    closed = post(visitor, f"/api/sessions/{name}/messages", {"content": "hello?"})
    assert closed.status_code == 409
    assert "closed" in closed.json()["error"]
    assert counts() == before


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "The request body is not valid JSON."),
        (b"[1, 2]", "The request body must be a JSON object."),
        (b'"text"', "The request body must be a JSON object."),
        (b"\xff\xfe", "The request body is not valid JSON."),
        (b"{}", "content must be a string."),
        (b'{"content": 5}', "content must be a string."),
        (b'{"content": ["a"]}', "content must be a string."),
        (b'{"content": "   "}', "content must not be blank."),
        (b'{"content": "ok", "client_id": "123"}', "client_id must be a UUID."),
        (b'{"content": "ok", "client_id": 7}', "client_id must be a UUID string."),
    ],
)
def test_bad_message_bodies_are_400_and_change_nothing(visitor, body, error):
    name = start(visitor)
    before = counts()
    response = visitor.post(f"/api/sessions/{name}/messages", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert counts() == before


def test_content_over_the_limit_is_400(visitor, settings):
    settings.MESSAGE_MAX_CHARS = 50
    name = start(visitor)
    before = counts()
    response = post(visitor, f"/api/sessions/{name}/messages", {"content": "x" * 51})
    assert response.status_code == 400
    assert response.json() == {"error": "content is longer than 50 characters."}
    assert counts() == before


def test_a_body_over_64_kib_is_413_and_changes_nothing(visitor):
    name = start(visitor)
    before = counts()
    response = post(visitor, f"/api/sessions/{name}/messages", {"content": "x" * 70_000})
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]
    assert counts() == before


def test_wrong_method_is_405_json(visitor):
    name = start(visitor)
    response = visitor.put(f"/api/sessions/{name}/messages")
    assert response.status_code == 405
    assert response.json() == {"error": "Method not allowed."}
    assert response["Allow"] == "GET, POST"


def test_a_bad_reason_is_400(visitor):
    name = start(visitor)
    response = post(visitor, f"/api/sessions/{name}/escalate", {"reason": {"a": 1}})
    assert response.status_code == 400
    assert response.json() == {"error": "reason must be a string."}


def test_csrf_stays_on_for_every_post():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/sessions", content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"].startswith("CSRF verification failed")
    client.get("/")  # the page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    ok = client.post("/api/sessions", content_type="application/json", headers={"X-CSRFToken": token})
    assert ok.status_code == 201


def test_the_chat_page_stores_nothing_until_the_visitor_writes(visitor):
    """A cookie-less GET / wrote four rows (session, conversation, greeting, event):
    a crawler or a flood of page loads now costs none."""
    before = (counts(), DjangoSession.objects.count())
    page = visitor.get("/")
    assert page.status_code == 200 and page.context["session"] is None
    assert 'data-session=""' in page.content.decode()
    assert escape(get_bot().greeting()) in page.content.decode()  # shown, not stored
    assert (counts(), DjangoSession.objects.count()) == before
    assert visitor.head("/").status_code == 200  # HEAD answers as GET does


def test_the_chat_page_resumes_the_same_conversation(visitor):
    name = start(visitor)
    assert visitor.get("/").context["session"].name == name
    assert visitor.get("/").context["session"].name == name
    post(visitor, f"/api/sessions/{name}/close")
    assert visitor.get("/").context["session"] is None


def test_healthz_reports_database_and_layer(visitor, settings):
    settings.REDIS_URL = ""
    response = visitor.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "channel_layer": "in-memory"}


def test_healthz_reports_an_unreachable_redis_as_degraded(visitor, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = visitor.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "channel_layer": "degraded"}


@pytest.mark.parametrize("email", ["not-an-email <script>", "a@", "@b.example", "a b@c.example"])
def test_a_malformed_customer_email_is_400_and_starts_nothing(visitor, email):
    before = counts()
    response = post(visitor, "/api/sessions", {"customer_email": email})
    assert response.status_code == 400 and "customer_email" in response.json()["error"]
    assert counts() == before


def test_a_customer_name_loses_its_invisible_characters(visitor):
    """A right-to-left override or zero-width joiner must not make a name pose as another."""
    response = post(
        visitor, "/api/sessions", {"customer_name": "Fiido\u202e troppuS\u200d  Team", "customer_email": "a@b.example"}
    )
    assert response.status_code == 201
    assert ChatSession.objects.get(name=response.json()["session_name"]).customer_name == "Fiido troppuS Team"


def test_bubbles_say_who_speaks_whatever_name_a_customer_chose(visitor, agent_user):
    name = post(visitor, "/api/sessions", {"customer_name": "Alice, Fiido Support"}).json()["session_name"]
    session = ChatSession.objects.get(name=name)
    conversations.escalate(session)
    conversations.take_over(session, agent=agent_user)
    said = post(visitor, f"/api/sessions/{name}/messages", {"content": "hi"}).json()["message"]["html"]
    answered = conversations.post_agent_message(session, agent=agent_user, content="hello").message["html"]
    assert '<span class="bubble__tag">Customer</span>' in said
    assert '<span class="bubble__tag">Agent</span>' in answered


def test_the_customer_says_who_they_are(client, published_events):
    name = client.post("/api/sessions", b"{}", content_type="application/json").json()["session_name"]
    url = f"/api/sessions/{name}"
    with published_events() as sent:
        response = client.patch(
            url, {"customer_name": "Ann", "customer_email": "ann@example.com"}, content_type="application/json"
        )
    assert response.status_code == 200 and response.json()["status"] == "bot_active"
    event = json.loads(sent[0][1]["data"])
    assert event == {
        "type": "customer",
        "session_name": name,
        "seq": event["seq"],
        "customer_name": "Ann",
        "customer_email": "ann@example.com",
    }
    assert "workbench.queue" in [group for group, _ in sent]  # queue rows show the name
    for body, problem in (
        ({"customer_email": "not an email"}, "customer_email"),
        ({"customer_name": "x" * 101}, "customer_name"),
        ({}, "customer_name, customer_email"),
        ({"customer_name": 5}, "customer_name"),
    ):
        refused = client.patch(url, body, content_type="application/json")
        assert refused.status_code == 400 and problem in refused.json()["error"], (body, refused.content)
    session = ChatSession.objects.get(name=name)
    assert (session.customer_name, session.customer_email) == ("Ann", "ann@example.com")
    client.post(f"{url}/close", b"{}", content_type="application/json")
    closed = client.patch(url, {"customer_name": "Bea"}, content_type="application/json")
    assert closed.status_code == 409 and ChatSession.objects.get(name=name).customer_name == "Ann"
