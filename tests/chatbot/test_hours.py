"""Support hours, after-hours requests and the email that answers them."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail as outbox
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.utils import timezone

from chatbot import conversations, hours, mail
from chatbot.models import ChatSession, Message, OutgoingEmail

Status = ChatSession.Status


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_rules_holidays_and_the_next_opening():
    week = hours.parse("Mon-Fri 09:00-18:00; Sat 10:00-14:00", "2026-12-25", "Europe/London")
    assert week.open_at(at("2026-12-01T10:00"))  # a Tuesday, 10:00 in London (UTC in winter)
    assert not week.open_at(at("2026-12-01T18:00"))  # the end is exclusive
    assert not week.open_at(at("2026-12-06T11:00"))  # Sunday
    assert week.open_at(at("2026-12-05T13:59")) and not week.open_at(at("2026-12-05T14:00"))
    assert not week.open_at(at("2026-12-25T10:00"))  # a holiday (a Friday)
    assert week.next_opening(at("2026-12-24T19:00")) == at("2026-12-26T10:00")  # skips Christmas: Saturday
    assert week.next_opening(at("2026-12-06T12:00")) == at("2026-12-07T09:00")
    summer = hours.parse("Mon-Fri 09:00-18:00", "", "Europe/London")
    assert summer.next_opening(at("2026-07-04T12:00")) == datetime.fromisoformat("2026-07-06T08:00+00:00")  # BST
    always = hours.parse("", "", "UTC")
    assert always.open_at(at("2026-12-25T03:00")) and always.next_opening(at("2026-12-25T03:00")) is None
    late = hours.parse("Fri-Mon 20:00-24:00", "", "UTC")  # wraps over the week, to midnight
    assert late.open_at(at("2026-12-07T23:59")) and not late.open_at(at("2026-12-08T20:30"))


@pytest.mark.parametrize(
    ("rules", "holidays", "zone", "problem"),
    [
        ("Mon-Fri 9-18", "", "UTC", "not like"),
        ("Mun 09:00-18:00", "", "UTC", "unknown day"),
        ("Mon 18:00-09:00", "", "UTC", "ends before"),
        ("Mon 09:00-25:00", "", "UTC", "not a time"),
        ("", "2026-02-30", "UTC", "SUPPORT_HOLIDAYS"),
        ("", "", "Mars/Olympus", "SUPPORT_TIME_ZONE"),
    ],
)
def test_a_bad_setting_says_what_is_wrong(rules, holidays, zone, problem):
    with pytest.raises(ImproperlyConfigured, match=problem):
        hours.parse(rules, holidays, zone)


@pytest.fixture
def closed_today(settings):
    """Support hours that are closed now: today is a holiday."""
    today = timezone.now().astimezone(UTC).date()
    settings.SUPPORT_HOURS = "Mon-Sun 00:00-24:00"
    settings.SUPPORT_TIME_ZONE = "UTC"
    settings.SUPPORT_HOLIDAYS = today.isoformat()
    return today


@pytest.mark.django_db
def test_support_status_says_when_it_opens(closed_today, client, settings):
    status = client.get("/api/support-status").json()
    assert status == {"open": False, "next_open": f"{closed_today + timedelta(days=1)}T00:00:00+00:00"}
    settings.SUPPORT_HOLIDAYS = ""
    # Nobody has the workbench open in this test: a presence namespace of its own, since the
    # agents of an earlier test's workers count as online until their entries expire.
    settings.REDIS_PREFIX = f"hours-{uuid.uuid4().hex}"
    settings.SUPPORT_OFFLINE_WITHOUT_AGENTS = True
    assert client.get("/api/support-status").json() == {"open": False, "next_open": None}
    settings.SUPPORT_OFFLINE_WITHOUT_AGENTS = False
    assert client.get("/api/support-status").json() == {"open": True, "next_open": None}


@pytest.mark.django_db
def test_after_hours_a_request_needs_an_email_and_is_answered_by_email(closed_today, settings, agent_user):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://desk.example.com"
    customer = Client()
    name = customer.post("/api/sessions", b"{}", content_type="application/json").json()["session_name"]
    refused = customer.post(f"/api/sessions/{name}/escalate", b"{}", content_type="application/json")
    assert refused.status_code == 400 and "email" in refused.json()["error"]
    assert ChatSession.objects.get(name=name).status == Status.BOT_ACTIVE
    customer.patch(f"/api/sessions/{name}", {"customer_email": "ann@example.com"}, content_type="application/json")
    state = customer.post(f"/api/sessions/{name}/escalate", b"{}", content_type="application/json").json()
    assert state["status"] == "pending_manual" and state["offline_request"] is True
    assert state["queue_position"] is None  # in no live queue

    session = ChatSession.objects.get(name=name)
    conversations.take_over(session, agent=agent_user)
    conversations.post_agent_message(session, agent=agent_user, content="Your battery ships tomorrow.")
    queued = OutgoingEmail.objects.get(session=session)
    assert queued.sent_at is None and queued.to == "ann@example.com"
    assert mail.send_pending() == 1 and mail.send_pending() == 0  # sent once
    (email,) = outbox.outbox
    assert email.to == ["ann@example.com"] and "Your battery ships tomorrow." in email.body
    link = re.search(r"https://desk\.example\.com(/resume/\S+)", email.body).group(1)

    # The link, opened in any browser, reopens the conversation there.
    elsewhere = Client()
    opened = elsewhere.get(link)
    assert opened.status_code == 302 and opened["Location"] == f"/?c={name}"
    page = elsewhere.get(opened["Location"])
    assert "Your battery ships tomorrow." in page.content.decode()
    assert elsewhere.get(link[:-3] + "xyz").status_code == 400  # forged
    # The customer writes again: they are back, and replies stop going by email.
    elsewhere.post(f"/api/sessions/{name}/messages", {"content": "Thanks!"}, content_type="application/json")
    conversations.post_agent_message(session, agent=agent_user, content="You are welcome.")
    assert OutgoingEmail.objects.filter(session=session).count() == 1


@pytest.mark.django_db
def test_a_failing_mail_server_delays_the_email_and_loses_nothing(settings, agent_user):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1  # nothing listens
    session = conversations.start(customer_email="ann@example.com")
    conversations.escalate(session, reason="x", offline=True)
    conversations.take_over(session, agent=agent_user)
    conversations.post_agent_message(session, agent=agent_user, content="Hello")
    assert mail.send_pending() == 0
    email = OutgoingEmail.objects.get(session=session)
    assert email.sent_at is None and email.attempts == 1 and email.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert mail.send_pending() == 1 and len(outbox.outbox) == 1


@pytest.mark.django_db
def test_an_offline_request_is_never_closed_for_idleness(settings):
    session = conversations.start(customer_email="ann@example.com")
    conversations.escalate(session, reason="x", offline=True)
    from chatbot import idle

    assert idle.sweep(now=timezone.now() + timedelta(days=3)).closed == 0
    assert ChatSession.objects.get(pk=session.pk).status == Status.PENDING_MANUAL


@pytest.mark.django_db
def test_after_hours_the_bot_hands_over_only_as_an_offline_request(closed_today, settings):
    """A customer asks the bot for a person while support is closed: with their
    email known that is an offline request, as the button makes one; without it
    nobody could answer, so the bot keeps the conversation and says how to
    leave a message. Either way the system message is the answer: the bot's
    "connecting you with a person now" would promise what nobody can keep.
    Open again, the bot hands over to the live queue, in its own words."""
    from chatbot.bots.builtin import HANDOFF_REPLY

    def asks_for_a_person(session: ChatSession) -> tuple[list[str], str]:
        """The system messages so far, and who answered (the answer the page shows at once)."""
        posted = conversations.post_customer_message(session, content="I want to talk to a human")
        session.refresh_from_db()
        codes = list(session.messages.filter(role=Message.Role.SYSTEM).values_list("code", flat=True))
        answer = session.messages.get(reply_to__pk=posted.message["id"])
        assert posted.reply["id"] == answer.pk
        return codes, answer.role

    anonymous = conversations.start()
    assert asks_for_a_person(anonymous) == (["support_closed"], Message.Role.SYSTEM)
    assert (anonymous.status, anonymous.offline_request) == (Status.BOT_ACTIVE, False)

    known = conversations.start()
    conversations.identify(known, details={"customer_email": "ann@example.com"})
    assert asks_for_a_person(known) == (["offline_request"], Message.Role.SYSTEM)
    assert (known.status, known.offline_request) == (Status.PENDING_MANUAL, True)
    promises = Message.objects.filter(role=Message.Role.BOT, content=str(HANDOFF_REPLY))
    assert not promises.exists()

    settings.SUPPORT_HOLIDAYS = ""
    assert asks_for_a_person(anonymous) == (["support_closed"], Message.Role.BOT)  # nothing new: handed over
    assert (anonymous.status, anonymous.offline_request) == (Status.PENDING_MANUAL, False)
    assert list(promises.values_list("session", flat=True)) == [anonymous.pk]
