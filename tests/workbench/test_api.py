"""The agent API: login required, the state machine's 409/403, and the takeover race."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client

from chatbot import conversations
from chatbot.exceptions import AlreadyTaken
from chatbot.models import ChatSession, Event, Message

Status = ChatSession.Status


def post(client: Client, path: str, body=None):
    return client.post(path, body or {}, content_type="application/json")


@pytest.fixture
def alice(agent_user) -> Client:
    client = Client()
    client.force_login(agent_user)
    return client


@pytest.fixture
def bob(other_agent) -> Client:
    client = Client()
    client.force_login(other_agent)
    return client


@pytest.fixture
def waiting() -> ChatSession:
    session = conversations.start()
    conversations.escalate(session, reason="Help")
    return session


AGENT_ENDPOINTS = [
    ("get", "/workbench/api/sessions"),
    ("get", "/workbench/api/sessions/{name}"),
    ("post", "/workbench/api/sessions/{name}/takeover"),
    ("post", "/workbench/api/sessions/{name}/release"),
    ("post", "/workbench/api/sessions/{name}/close"),
    ("post", "/workbench/api/sessions/{name}/messages"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), AGENT_ENDPOINTS)
def test_agent_endpoints_refuse_anonymous_with_401_and_customers_with_403(method, path, waiting, django_user_model):
    url = path.format(name=waiting.name)
    anonymous = getattr(Client(), method)(url, content_type="application/json")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "Log in as an agent first."}
    customer = Client()
    customer.force_login(django_user_model.objects.create_user("carol", password="pw-carol-123"))
    refused = getattr(customer, method)(url, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json() == {"error": "Agents only."}


@pytest.mark.django_db
def test_workbench_pages_redirect_anonymous_visitors_to_login(waiting):
    for url in ("/workbench/", f"/workbench/sessions/{waiting.name}"):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/workbench/login/")


@pytest.mark.django_db
def test_list_filters_by_status_and_puts_the_longest_waiting_first(alice, agent_user):
    first = conversations.start()
    conversations.escalate(first)
    second = conversations.start()
    conversations.escalate(second)
    live = conversations.start()
    conversations.escalate(live)
    conversations.take_over(live, agent=agent_user)
    bot = conversations.start()
    waiting = alice.get("/workbench/api/sessions?status=pending_manual").json()["sessions"]
    assert [row["session_name"] for row in waiting] == [first.name, second.name]
    assert waiting[0]["waiting_seconds"] >= 0
    assert waiting[0]["last_message"]["role"] == "bot"
    default = {row["session_name"] for row in alice.get("/workbench/api/sessions").json()["sessions"]}
    assert default == {first.name, second.name, live.name, bot.name}
    bad = alice.get("/workbench/api/sessions?status=open")
    assert bad.status_code == 400
    assert bad.json() == {"error": "Unknown status: open."}


@pytest.mark.django_db
def test_detail_has_the_full_history(alice, waiting):
    body = alice.get(f"/workbench/api/sessions/{waiting.name}").json()
    assert body["status"] == "pending_manual"
    assert [m["seq"] for m in body["messages"]] == [1]
    assert alice.get("/workbench/api/sessions/nope").status_code == 404


@pytest.mark.django_db
def test_take_over_chat_release(alice, bob, waiting):
    taken = post(alice, f"/workbench/api/sessions/{waiting.name}/takeover")
    assert taken.status_code == 200
    assert taken.json()["assigned_agent"] == {"username": "alice", "name": "Alice"}
    second = post(bob, f"/workbench/api/sessions/{waiting.name}/takeover")
    assert second.status_code == 409
    assert second.json() == {"error": "Alice took this conversation."}
    sent = post(alice, f"/workbench/api/sessions/{waiting.name}/messages", {"content": "Hi, Alice here"})
    assert sent.status_code == 201
    assert sent.json()["message"]["role"] == "agent"
    assert sent.json()["reply"] is None
    before = Message.objects.count()
    assert post(bob, f"/workbench/api/sessions/{waiting.name}/messages", {"content": "me too"}).status_code == 403
    assert post(bob, f"/workbench/api/sessions/{waiting.name}/release").status_code == 403
    assert Message.objects.count() == before
    released = post(alice, f"/workbench/api/sessions/{waiting.name}/release")
    assert released.json()["status"] == "bot_active"
    again = post(alice, f"/workbench/api/sessions/{waiting.name}/release")
    assert again.status_code == 409


@pytest.mark.django_db
def test_agent_message_bad_input_is_400(alice, waiting):
    post(alice, f"/workbench/api/sessions/{waiting.name}/takeover")
    before = Event.objects.count()
    for body in ({"content": ""}, {"content": 3}, {"content": "x", "client_id": "zz"}):
        response = post(alice, f"/workbench/api/sessions/{waiting.name}/messages", body)
        assert response.status_code == 400, body
        assert "error" in response.json()
    assert Event.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_a_takeover_race_has_exactly_one_winner(agent_user, other_agent):
    """Two agents take over at once on two real database connections; one wins."""
    session = conversations.start()
    conversations.escalate(session)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def attempt(agent) -> None:
        try:
            barrier.wait(timeout=10)
            conversations.take_over(ChatSession.objects.get(pk=session.pk), agent=agent)
            outcomes[agent.username] = "won"
        except AlreadyTaken:
            outcomes[agent.username] = "lost"
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(agent,)) for agent in (agent_user, other_agent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == ["lost", "won"]
    session.refresh_from_db()
    winner = next(name for name, outcome in outcomes.items() if outcome == "won")
    assert session.assigned_agent.username == winner
    joined = Message.objects.filter(session=session, role="system", content__endswith="has joined the chat")
    assert joined.count() == 1


@pytest.mark.django_db
def test_create_agent_makes_and_updates_an_agent(django_user_model):
    call_command("create_agent", "dave", "--password", "first-pass-1")
    user = django_user_model.objects.get(username="dave")
    assert user.groups.filter(name="agents").exists()
    assert user.check_password("first-pass-1")
    call_command("create_agent", "dave", "--password", "second-pass-2")
    user.refresh_from_db()
    assert user.check_password("second-pass-2")
    assert django_user_model.objects.filter(username="dave").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("weak", ["x", "12345678901", "password123", "erin-erin"])
def test_create_agent_refuses_a_weak_password_and_creates_nothing(django_user_model, weak):
    with pytest.raises(CommandError, match="too weak"):
        call_command("create_agent", "erin", "--password", weak, "--name", "Erin Erin")
    assert not django_user_model.objects.filter(username="erin").exists()
