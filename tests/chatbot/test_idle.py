"""Quiet conversations close themselves, on a controlled clock: the sweep is
given ``now``, and every conversation is as old as the clock says."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from chatbot import conversations, idle, payloads
from chatbot.models import ChatSession, Event

Status = ChatSession.Status
pytestmark = pytest.mark.django_db


def system_codes(session: ChatSession) -> list[str]:
    return list(session.messages.filter(role="system").order_by("id").values_list("code", flat=True))


def status_events(session: ChatSession) -> list[str]:
    return [e.payload for e in Event.objects.filter(session=session, kind=Event.Kind.STATUS)]


@pytest.fixture
def limits(settings):
    settings.IDLE_CLOSE_WAITING_MINUTES = 30
    settings.IDLE_CLOSE_LIVE_MINUTES = 60
    settings.IDLE_CLOSE_BOT_HOURS = 24
    settings.IDLE_WARNING_MINUTES = 5


def test_a_waiting_customer_who_leaves_is_warned_then_closed_on_time(limits, published_events):
    session = conversations.escalate(conversations.start(), reason="help")
    start = session.last_activity_at
    assert idle.sweep(now=start + timedelta(minutes=24)).warned == 0  # not yet
    with published_events() as sent:
        swept = idle.sweep(now=start + timedelta(minutes=26))
    assert (swept.warned, swept.closed) == (1, 0)
    assert system_codes(session)[-1] == "idle_warning"
    assert next(g for g, _ in sent) == f"session.{session.name}"  # the customer sees the warning live
    assert idle.sweep(now=start + timedelta(minutes=27)).warned == 0  # warned once
    swept = idle.sweep(now=start + timedelta(minutes=30))
    assert swept.closed == 1
    session.refresh_from_db()
    assert session.status == Status.CLOSED
    assert system_codes(session)[-1] == "idle_closed_minutes"
    last = session.messages.order_by("-id").first()
    assert payloads.system_text(last.code, last.params) == "This chat was closed after 30 minutes without activity."


def test_activity_restarts_the_clock_and_clears_the_warning(limits):
    session = conversations.escalate(conversations.start(), reason="help")
    start = session.last_activity_at
    idle.sweep(now=start + timedelta(minutes=26))
    ChatSession.objects.filter(pk=session.pk).update(last_activity_at=start - timedelta(minutes=26))  # it was then
    session.refresh_from_db()
    conversations.post_customer_message(session, content="Still here!")  # and now the customer writes
    session.refresh_from_db()
    assert session.idle_warned_at is None and session.last_activity_at >= start
    assert idle.sweep(now=session.last_activity_at + timedelta(minutes=29)).closed == 0
    assert ChatSession.objects.get(pk=session.pk).status == Status.PENDING_MANUAL
    assert idle.sweep(now=session.last_activity_at + timedelta(minutes=30)).closed == 1


def test_each_status_has_its_own_limit(limits, agent_user):
    bot = conversations.start()
    waiting = conversations.escalate(conversations.start(), reason="help")
    live = conversations.take_over(conversations.escalate(conversations.start(), reason="x"), agent=agent_user)
    start = max(s.last_activity_at for s in (bot, waiting, live))
    idle.sweep(now=start + timedelta(minutes=45))
    statuses = [ChatSession.objects.get(pk=s.pk).status for s in (bot, waiting, live)]
    assert statuses == [Status.BOT_ACTIVE, Status.CLOSED, Status.MANUAL_LIVE]
    idle.sweep(now=start + timedelta(minutes=61))
    assert ChatSession.objects.get(pk=live.pk).status == Status.CLOSED
    assert ChatSession.objects.get(pk=bot.pk).status == Status.BOT_ACTIVE
    idle.sweep(now=start + timedelta(hours=24, minutes=1))
    bot.refresh_from_db()
    assert bot.status == Status.CLOSED and system_codes(bot)[-1] == "idle_closed_hours"
    # A bot's own messages are not activity: only the customer's (or an agent's) are.


def test_an_agent_message_keeps_a_live_conversation_open(limits, agent_user):
    live = conversations.take_over(conversations.escalate(conversations.start(), reason="x"), agent=agent_user)
    ChatSession.objects.filter(pk=live.pk).update(last_activity_at=timezone.now() - timedelta(minutes=59))
    live.refresh_from_db()
    conversations.post_agent_message(live, agent=agent_user, content="Checking, one moment")
    live.refresh_from_db()
    assert idle.sweep(now=live.last_activity_at + timedelta(minutes=59)).closed == 0
    assert idle.sweep(now=live.last_activity_at + timedelta(minutes=60)).closed == 1


def test_a_limit_of_zero_never_closes(settings, limits):
    settings.IDLE_CLOSE_BOT_HOURS = 0
    bot = conversations.start()
    assert idle.sweep(now=bot.last_activity_at + timedelta(days=365)).closed == 0


def test_the_command_sweeps_now(limits, capsys):
    old = conversations.escalate(conversations.start(), reason="help")
    ChatSession.objects.filter(pk=old.pk).update(last_activity_at=timezone.now() - timedelta(hours=1))
    call_command("close_idle_conversations")
    assert "0 warned, 1 closed." in capsys.readouterr().out
    assert ChatSession.objects.get(pk=old.pk).status == Status.CLOSED


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_close_each_conversation_once(limits):
    sessions = [conversations.escalate(conversations.start(), reason="help") for _ in range(5)]
    now = max(s.last_activity_at for s in sessions) + timedelta(minutes=31)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run() -> None:
        try:
            barrier.wait()
            results.append(idle.sweep(now=now).closed)
        except BaseException as error:  # noqa: BLE001 - re-raised below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and sum(results) == 5
    for session in sessions:
        closes = [p for p in status_events(session) if '"status":"closed"' in p]
        assert len(closes) == 1
