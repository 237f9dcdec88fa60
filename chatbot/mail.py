"""Email to customers: an agent's reply to an offline request, with a link back.

The state machine writes an ``OutgoingEmail`` row in the same transaction as
the reply (``queue_reply``); ``send_pending`` sends what is unsent, every
``MAIL_SWEEP_SECONDS`` in each worker (``fiido.periodic``), so a mail server
that is slow never holds up a request, and one that is down delays the email
instead of losing it (``MAIL_ATTEMPTS`` tries, then it is left with its error
for the admin). The link is signed (``resume_url``): opening it makes the
browser the conversation's owner again, for ``RESUME_LINK_DAYS``.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from chatbot.models import ChatSession, Message, OutgoingEmail

logger = logging.getLogger(__name__)

RESUME_SALT = "fiido.resume"
MAIL_ATTEMPTS = 5
BATCH = 50


def resume_url(session: ChatSession) -> str:
    """A link that reopens ``session`` in whichever browser opens it (signed, expiring)."""
    token = signing.dumps({"s": session.name}, salt=RESUME_SALT, compress=True)
    return f"{settings.SITE_URL}{reverse('chatbot:resume', args=[token])}"


def resumed_session(token: str) -> ChatSession | None:
    """The conversation a resume link names, or None when it is forged, expired or gone."""
    try:
        data = signing.loads(token, salt=RESUME_SALT, max_age=settings.RESUME_LINK_DAYS * 86400)
    except signing.BadSignature:
        return None
    name = data.get("s") if isinstance(data, dict) else None
    return ChatSession.objects.filter(name=name).first() if isinstance(name, str) else None


def queue_reply(session: ChatSession, message: Message) -> OutgoingEmail:
    """The agent's reply, to be emailed (called inside the state machine's transaction)."""
    with translation.override(session.language):
        subject = gettext("Your question to Fiido support")
        intro = gettext("%(agent)s answered your message:") % {"agent": _agent_name(message)}
        link = gettext("Continue the conversation: %(link)s") % {"link": resume_url(session)}
    body = f"{intro}\n\n{message.content}\n\n{link}\n"
    return OutgoingEmail.objects.create(session=session, to=session.customer_email, subject=subject, body=body)


def _agent_name(message: Message) -> str:
    from chatbot.payloads import display_name

    return display_name(message.agent) if message.agent else gettext("An agent")


def send_pending() -> int:
    """Send the unsent emails (oldest first); returns how many went."""
    sent = 0
    pending = OutgoingEmail.objects.filter(sent_at__isnull=True, attempts__lt=MAIL_ATTEMPTS).order_by("id")
    for email in pending[:BATCH]:
        # Claim it: another worker sweeping at the same moment skips it.
        claimed = OutgoingEmail.objects.filter(pk=email.pk, sent_at__isnull=True, attempts=email.attempts).update(
            attempts=F("attempts") + 1
        )
        if not claimed:
            continue
        try:
            EmailMessage(email.subject, email.body, settings.DEFAULT_FROM_EMAIL, [email.to]).send()
        except Exception as error:  # noqa: BLE001 - kept with its error; tried again next sweep
            logger.warning("Emailing %s failed: %s", email.to, error)
            OutgoingEmail.objects.filter(pk=email.pk).update(last_error=str(error)[:1000])
            continue
        with transaction.atomic():
            OutgoingEmail.objects.filter(pk=email.pk).update(sent_at=timezone.now(), last_error="")
        sent += 1
    return sent
