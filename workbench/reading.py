"""What each agent has read: their read markers, and telling their other tabs."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from chatbot.exceptions import InvalidInput
from chatbot.models import ChatSession
from fiido.realtime.groups import agent_group
from fiido.realtime.publish import notify_on_commit
from workbench.models import ReadMarker
from workbench.selectors import unread_counts


def mark_read(agent: AbstractBaseUser, session: ChatSession, seq: object) -> int:
    """The agent has read ``session`` up to event ``seq`` (never back, never past
    its newest): every tab of that agent learns it (a notice to their group).
    Returns what stays unread."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise InvalidInput("seq must be a non-negative integer (an event seq).")
    seq = min(seq, session.last_seq)
    with transaction.atomic():
        marker, _ = ReadMarker.objects.select_for_update().get_or_create(agent=agent, session=session)
        if seq > marker.seq:
            marker.seq = seq
            marker.save(update_fields=["seq"])
        unread = unread_counts(agent.pk, [session]).get(session.pk, 0)
        notice = {"type": "read", "session_name": session.name, "seq": marker.seq, "unread_count": unread}
        notify_on_commit(agent_group(agent.pk), notice)
    return unread
