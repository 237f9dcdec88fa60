"""Quiet conversations close themselves.

A conversation waiting for an agent with no customer activity for
``IDLE_CLOSE_WAITING_MINUTES``, a live one with no message from either side
for ``IDLE_CLOSE_LIVE_MINUTES``, and one with the bot idle for
``IDLE_CLOSE_BOT_HOURS`` are closed through the state machine
(``conversations.close_idle``), with a system message that says why; the
customer is warned ``IDLE_WARNING_MINUTES`` before (``conversations.warn_idle``).
Activity is ``ChatSession.last_activity_at``: a customer's or an agent's
message, or a change of status (while a conversation waits only the customer
can write, so for it that is the customer's activity).

``sweep`` runs inside every worker process every ``IDLE_SWEEP_SECONDS``
(``fiido.periodic``: no scheduler to deploy), or from cron with
``manage.py close_idle_conversations``; several at once close each
conversation once (the state machine re-checks under the row lock). An
offline request (left while support was closed) waits for an agent however
long it takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from chatbot.models import ChatSession

Status = ChatSession.Status
BATCH = 200  # conversations per status per sweep; the next sweep takes the rest


def limit_for(session: ChatSession) -> timedelta | None:
    """How long ``session`` may stay quiet (None: forever; an offline request waits)."""
    if session.status == Status.PENDING_MANUAL and session.offline_request:
        return None
    return limit(session.status)


def limit(status: str) -> timedelta | None:
    """How long a conversation in ``status`` may stay quiet (None: forever)."""
    limits = {
        Status.PENDING_MANUAL: timedelta(minutes=settings.IDLE_CLOSE_WAITING_MINUTES),
        Status.MANUAL_LIVE: timedelta(minutes=settings.IDLE_CLOSE_LIVE_MINUTES),
        Status.BOT_ACTIVE: timedelta(hours=settings.IDLE_CLOSE_BOT_HOURS),
    }
    found = limits.get(status)
    return found if found else None  # a limit of 0 turns closing off for that status


@dataclass
class Swept:
    warned: int = 0
    closed: int = 0


def sweep(now: datetime | None = None) -> Swept:
    """Warn, then close, the conversations that have been quiet too long (as of ``now``)."""
    from chatbot import conversations

    now = now or timezone.now()
    done = Swept()
    warning = timedelta(minutes=settings.IDLE_WARNING_MINUTES)
    for status in (Status.PENDING_MANUAL, Status.MANUAL_LIVE, Status.BOT_ACTIVE):
        quiet_for = limit(status)
        if quiet_for is None:
            continue
        # An offline request waits for the morning: it is answered by email, not closed.
        quiet = ChatSession.objects.filter(status=status).exclude(status=Status.PENDING_MANUAL, offline_request=True)
        due = quiet.filter(last_activity_at__lte=now - quiet_for).order_by("last_activity_at")
        for session in due[:BATCH]:
            done.closed += conversations.close_idle(session, now=now)
        if warning and warning < quiet_for:
            soon = quiet.filter(
                idle_warned_at__isnull=True,
                last_activity_at__lte=now - quiet_for + warning,
                last_activity_at__gt=now - quiet_for,
            ).order_by("last_activity_at")
            for session in soon[:BATCH]:
                closes_at = session.last_activity_at + quiet_for
                done.warned += conversations.warn_idle(session, now=now, closes_at=closes_at)
    return done
