"""Reads for the workbench: agents, what each agent has read, the queue as one agent sees it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from chatbot import payloads, selectors
from chatbot.models import ChatSession, Event, Message
from workbench.models import ReadMarker
from workbench.permissions import agents
from workbench.presence import presence_of

MENTION = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")


def agents_list() -> list[dict[str, Any]]:
    """Every active agent with their presence, how many live conversations each
    holds and may hold (the team panel, the transfer picker)."""
    live = dict(
        ChatSession.objects.filter(status=ChatSession.Status.MANUAL_LIVE)
        .values("assigned_agent_id")
        .annotate(n=Count("id"))
        .values_list("assigned_agent_id", "n")
    )
    team = list(agents().select_related("agent_preferences").order_by("first_name", "username"))
    presence = presence_of([user.pk for user in team])
    return [
        {
            **payloads.agent_payload(user),
            "presence": presence[user.pk],
            "live_count": live.get(user.pk, 0),
            "max_live": _max_live(user),
        }
        for user in team
    ]


def _max_live(user: AbstractBaseUser) -> int:
    preferences = getattr(user, "agent_preferences", None)
    return (preferences.max_live if preferences is not None else None) or settings.AGENT_MAX_LIVE


def agent_named(username: Any) -> AbstractBaseUser | None:
    """The active agent with this username, or None."""
    if not isinstance(username, str) or not username.strip():
        return None
    return agents().filter(username=username.strip()).first()


def mentioned_agents(text: str) -> list[AbstractBaseUser]:
    """The active agents a note ``@mentions`` by username."""
    names = set(MENTION.findall(text))
    return list(agents().filter(username__in=names)) if names else []


def unread_counts(agent_id: int, sessions: Sequence[ChatSession]) -> dict[int, int]:
    """Per session: the customer messages after what the agent has read (one query)."""
    if not sessions:
        return {}
    read_up_to = ReadMarker.objects.filter(agent_id=agent_id, session_id=OuterRef("session_id")).values("seq")[:1]
    rows = (
        Event.objects.filter(session__in=sessions, kind=Event.Kind.MESSAGE, message__role=Message.Role.USER)
        .annotate(read_up_to=Coalesce(Subquery(read_up_to), Value(0)))
        .filter(seq__gt=F("read_up_to"))
        .values("session_id")
        .annotate(count=Count("id"))
        .values_list("session_id", "count")
    )
    return dict(rows)


def with_unread(rows: list[dict[str, Any]], agent_id: int) -> list[dict[str, Any]]:
    """``rows`` (session rows) with the agent's ``unread_count`` each."""
    sessions = list(ChatSession.objects.filter(name__in=[row["session_name"] for row in rows]).only("id", "name"))
    ids = {session.name: session.id for session in sessions}
    counts = unread_counts(agent_id, sessions)
    return [{**row, "unread_count": counts.get(ids.get(row["session_name"]), 0)} for row in rows]


def queue_snapshot(agent_id: int, language: str | None = None) -> tuple[dict[str, Any], int]:
    """The queue as this agent sees it: ``chatbot.selectors.queue_snapshot`` with
    unread counts, and the team (``agents_list``)."""
    event, version = selectors.queue_snapshot(language)
    return {**event, "sessions": with_unread(event["sessions"], agent_id), "agents": agents_list()}, version


EARLIER_SHOWN = 20


def earlier_conversations(session: ChatSession) -> list[dict[str, Any]]:
    """The customer's other conversations, newest first: from the same browser,
    or with the same email (any case)."""
    same = Q()
    if session.visitor:
        same |= Q(visitor=session.visitor)
    if session.customer_email:
        same |= Q(customer_email__iexact=session.customer_email)
    if not same:
        return []
    found = ChatSession.objects.filter(same).exclude(pk=session.pk).order_by("-created_at")[:EARLIER_SHOWN]
    return [
        {
            "session_name": other.name,
            "status": other.status,
            "status_label": str(other.get_status_display()),
            "customer_name": other.customer_name,
            "created_at": payloads.iso(other.created_at),
            "closed_at": payloads.iso(other.closed_at),
            "message_count": other.message_count,
        }
        for other in found
    ]


def interleaved(messages: list[dict[str, Any]], notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages in seq order, each note right after the event it was written after."""

    def place(bubble: dict[str, Any]) -> tuple[int, int, int]:
        if bubble["role"] == "note":
            return (bubble["after_seq"], 1, bubble["seq"])
        return (bubble["seq"], 0, 0)

    return sorted([*messages, *notes], key=place)
