"""History: every conversation, newest first, by status, agent, dates and words,
paged by a keyset cursor; the same through the API and the History page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chatbot import conversations
from chatbot.models import ChatSession

Status = ChatSession.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(agent_user, other_agent):
    client = Client()
    client.force_login(agent_user)
    return client


def history(client, **params) -> dict:
    response = client.get("/workbench/api/sessions", params)
    assert response.status_code == 200, response.content
    return response.json()


def names(page: dict) -> list[str]:
    return [row["session_name"] for row in page["sessions"]]


def started_days_ago(session: ChatSession, days: int) -> None:
    """A conversation from the past (the clock of the test, not of the state machine)."""
    ChatSession.objects.filter(pk=session.pk).update(created_at=timezone.now() - timedelta(days=days))


def test_words_find_conversations_by_message_name_email_and_id(desk, agent_user):
    battery = conversations.start(customer_name="Ann Example", customer_email="ann@example.com")
    conversations.post_customer_message(battery, content="My battery is flat after the rain")
    other = conversations.start(customer_name="Bob")
    conversations.post_customer_message(other, content="Where is my parcel?")
    assert names(history(desk, q="battery")) == [battery.name]
    assert names(history(desk, q="flat battery")) == [battery.name]  # every word
    assert names(history(desk, q="Example")) == [battery.name]
    assert names(history(desk, q="ann@example")) == [battery.name]
    assert names(history(desk, q=other.name)) == [other.name]
    assert names(history(desk, q="nothing-like-this")) == []


def test_status_agent_and_dates_filter_and_newest_comes_first(desk, agent_user, other_agent):
    old = conversations.take_over(conversations.escalate(conversations.start(), reason="x"), agent=agent_user)
    conversations.close(old, by=agent_user)
    started_days_ago(old, 10)
    mine = conversations.take_over(conversations.escalate(conversations.start(), reason="x"), agent=agent_user)
    conversations.post_agent_message(mine, agent=agent_user, content="Hello")
    conversations.transfer(mine, by=agent_user, to=other_agent)  # I wrote in it: still mine to find
    bobs = conversations.take_over(conversations.escalate(conversations.start(), reason="x"), agent=other_agent)
    today = timezone.localdate()
    assert names(history(desk, agent="me")) == [mine.name, old.name]
    assert names(history(desk, agent="bob")) == [bobs.name, mine.name]
    assert names(history(desk, agent="anyone", status="closed")) == [old.name]
    assert old.name not in names(history(desk, since=str(today - timedelta(days=2))))
    assert names(history(desk, until=str(today - timedelta(days=10)))) == [old.name]  # until is inclusive
    assert names(history(desk, since=str(today), until=str(today))) == [bobs.name, mine.name]


def test_the_keyset_cursor_pages_without_gaps_or_repeats(desk):
    made = [conversations.start() for _ in range(7)]
    seen, cursor = [], None
    while True:
        page = history(desk, q=" ", since="2000-01-01", limit=3, **({"cursor": cursor} if cursor else {}))
        seen += names(page)
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [s.name for s in reversed(made)]


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"since": "2026-13-01"}, "since must be a date"),
        ({"until": "yesterday"}, "until must be a date"),
        ({"since": "2026-05-02", "until": "2026-05-01"}, "since is after until"),
        ({"q": "x" * 201}, "q is longer than 200"),
        ({"agent": "nobody"}, "No agent is called"),
        ({"q": "x", "cursor": "not-a-cursor"}, "cursor"),
        ({"q": "x", "cursor": "bzo1"}, "cursor"),  # an offset cursor of the queue's list
    ],
)
def test_bad_filters_are_400s(desk, params, problem):
    response = desk.get("/workbench/api/sessions", params)
    assert response.status_code == 400 and problem in response.json()["error"]


def test_the_history_page_lists_and_refuses_like_the_api(desk, client):
    session = conversations.start(customer_name="Cid")
    conversations.post_customer_message(session, content="warranty question")
    page = desk.get("/workbench/history", {"q": "warranty"})
    assert page.status_code == 200 and f'data-session="{session.name}"' in page.content.decode()
    bad = desk.get("/workbench/history", {"since": "2026-02-30"})
    assert bad.status_code == 400 and "since must be a date" in bad.content.decode()
    assert client.get("/workbench/history").status_code == 302  # not logged in: the login page
    assert client.get("/workbench/api/sessions", {"q": "warranty"}).status_code == 401
