"""An agent who leaves the desk (deleted, deactivated, out of the agents group)
hands their live conversations back to the queue, through the state machine:
each keeps its place, its customer is told, and the change is an event. Before,
deleting an agent left their conversations live with nobody (the database's
``SET NULL``, no event), and deactivating one left customers waiting on a
person who could no longer log in."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from chatbot import conversations
from chatbot.models import ChatSession, Event, Message
from workbench.permissions import AGENTS_GROUP

pytestmark = pytest.mark.django_db
Status = ChatSession.Status


def live(agent) -> ChatSession:
    session = conversations.start()
    conversations.escalate(session, reason="help")
    conversations.take_over(session, agent=agent)
    return session


def assert_back_in_the_queue(session: ChatSession, escalated_at) -> None:
    session.refresh_from_db()
    assert (session.status, session.assigned_agent_id) == (Status.PENDING_MANUAL, None)
    assert session.escalated_at == escalated_at  # the customer keeps their place
    last = Message.objects.filter(session=session).last()
    assert (last.role, last.code) == ("system", "returned_to_queue")
    status = json.loads(Event.objects.get(session=session, seq=session.last_seq - 1).payload)
    assert (status["type"], status["status"], status["previous"]) == ("status", Status.PENDING_MANUAL, "manual_live")


def test_deleting_an_agent_in_the_admin_returns_their_chats_to_the_queue(
    agent_user, other_agent, django_user_model, published_events
):
    mine, theirs = live(agent_user), live(other_agent)
    escalated_at = mine.escalated_at
    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "root-password"))
    with published_events() as sent:
        response = admin.post(f"/admin/auth/user/{agent_user.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not django_user_model.objects.filter(username="alice").exists()
    assert_back_in_the_queue(mine, escalated_at)
    assert ("session." + mine.name, "pending_manual") in {
        (group, json.loads(message["data"]).get("status")) for group, message in sent
    }
    theirs.refresh_from_db()
    assert (theirs.status, theirs.assigned_agent_id) == (Status.MANUAL_LIVE, other_agent.pk)  # nobody else's


def test_a_deactivated_agent_hands_back_and_a_login_costs_nothing(agent_user, django_assert_num_queries):
    session = live(agent_user)
    escalated_at = session.escalated_at
    with django_assert_num_queries(1):  # the UPDATE of last_login: no look for held conversations
        agent_user.save(update_fields=["last_login"])
    session.refresh_from_db()
    assert session.status == Status.MANUAL_LIVE

    agent_user.is_active = False
    agent_user.save()
    assert_back_in_the_queue(session, escalated_at)


def test_out_of_the_agents_group_from_either_side(agent_user, other_agent):
    group = Group.objects.get(name=AGENTS_GROUP)
    first, second = live(agent_user), live(other_agent)

    agent_user.groups.remove(group)
    assert_back_in_the_queue(first, first.escalated_at)

    group.user_set.clear()  # the group's side: whose members, read before the clear
    assert_back_in_the_queue(second, second.escalated_at)


def test_staff_keep_their_chats_outside_the_group(agent_user):
    """Staff are agents without the group: leaving it changes nothing for them."""
    agent_user.is_staff = True
    agent_user.save()
    session = live(agent_user)
    agent_user.groups.clear()
    session.refresh_from_db()
    assert (session.status, session.assigned_agent_id) == (Status.MANUAL_LIVE, agent_user.pk)


def test_a_deletion_that_fails_changes_no_conversation(agent_user, django_user_model):
    """The hand-back joins the deletion's transaction: undone with it."""
    from django.db import transaction

    session, pk = live(agent_user), agent_user.pk
    with pytest.raises(RuntimeError), transaction.atomic():
        agent_user.delete()
        raise RuntimeError("the deletion fails after the hand-back")
    session.refresh_from_db()
    assert (session.status, session.assigned_agent_id) == (Status.MANUAL_LIVE, pk)
    assert django_user_model.objects.filter(pk=pk).exists()
    assert not Message.objects.filter(session=session, code="returned_to_queue").exists()
