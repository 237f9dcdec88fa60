"""Capacity and automatic assignment: nobody over their limit, the least busy
available agent first, the oldest waiting first, exactly once under races.

Presence itself (who has a workbench page open) is tested on real workers in
tests/e2e/test_presence.py; here it is given, as the set of online agents."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from chatbot import conversations
from chatbot.exceptions import AtCapacity
from chatbot.models import ChatSession
from workbench import assignment, presence
from workbench.management.commands.create_agent import ensure_agent
from workbench.models import AgentPreferences

Status = ChatSession.Status


@pytest.fixture
def online(monkeypatch):
    """The agents who have a workbench page open (as fiido.realtime.presence would say)."""
    ids: set[int] = set()
    monkeypatch.setattr(presence, "online_ids", lambda: set(ids))
    return ids


def agent(name: str, *, max_live: int | None = None):
    user, _ = ensure_agent(name, None, first_name=name.title())
    if max_live is not None:
        AgentPreferences.objects.update_or_create(user=user, defaults={"max_live": max_live})
    return user


def waiting(reason: str = "help") -> ChatSession:
    session = conversations.start()
    return conversations.escalate(session, reason=reason)


def live_of(user) -> list[str]:
    return sorted(
        ChatSession.objects.filter(status=Status.MANUAL_LIVE, assigned_agent=user).values_list("name", flat=True)
    )


@pytest.mark.django_db
def test_a_take_over_beyond_capacity_is_a_409_that_says_why(settings):
    settings.AGENT_MAX_LIVE = 2
    alice = agent("alice")
    client = Client()
    client.force_login(alice)
    sessions = [waiting() for _ in range(3)]
    for session in sessions[:2]:
        assert client.post(f"/workbench/api/sessions/{session.name}/takeover").status_code == 200
    refused = client.post(f"/workbench/api/sessions/{sessions[2].name}/takeover")
    assert refused.status_code == 409
    assert refused.json() == {"error": "Alice already has 2 live conversations (the most is 2)."}
    assert ChatSession.objects.get(pk=sessions[2].pk).status == Status.PENDING_MANUAL
    # The agent's own limit (set in the admin) wins over the setting.
    AgentPreferences.objects.update_or_create(user=alice, defaults={"max_live": 3})
    assert client.post(f"/workbench/api/sessions/{sessions[2].name}/takeover").status_code == 200


@pytest.mark.django_db
def test_joining_and_transfers_respect_capacity_too():
    alice, bob = agent("alice"), agent("bob", max_live=1)
    held = conversations.take_over(waiting(), agent=bob, max_live=1)
    with pytest.raises(AtCapacity):
        conversations.take_over(conversations.start(), agent=bob, max_live=1)  # joining a bot conversation
    mine = conversations.take_over(waiting(), agent=alice)
    client = Client()
    client.force_login(alice)
    refused = client.post(
        f"/workbench/api/sessions/{mine.name}/transfer", '{"to": "bob"}', content_type="application/json"
    )
    assert refused.status_code == 409 and "Bob already has 1" in refused.json()["error"]
    assert live_of(bob) == [held.name]


@pytest.mark.django_db
def test_auto_assign_gives_the_oldest_waiting_to_the_least_busy_available_agent(settings, online):
    settings.AUTO_ASSIGN = True
    alice, bob, carol = agent("alice"), agent("bob"), agent("carol")
    online.update({alice.pk, bob.pk, carol.pk})
    AgentPreferences.objects.update_or_create(user=carol, defaults={"away": True})  # away: never assigned
    now = timezone.now()
    AgentPreferences.objects.update_or_create(user=alice, defaults={"last_assigned_at": now})
    AgentPreferences.objects.update_or_create(user=bob, defaults={"last_assigned_at": now - timedelta(hours=1)})
    first = waiting()  # alice and bob have none: bob was assigned longest ago
    assert ChatSession.objects.get(pk=first.pk).assigned_agent == bob
    second = waiting()  # alice has fewer now
    assert ChatSession.objects.get(pk=second.pk).assigned_agent == alice
    assert live_of(carol) == []
    system = first.messages.filter(role="system").values_list("content", flat=True)
    assert "Bob has joined the chat" in list(system)


@pytest.mark.django_db
def test_three_escalations_two_places_then_a_close_frees_one(settings, online):
    settings.AUTO_ASSIGN = True
    alice, bob = agent("alice", max_live=1), agent("bob", max_live=1)
    online.update({alice.pk, bob.pk})
    first, second, third = waiting(), waiting(), waiting()
    statuses = [ChatSession.objects.get(pk=s.pk).status for s in (first, second, third)]
    assert statuses == [Status.MANUAL_LIVE, Status.MANUAL_LIVE, Status.PENDING_MANUAL]
    holder = ChatSession.objects.get(pk=first.pk).assigned_agent
    conversations.close(ChatSession.objects.get(pk=first.pk), by=holder)
    third.refresh_from_db()
    assert third.status == Status.MANUAL_LIVE and third.assigned_agent == holder
    assert len(live_of(alice)) == len(live_of(bob)) == 1


@pytest.mark.django_db
def test_nobody_available_means_the_queue_waits_until_someone_comes_online(settings, online):
    settings.AUTO_ASSIGN = True
    alice = agent("alice")
    session = waiting()
    assert ChatSession.objects.get(pk=session.pk).status == Status.PENDING_MANUAL
    online.add(alice.pk)
    presence.set_presence(alice, "away")
    assert ChatSession.objects.get(pk=session.pk).status == Status.PENDING_MANUAL
    presence.set_presence(alice, "online")  # back: the waiting conversation is hers
    assert ChatSession.objects.get(pk=session.pk).assigned_agent == alice


@pytest.mark.django_db
def test_without_auto_assign_nothing_is_assigned(online):
    alice = agent("alice")
    online.add(alice.pk)
    session = waiting()
    assert ChatSession.objects.get(pk=session.pk).status == Status.PENDING_MANUAL
    assert assignment.assign_waiting() == 0


@pytest.mark.django_db(transaction=True)
def test_two_escalations_racing_for_one_place_assign_exactly_one(settings, online):
    settings.AUTO_ASSIGN = True
    alice = agent("alice", max_live=1)
    sessions = [conversations.start() for _ in range(2)]
    online.add(alice.pk)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def escalate(session: ChatSession) -> None:
        try:
            barrier.wait()
            conversations.escalate(session, reason="race")
        except BaseException as error:  # noqa: BLE001 - re-raised below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=escalate, args=(session,)) for session in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    statuses = sorted(ChatSession.objects.filter(pk__in=[s.pk for s in sessions]).values_list("status", flat=True))
    assert statuses == [Status.MANUAL_LIVE, Status.PENDING_MANUAL]
    assert len(live_of(alice)) == 1
