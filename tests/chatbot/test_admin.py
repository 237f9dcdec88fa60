"""The admin shows sessions with their messages and events, read-only."""

from __future__ import annotations

import pytest

from chatbot import conversations

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
