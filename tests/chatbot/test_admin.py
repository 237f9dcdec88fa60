"""The admin shows sessions with their messages and events, read-only."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.db.models import RestrictedError

from chatbot import conversations
from chatbot.models import ChatSession, Event, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(agent_user):
    session = conversations.start()
    conversations.post_customer_message(session, content="Where is my parcel?")
    conversations.escalate(session, reason="parcel")
    return session


def test_session_list_filters_and_searches(admin_client, session):
    listing = admin_client.get("/admin/chatbot/chatsession/")
    assert listing.status_code == 200
    assert session.name in listing.content.decode()
    assert "waiting" in listing.content.decode()
    filtered = admin_client.get("/admin/chatbot/chatsession/?status__exact=closed")
    assert session.name not in filtered.content.decode()
    found = admin_client.get("/admin/chatbot/chatsession/?q=parcel")
    assert session.name in found.content.decode()
    missing = admin_client.get("/admin/chatbot/chatsession/?q=zzzz-nothing")
    assert session.name not in missing.content.decode()


def test_session_page_shows_messages_and_events_read_only(admin_client, session):
    page = admin_client.get(f"/admin/chatbot/chatsession/{session.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Where is my parcel?" in html
    assert "pending_manual" in html
    assert 'name="messages-0-content"' not in html  # inlines are read-only


def test_message_admin_renders(admin_client, session):
    assert admin_client.get("/admin/chatbot/message/").status_code == 200


def test_notes_show_apart_from_the_transcript_and_never_in_its_views(admin_client, session, agent_user):
    """Staff see notes on the conversation's page, in their own labelled table;
    the views of what the customer saw (messages, events) never hold one."""
    conversations.add_note(session, agent=agent_user, content="gnu-4410 check the card holder")
    page = admin_client.get(f"/admin/chatbot/chatsession/{session.pk}/change/").content.decode()
    assert "only agents see these" in page and "gnu-4410" in page
    listing = admin_client.get("/admin/chatbot/message/")
    assert listing.status_code == 200 and "gnu-4410" not in listing.content.decode()
    assert "0 results" in admin_client.get("/admin/chatbot/message/?q=gnu-4410").content.decode()
    for message in Message.objects.filter(session=session):
        detail = admin_client.get(f"/admin/chatbot/message/{message.pk}/change/")
        assert detail.status_code == 200 and "gnu-4410" not in detail.content.decode()
    assert not Event.objects.filter(payload__contains="gnu-4410").exists()


def test_staff_keep_shared_canned_replies_in_the_admin(admin_client):
    from workbench.models import CannedReply

    form = {"owner": "", "shortcut": "refund-time", "title": "Refund time", "body": "Hi {customer_name}, 5 days."}
    assert admin_client.post("/admin/workbench/cannedreply/add/", form).status_code == 302
    assert CannedReply.objects.get(shortcut="refund-time").shared
    again = admin_client.post("/admin/workbench/cannedreply/add/", form)
    assert again.status_code == 200 and CannedReply.objects.count() == 1  # a second shared /refund-time
    too_long = admin_client.post("/admin/workbench/cannedreply/add/", {**form, "shortcut": "x", "body": "x" * 2001})
    assert too_long.status_code == 200 and "At most 2000 characters" in too_long.content.decode()


def test_the_change_page_edits_nothing(admin_client, session):
    """Status, agent, reason and customer fields are read-only: a POST changes nothing."""
    url = f"/admin/chatbot/chatsession/{session.pk}/change/"
    html = admin_client.get(url).content.decode()
    assert 'name="status"' not in html and 'name="escalation_reason"' not in html
    response = admin_client.post(url, {"status": "closed", "escalation_reason": "edited"})
    assert response.status_code == 403
    session.refresh_from_db()
    assert (session.status, session.escalation_reason) == ("pending_manual", "parcel")


def test_closing_from_the_admin_goes_through_the_state_machine(admin_client, session, published_events):
    with published_events(expect=2) as sent:  # the status event and "... closed the chat"
        response = admin_client.post(
            "/admin/chatbot/chatsession/",
            {"action": "close_conversations", "_selected_action": [session.pk]},
            follow=True,
        )
    assert "1 conversation(s) closed." in response.content.decode()
    session.refresh_from_db()
    assert session.status == "closed" and session.closed_at is not None
    assert Message.objects.filter(session=session, role="system", content__endswith="closed the chat").exists()
    assert [json.loads(m["data"])["type"] for g, m in sent if g.startswith("session.")] == ["status", "message"]


def test_a_refused_admin_action_says_why_and_changes_nothing(client, session, agent_user, other_agent):
    """A staff member who is not the holder (nor a superuser) cannot force a release."""
    conversations.take_over(session, agent=agent_user)
    other_agent.is_staff = True
    other_agent.save()
    other_agent.user_permissions.add(*Permission.objects.filter(codename="view_chatsession"))
    client.force_login(other_agent)
    before = Event.objects.filter(session=session).count()
    response = client.post(
        "/admin/chatbot/chatsession/",
        {"action": "release_conversations", "_selected_action": [session.pk]},
        follow=True,
    )
    assert "Only the agent in this conversation can release it." in response.content.decode()
    session.refresh_from_db()
    assert session.status == "manual_live"
    assert Event.objects.filter(session=session).count() == before


def test_a_superuser_may_force_a_release_from_the_admin(admin_client, session, agent_user):
    conversations.take_over(session, agent=agent_user)
    admin_client.post(
        "/admin/chatbot/chatsession/", {"action": "release_conversations", "_selected_action": [session.pk]}
    )
    session.refresh_from_db()
    assert session.status == "bot_active" and session.assigned_agent is None


def test_messages_cannot_be_deleted_one_by_one(admin_client, session):
    message = Message.objects.filter(session=session).first()
    assert admin_client.post(f"/admin/chatbot/message/{message.pk}/delete/", {"post": "yes"}).status_code == 403
    with pytest.raises(RestrictedError):
        message.delete()
    assert Message.objects.filter(pk=message.pk).exists()
    assert sorted(Event.objects.filter(session=session).values_list("seq", flat=True)) == [1, 2, 3, 4]


def test_erasing_from_the_admin_removes_everything_and_ends_the_streams(admin_client, session, published_events):
    name = session.name
    with published_events() as sent:
        response = admin_client.post(
            "/admin/chatbot/chatsession/",
            {"action": "erase_conversations", "_selected_action": [session.pk]},
            follow=True,
        )
    assert "1 conversation(s) erased." in response.content.decode()
    assert not ChatSession.objects.filter(name=name).exists()
    assert not Message.objects.filter(session_id=session.pk).exists()
    assert not Event.objects.filter(session_id=session.pk).exists()
    notices = [(g, json.loads(m["data"]), m["final"]) for g, m in sent]
    assert notices == [
        (f"session.{name}", {"type": "deleted", "session_name": name}, True),
        ("workbench.queue", {"type": "deleted", "session_name": name}, False),  # queue pages drop the row
        ("queue.waiting", {"type": "queue_changed"}, False),  # it was waiting: the others move up
    ]


def test_the_admin_delete_page_erases_through_the_state_machine(admin_client, session, published_events):
    url = f"/admin/chatbot/chatsession/{session.pk}/delete/"
    assert admin_client.get(url).status_code == 200  # the confirmation page lists messages and events
    with published_events() as sent:
        admin_client.post(url, {"post": "yes"})
    assert not ChatSession.objects.filter(pk=session.pk).exists()
    assert [json.loads(m["data"])["type"] for _, m in sent] == ["deleted", "deleted", "queue_changed"]
