"""The team's presence: online (a workbench page open, not away), away (said
so), offline (no workbench page open anywhere). ``fiido.realtime.presence``
knows who has a page open; the agent's own word (away) is in their
preferences. Every change reaches every agent's queue stream as
``{"type": "presence", "username", "presence", "live_count"}``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from chatbot.exceptions import InvalidInput
from chatbot.models import ChatSession
from fiido.realtime import QUEUE_GROUP
from fiido.realtime.presence import online_ids
from fiido.realtime.publish import notify
from workbench.models import AgentPreferences

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
CHOICES = (ONLINE, AWAY)


def presence_of(user_ids: list[int]) -> dict[int, str]:
    """Each user's presence (one Redis read, one query)."""
    online = online_ids()
    away = set(AgentPreferences.objects.filter(user_id__in=user_ids, away=True).values_list("user_id", flat=True))
    return {uid: (AWAY if uid in away else ONLINE) if uid in online else OFFLINE for uid in user_ids}


def available_ids() -> set[int]:
    """Agents who may be given a conversation now: online, and not away."""
    online = online_ids()
    away = set(AgentPreferences.objects.filter(user_id__in=online, away=True).values_list("user_id", flat=True))
    return online - away


def set_presence(agent: AbstractBaseUser, value: Any) -> str:
    """The agent says they are ``online`` or ``away``; returns their presence now
    (still ``offline`` if no workbench page of theirs is open)."""
    if value not in CHOICES:
        raise InvalidInput('presence must be "online" or "away".')
    AgentPreferences.objects.update_or_create(user=agent, defaults={"away": value == AWAY})
    announce(agent.pk, agent.pk in online_ids())
    return presence_of([agent.pk])[agent.pk]


def announce(user_id: int, online: bool) -> None:
    """Tell every agent's queue that ``user_id``'s presence changed (the realtime
    presence tracker calls this once across workers); someone coming online may
    be given waiting conversations."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return
    notify(QUEUE_GROUP, presence_event(user, presence_of([user_id])[user_id]))
    if online:
        from workbench.assignment import assign_waiting

        assign_waiting()


def presence_event(user: AbstractBaseUser, presence: str) -> dict[str, Any]:
    live = ChatSession.objects.filter(status=ChatSession.Status.MANUAL_LIVE, assigned_agent=user).count()
    return {"type": "presence", "username": user.get_username(), "presence": presence, "live_count": live}
