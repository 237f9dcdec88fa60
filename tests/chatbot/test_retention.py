"""Erasure: conversations.purge and the retention command built on it."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from chatbot import conversations
from chatbot.models import ChatSession, Event, Message

pytestmark = pytest.mark.django_db


def closed_days_ago(days: int) -> ChatSession:
    session = conversations.start()
    conversations.post_customer_message(session, content="hello")
    conversations.close(session)
    ChatSession.objects.filter(pk=session.pk).update(closed_at=timezone.now() - timedelta(days=days))
    return session


def test_close_records_when(agent_user):
    session = conversations.start()
    before = timezone.now()
    conversations.close(session)
    session.refresh_from_db()
    assert session.closed_at >= before


def test_purge_erases_the_conversation_and_tells_its_streams(published_events):
    session = conversations.start()
    conversations.post_customer_message(session, content="erase me")
    with published_events() as sent:
        conversations.purge(session)
    assert not ChatSession.objects.filter(pk=session.pk).exists()
    assert not Message.objects.filter(session_id=session.pk).exists()
    assert not Event.objects.filter(session_id=session.pk).exists()
    assert [(g, json.loads(m["data"])) for g, m in sent] == [
        (f"session.{session.name}", {"type": "deleted", "session_name": session.name}),
        ("workbench.queue", {"type": "deleted", "session_name": session.name}),
    ]


def test_retention_erases_only_conversations_closed_before_the_date():
    old, recent = closed_days_ago(40), closed_days_ago(5)
    still_open = conversations.start()
    cutoff = (timezone.now() - timedelta(days=30)).date().isoformat()
    out = io.StringIO()
    call_command("purge_conversations", "--closed-before", cutoff, "--dry-run", stdout=out)
    assert "1 conversation(s)" in out.getvalue()
    assert ChatSession.objects.filter(pk=old.pk).exists()
    call_command("purge_conversations", "--closed-before", cutoff, stdout=out)
    assert "Erased 1 conversation(s)" in out.getvalue()
    assert set(ChatSession.objects.values_list("pk", flat=True)) == {recent.pk, still_open.pk}
    call_command("purge_conversations", "--older-than-days", "3", stdout=out)
    assert set(ChatSession.objects.values_list("pk", flat=True)) == {still_open.pk}


@pytest.mark.parametrize("argv", [["--closed-before", "last tuesday"], ["--closed-before", "2026-13-45"], []])
def test_retention_refuses_a_bad_date_and_erases_nothing(argv):
    closed_days_ago(40)
    with pytest.raises(CommandError):
        call_command("purge_conversations", *argv)
    assert ChatSession.objects.count() == 1
