"""Capacity and automatic assignment.

Each agent may hold ``AGENT_MAX_LIVE`` live conversations (their own
``max_live`` in the admin overrides it): a take-over, a join or a transfer
beyond it is a 409, checked under the agent's row lock
(``chatbot.conversations._require_room``), so nobody is ever over.

With ``AUTO_ASSIGN`` on, whenever the queue or someone's room changes (the
state machine's ``desk_changed``, an agent coming online or back from away),
the oldest waiting conversation goes to the available agent (online, not
away, with room) holding the fewest live conversations, ties to the one
assigned longest ago, and so on while both remain. Two workers doing this at
once race on the session's and the agent's row locks: a conversation is
assigned once (``AlreadyTaken`` for the loser), and an agent never beyond
capacity (``AtCapacity``).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q
from django.utils import timezone

from chatbot import conversations
from chatbot.exceptions import AtCapacity, IllegalTransition
from chatbot.models import ChatSession
from workbench.models import AgentPreferences
from workbench.permissions import agents
from workbench.presence import available_ids

MOST_PER_RUN = 100  # a run stops here; the next change starts another
_running = threading.local()


def max_live(agent: AbstractBaseUser) -> int:
    """How many live conversations ``agent`` may hold."""
    own = AgentPreferences.objects.filter(user=agent).values_list("max_live", flat=True).first()
    return own or settings.AGENT_MAX_LIVE


def assign_waiting() -> int:
    """Give waiting conversations to available agents while both remain
    (``AUTO_ASSIGN`` only); returns how many were assigned."""
    if not settings.AUTO_ASSIGN or getattr(_running, "active", False):
        return 0  # an assignment's own desk_changed does not start another run
    _running.active = True
    try:
        return _assign()
    finally:
        _running.active = False


def _assign() -> int:
    assigned, full = 0, set()
    for _ in range(MOST_PER_RUN):
        session = (
            ChatSession.objects.filter(status=ChatSession.Status.PENDING_MANUAL).order_by("escalated_at", "id").first()
        )
        agent = _best_agent(exclude=full) if session is not None else None
        if agent is None:
            break
        try:
            language = AgentPreferences.objects.filter(user=agent).values_list("language", flat=True).first()
            conversations.assign(session, agent=agent, max_live=agent.max_live, language=language or None)
        except AtCapacity:
            full.add(agent.pk)  # filled meanwhile (another worker); try the next agent
            continue
        except IllegalTransition:
            continue  # taken, cancelled or closed meanwhile; the next oldest
        AgentPreferences.objects.update_or_create(user=agent, defaults={"last_assigned_at": timezone.now()})
        assigned += 1
    return assigned


def _best_agent(*, exclude: set[int]) -> AbstractBaseUser | None:
    """The available agent with room and the fewest live conversations (ties: assigned longest ago)."""
    candidates = available_ids() - exclude
    if not candidates:
        return None
    never = datetime.min.replace(tzinfo=UTC)
    found = (
        agents()
        .filter(pk__in=candidates)
        .annotate(
            live=Count(
                "assigned_chat_sessions",
                filter=Q(assigned_chat_sessions__status=ChatSession.Status.MANUAL_LIVE),
                distinct=True,
            )
        )
        .select_related("agent_preferences")
    )
    with_room = []
    for agent in found:
        preferences = getattr(agent, "agent_preferences", None)
        agent.max_live = (preferences.max_live if preferences else None) or settings.AGENT_MAX_LIVE
        if agent.live < agent.max_live:
            last = (preferences.last_assigned_at if preferences else None) or never
            with_room.append((agent.live, last, agent.pk, agent))
    return min(with_room, key=lambda row: row[:3])[3] if with_room else None
