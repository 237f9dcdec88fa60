"""Bounded snapshots: a conversation's history and the agents' queue carry a
page at a time, and the API pages through the rest (probe, second round, items 7 and 8)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from chatbot import conversations, selectors
from chatbot.models import ChatSession, Event
from fiido.realtime.sse import dumps

pytestmark = pytest.mark.django_db


@pytest.fixture
def long_conversation():
    """A visitor's conversation of 1 + 120 messages (waiting, so the bot stays quiet)."""
    client = Client()
    name = client.post("/api/sessions", content_type="application/json").json()["session_name"]
    session = ChatSession.objects.get(name=name)
    conversations.escalate(session)
    for i in range(120):
        conversations.post_customer_message(session, content=f"message {i}")
    return client, session


def test_history_is_a_page_and_earlier_pages_follow_to_the_first_message(long_conversation):
    client, session = long_conversation
    state = client.get(f"/api/sessions/{session.name}?history=1").json()
    assert len(state["messages"]) == selectors.HISTORY_PAGE and state["has_earlier"] is True
    seen = [m["seq"] for m in state["messages"]]
    while True:
        page = client.get(f"/api/sessions/{session.name}/messages?before={seen[0]}").json()
        seen = [m["seq"] for m in page["messages"]] + seen
        if not page["has_earlier"]:
            break
    contents = [m["content"] for m in selectors.history(session, limit=500)["messages"]]
    assert len(seen) == len(set(seen)) == 121 == len(contents)
    assert seen == sorted(seen)


def test_a_stream_opening_carries_only_the_latest_page(settings, record):
    """Whatever the conversation's length, its history frame is one page of
    at most MESSAGE_MAX_CHARS-long messages."""
    session = conversations.start()
    conversations.escalate(session)
    longest = "x" * (settings.MESSAGE_MAX_CHARS - 4)
    for i in range(selectors.HISTORY_PAGE * 3):
        conversations.post_customer_message(session, content=f"{i:03} {longest}")
    frames, newest, more = selectors.stream_opening(session.pk, None, "en")
    history = json.loads(frames[1].split(b"data: ", 1)[1])
    assert history["type"] == "history" and len(history["messages"]) == selectors.HISTORY_PAGE
    assert history["has_earlier"] is True and newest == session.last_seq and more is False
    everything = sum(len(text) for text in Event.objects.filter(session=session).values_list("payload", flat=True))
    record(
        "history-bound",
        messages_in_conversation=session.message_count,
        message_chars=settings.MESSAGE_MAX_CHARS,
        history_page=selectors.HISTORY_PAGE,
        opening_frame_kib=round(len(frames[1]) / 1024),
        whole_log_kib=round(everything / 1024),
    )


@pytest.mark.parametrize("query", ["before=abc", "before=-1", "before=²", "limit=0", "limit=201", "limit=x"])
def test_bad_paging_parameters_are_400(long_conversation, query):
    client, session = long_conversation
    response = client.get(f"/api/sessions/{session.name}/messages?{query}")
    assert response.status_code == 400 and set(response.json()) == {"error"}


def test_someone_elses_earlier_messages_are_404(long_conversation):
    _, session = long_conversation
    assert Client().get(f"/api/sessions/{session.name}/messages").status_code == 404


def test_the_queue_snapshot_is_bounded_and_the_rest_is_paged(agent_user, record):
    waiting = []
    for _ in range(selectors.QUEUE_WAITING_SHOWN + 12):
        session = conversations.start()
        conversations.escalate(session)
        waiting.append(session.name)
    snapshot, _ = selectors.queue_snapshot()
    shown = [row["session_name"] for row in snapshot["sessions"] if row["status"] == "pending_manual"]
    assert shown == waiting[: selectors.QUEUE_WAITING_SHOWN]
    assert snapshot["counts"] == {"waiting": len(waiting), "offline": 0, "live": 0}
    row_bytes = len(dumps(snapshot)) / len(snapshot["sessions"])
    record(
        "queue-bound",
        waiting=len(waiting),
        rows_in_snapshot=len(snapshot["sessions"]),
        snapshot_kib=round(len(dumps(snapshot)) / 1024, 1),
        largest_possible_snapshot_kib=round(
            row_bytes
            * (selectors.QUEUE_WAITING_SHOWN + selectors.QUEUE_LIVE_SHOWN + selectors.RECENT_BOT_SESSIONS)
            / 1024
        ),
    )
    desk = Client()
    desk.force_login(agent_user)
    rest = desk.get(f"/workbench/api/sessions?status=pending_manual&cursor={snapshot['waiting_next']}").json()
    assert [row["session_name"] for row in rest["sessions"]] == waiting[selectors.QUEUE_WAITING_SHOWN :]
    assert rest["next"] is None
    pages, cursor = [], ""
    while True:
        page = desk.get(f"/workbench/api/sessions?status=pending_manual&limit=25{cursor}").json()
        pages += [row["session_name"] for row in page["sessions"]]
        if page["next"] is None:
            break
        cursor = f"&cursor={page['next']}"
    assert pages == waiting


@pytest.mark.parametrize("query", ["cursor=nonsense", "cursor=eDox", "cursor=%00", "limit=0", "limit=1000"])
def test_bad_list_paging_is_400(agent_user, query):
    desk = Client()
    desk.force_login(agent_user)
    response = desk.get(f"/workbench/api/sessions?{query}")
    assert response.status_code == 400 and set(response.json()) == {"error"}
