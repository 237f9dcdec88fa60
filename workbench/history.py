"""History: every conversation, newest first, filtered and searched.

``GET /workbench/api/sessions`` with any of ``q``, ``agent``, ``since`` or
``until`` (and the History page) answer from here instead of the queue's
order: newest started first, paged by a keyset cursor (the last row's start
time and id), so page 500 costs what page 1 does.

How it stays fast on 100,000 conversations:

- dates filter ``created_at`` (indexed), and the keyset cursor walks that index;
- ``agent`` is the assigned agent (indexed) or an agent who wrote in it;
- ``q`` matches message text through PostgreSQL's full-text search (the
  ``simple`` configuration, so any language; a GIN index on
  ``to_tsvector('simple', content)``, migration 0008), and the customer's
  name, email and the conversation's name directly. On SQLite (development)
  the text match is a plain ``LIKE`` per word.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date

from chatbot import selectors
from chatbot.exceptions import InvalidInput
from chatbot.models import ChatSession, Message
from workbench.selectors import agent_named

QUERY_MAX_CHARS = 200
HISTORY_FILTERS = ("q", "agent", "since", "until")


@dataclass(frozen=True)
class Filters:
    statuses: list[str]
    q: str = ""
    agent: AbstractBaseUser | None = None
    since: date | None = None
    until: date | None = None


def wanted(params: Any) -> bool:
    """Does this list request ask for history (any history filter given)?"""
    return any(params.get(name) not in (None, "") for name in HISTORY_FILTERS)


def parse_filters(params: Any, *, viewer: AbstractBaseUser, statuses: list[str]) -> Filters:
    """The request's filters; 400 for a bad date, a reversed range, an
    over-long query or an unknown agent."""
    q = (params.get("q") or "").strip()
    if len(q) > QUERY_MAX_CHARS:
        raise InvalidInput(f"q is longer than {QUERY_MAX_CHARS} characters.")
    since, until = _date(params.get("since"), "since"), _date(params.get("until"), "until")
    if since and until and since > until:
        raise InvalidInput("since is after until.")
    agent = None
    who = (params.get("agent") or "").strip()
    if who == "me":
        agent = viewer
    elif who and who != "anyone":
        agent = agent_named(who)
        if agent is None:
            raise InvalidInput(f"No agent is called {who!r}.")
    return Filters(statuses=statuses, q=q, agent=agent, since=since, until=until)


def search(filters: Filters, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """A page of conversations matching ``filters``, newest first; ``next`` is
    the cursor of the following page (None after the last)."""
    query = ChatSession.objects.select_related("assigned_agent")
    if filters.statuses:
        query = query.filter(status__in=filters.statuses)
    if filters.since:
        query = query.filter(created_at__gte=_start_of(filters.since))
    if filters.until:
        query = query.filter(created_at__lt=_start_of(filters.until + timedelta(days=1)))
    if filters.agent is not None:
        wrote = Message.objects.filter(session=OuterRef("pk"), role=Message.Role.AGENT, agent=filters.agent)
        query = query.filter(Q(assigned_agent=filters.agent) | Exists(wrote))
    if filters.q:
        query = _matching(query, filters.q)
    after = _decode(cursor)
    if after is not None:
        started, pk = after
        query = query.filter(Q(created_at__lt=started) | Q(created_at=started, id__lt=pk))
    rows = list(query.order_by("-created_at", "-id")[: limit + 1])
    more = len(rows) > limit
    page = rows[:limit]
    return {"sessions": selectors.session_rows(page), "next": _encode(page[-1]) if more else None}


def _matching(query: QuerySet, q: str) -> QuerySet:
    direct = Q(name=q) | Q(customer_name__icontains=q) | Q(customer_email__icontains=q)
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        said = Message.objects.annotate(text=SearchVector("content", config="simple")).filter(
            text=SearchQuery(q, config="simple", search_type="plain")
        )
    else:
        said = Message.objects.all()
        for word in q.split():
            said = said.filter(content__icontains=word)
    # IN (the GIN index gives the matching messages' conversations), not a
    # correlated EXISTS: measured on 100,000 conversations (bench/history_load.py),
    # EXISTS was slower for every query but the most common words.
    return query.filter(direct | Q(pk__in=said.order_by().values("session_id")))


def _date(raw: str | None, name: str) -> date | None:
    if raw in (None, ""):
        return None
    try:
        day = parse_date(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:  # well formed, but no such day (2026-02-30)
        day = None
    if day is None:
        raise InvalidInput(f"{name} must be a date, YYYY-MM-DD.")
    return day


def _start_of(day: date) -> datetime:
    """Midnight of ``day`` in ``TIME_ZONE`` (the dates the History page shows)."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def _encode(session: ChatSession) -> str:
    raw = f"h:{session.created_at.isoformat()}|{session.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        kind, rest = raw.split(":", 1)
        started, pk = rest.rsplit("|", 1)
        moment = datetime.fromisoformat(started)
        if kind != "h" or moment.tzinfo is None or not pk.isdigit() or len(pk) > 18:
            raise ValueError
        return moment, int(pk)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidInput("cursor is not one this API gave out.") from None
