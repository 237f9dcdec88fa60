"""Reads: who may see a session, its history, its events, the agents' queue."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db.models import Case, Count, F, Max, Min, Q, Value, When
from django.http import Http404, HttpRequest
from django.utils import timezone, translation
from django.utils.module_loading import import_string

from chatbot import cards, payloads
from chatbot import translation as machine_translation
from chatbot.bots import get_bot
from chatbot.exceptions import SESSION_NOT_FOUND, InvalidInput
from chatbot.models import Attachment, ChatSession, Event, Message, Note
from fiido.realtime import QUEUE_GROUP
from fiido.realtime.sse import encode
from fiido.realtime.stream import CATCH_UP_BATCH

# The visitor's Django session keeps the names of the conversations it started.
OWNED_SESSIONS_KEY = "fiido_chat_sessions"
OWNED_SESSIONS_KEPT = 20  # enough for a returning visitor, small enough for the cookie session
RECENT_BOT_SESSIONS = 20
# The shape of every name new_session_name() issues (fiido.asgi routes streams by it).
SESSION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

Status = ChatSession.Status


# ---------------------------------------------------------------------------
# Access
# ---------------------------------------------------------------------------
def owned_names(django_session: Mapping[str, Any]) -> list[str]:
    names = django_session.get(OWNED_SESSIONS_KEY, [])
    return names if isinstance(names, list) else []


def remember_owner(request: HttpRequest, session: ChatSession) -> None:
    """Bind ``session`` to the visitor, so only this browser can use it."""
    names = [n for n in owned_names(request.session) if n != session.name]
    request.session[OWNED_SESSIONS_KEY] = [*names, session.name][-OWNED_SESSIONS_KEPT:]


VISITOR_KEY = "fiido_visitor"


def visitor_of(request: HttpRequest) -> str:
    """This browser's id (random, kept in its Django session): its conversations share it."""
    visitor = request.session.get(VISITOR_KEY)
    if not isinstance(visitor, str) or not visitor:
        visitor = request.session[VISITOR_KEY] = secrets.token_hex(16)
    return visitor


def access_customer_session(request: HttpRequest, name: str) -> ChatSession:
    """The visitor's own session ``name``; anyone else's, or none, is a 404."""
    return customer_session_for(request.session, name)


def owned_name(request: HttpRequest, name: str) -> str:
    """``name``, if the visitor started that conversation (else a 404, as for
    anyone else's); whether it still exists is for the caller's own read to say."""
    if name not in owned_names(request.session):
        raise Http404(SESSION_NOT_FOUND)
    return name


def customer_session_for(django_session: Mapping[str, Any], name: str) -> ChatSession:
    if name not in owned_names(django_session):
        raise Http404(SESSION_NOT_FOUND)
    return get_session(name)


def customer_session_or_none(django_session: Mapping[str, Any], name: str) -> ChatSession | None:
    """``customer_session_for``, with None instead of a 404 (for the raw stream endpoints)."""
    try:
        return customer_session_for(django_session, name)
    except Http404:
        return None


def get_session(name: str) -> ChatSession:
    if not SESSION_NAME.fullmatch(name):  # never issued; and PostgreSQL raises on a NUL in a query
        raise Http404(SESSION_NOT_FOUND)
    try:
        return ChatSession.objects.select_related("assigned_agent").get(name=name)
    except ChatSession.DoesNotExist:
        raise Http404(SESSION_NOT_FOUND) from None


FILE_NOT_FOUND = "File not found."
ATTACHMENT_ID = re.compile(r"[1-9][0-9]{0,17}")  # ASCII digits: str.isdigit() also takes "²"


def access_attachment(request: HttpRequest, name: str, attachment_id: str) -> Attachment:
    """A conversation's photo or file, for the conversation's customer or an
    agent; anyone else gets the same 404 as for a file that does not exist."""
    if not SESSION_NAME.fullmatch(name) or not ATTACHMENT_ID.fullmatch(attachment_id):
        raise Http404(FILE_NOT_FOUND)
    if name not in owned_names(request.session) and not _agent_test()(request.user):
        raise Http404(FILE_NOT_FOUND)
    try:
        return Attachment.objects.get(pk=attachment_id, session__name=name)
    except Attachment.DoesNotExist:
        raise Http404(FILE_NOT_FOUND) from None


@cache
def _agent_test():
    """Who counts as an agent (``settings.AGENT_TEST``: the workbench's rule, named, not imported)."""
    return import_string(settings.AGENT_TEST)


def current_customer_session(django_session: Mapping[str, Any]) -> ChatSession | None:
    """The visitor's newest conversation that is still open, if any."""
    names = owned_names(django_session)
    return (
        ChatSession.objects.select_related("assigned_agent")
        .filter(name__in=names)
        .exclude(status=Status.CLOSED)
        .order_by("-created_at")
        .first()
    )


# ---------------------------------------------------------------------------
# History and events
# ---------------------------------------------------------------------------
HISTORY_PAGE = 50  # messages a history snapshot holds; earlier ones come a page at a time
HISTORY_PAGE_MAX = 200


def history(
    session: ChatSession, *, before: int | None = None, limit: int = HISTORY_PAGE, for_agents: bool = False
) -> dict[str, Any]:
    """The newest ``limit`` messages of the session with seq below ``before``
    (all of them up to now without it), as stored in their events, oldest
    first; and whether earlier ones exist.

    Bounded, so a long conversation costs every stream opening and page load
    the same (a 500-message one was a 2 MB frame per stream).
    """
    events = Event.objects.filter(session=session, kind=Event.Kind.MESSAGE)
    if before is not None:
        events = events.filter(seq__lt=before)
    rows = list(events.order_by("-seq").values_list("payload", flat=True)[: limit + 1])
    language = payloads.active_language()
    page = [payloads.localized_message(json.loads(text)["message"], language) for text in reversed(rows[:limit])]
    page = machine_translation.attach(page, language=language, for_agents=for_agents)
    return {"messages": page, "has_earlier": len(rows) > limit}


def no_conversation_yet() -> dict[str, Any]:
    """The chat page's state before the visitor's first message: the
    assistant's greeting, shown from the bot, stored only once they write."""
    greeting = {"id": "", "seq": 0, "role": Message.Role.BOT, "client_id": "", "created_at": None}
    greeting["parts"] = [{"type": "text", "text": get_bot().greeting()}]
    greeting["html"] = payloads.bubble_html({**greeting, "name": payloads.ROLE_NAMES[Message.Role.BOT], "time": ""})
    return {
        "session_name": "",
        "status": "bot_active",
        "messages": [greeting],
        "has_earlier": False,
        "last_event_id": 0,
    }


def session_with_history(session: ChatSession, *, for_agents: bool = False) -> dict[str, Any]:
    """The session's state with its latest messages (``has_earlier`` says if there is more),
    with the machine translations the reader's side may see."""
    return {**payloads.session_state(session), **history(session, before=session.last_seq + 1, for_agents=for_agents)}


def parse_page_request(before: str | None, limit: str | None) -> tuple[int | None, int]:
    """``?before=<seq>&limit=<n>`` of the earlier-messages endpoints; 400 for nonsense."""
    parsed_before = None
    if before is not None:
        parsed_before = parse_last_event_id(before)
        if parsed_before is None:
            raise InvalidInput("before must be a message seq (a non-negative integer).")
    parsed_limit = HISTORY_PAGE
    if limit is not None:
        if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= HISTORY_PAGE_MAX:
            raise InvalidInput(f"limit must be an integer from 1 to {HISTORY_PAGE_MAX}.")
        parsed_limit = int(limit)
    return parsed_before, parsed_limit


def events_after(
    session_id: int, seq: int, limit: int = CATCH_UP_BATCH, *, language: str | None = None
) -> list[tuple[int, str]]:
    """Up to ``limit`` stored events of a session after ``seq``, in order, as
    (seq, json), rendered for a reader of ``language`` (None: as stored)."""
    events = Event.objects.filter(session_id=session_id, seq__gt=seq).order_by("seq")
    rows = list(events.values_list("seq", "payload")[:limit])
    if language is None:
        return rows
    return [(number, payloads.localized_event_json(text, language)) for number, text in rows]


def stream_opening(
    session_id: int, last_event_id: int | None, language: str, *, for_agents: bool = False
) -> tuple[list[bytes], int, bool]:
    """A session stream's first frames: ``connected``, then the missed events
    after ``last_event_id`` or, without a usable one, a ``history`` snapshot.

    Returns the frames, the newest seq they cover, and whether more missed
    events wait beyond one batch. History is read up to the seq read with the
    session row, so later events arrive live, once.
    """
    session = ChatSession.objects.select_related("assigned_agent").get(pk=session_id)
    newest = session.last_seq
    frames = [
        encode(
            {
                "type": "connected",
                "session_name": session.name,
                "status": session.status,
                "last_event_id": newest,
            }
        )
    ]
    if last_event_id is not None and 0 <= last_event_id <= newest:
        rows = events_after(session_id, last_event_id, language=language)
        frames += [encode(data, id=seq) for seq, data in rows]
        covered = rows[-1][0] if rows else last_event_id
        with translation.override(language):
            notices = machine_translation.resume_notices(session, covered, language=language, for_agents=for_agents)
        frames += [encode(notice) for notice in notices]
        return frames, covered, len(rows) == CATCH_UP_BATCH
    with translation.override(language):
        page = history(session, before=newest + 1, for_agents=for_agents)
    snapshot = {
        "type": "history",
        "session_name": session.name,
        "status": session.status,
        **page,
        "session": payloads.session_state(session),
    }
    frames.append(encode(snapshot, id=newest))
    return frames, newest, False


EVENT_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only: str.isdigit() also takes "²" and "١"


def parse_last_event_id(raw: str | None) -> int | None:
    """An event id from the ``Last-Event-ID`` header or the ``last_event_id``
    query parameter; None when it is absent or anything but 1-18 ASCII digits."""
    if raw is None:
        return None
    raw = raw.strip(" \t")
    return int(raw) if EVENT_ID.fullmatch(raw) else None


def latest_seqs(groups: Iterable[str]) -> dict[str, int]:
    """Each group's newest seq, in one query per 500 sessions (a session's
    group: its event log's; its agents' group: its notes'); the queue group
    gets a version that changes whenever any session changes."""
    groups = list(groups)
    wanted = {}
    for group in groups:
        prefix, _, name = group.partition(".")
        if prefix in {"session", "agents"}:
            wanted.setdefault(name, []).append(group)
    latest: dict[str, int] = {}
    names_list = list(wanted)
    for start in range(0, len(names_list), 500):
        chunk = names_list[start : start + 500]
        rows = ChatSession.objects.filter(name__in=chunk).values_list("name", "last_seq", "last_note_seq")
        for name, last_seq, last_note_seq in rows:
            for group in wanted[name]:
                latest[group] = last_note_seq if group.startswith("agents.") else last_seq
    if QUEUE_GROUP in groups:
        latest[QUEUE_GROUP] = queue_version()
    return latest


def queue_version() -> int:
    newest = ChatSession.objects.aggregate(newest=Max("updated_at"))["newest"]
    return int(newest.timestamp() * 1_000_000) if newest else 0


# ---------------------------------------------------------------------------
# The agents' queue
# ---------------------------------------------------------------------------
def session_row(session: ChatSession, last_message: Message | None = None) -> dict[str, Any]:
    """A session as the queue and the session list show it."""
    now = timezone.now()
    waiting = (
        int((now - session.escalated_at).total_seconds())
        if session.status == Status.PENDING_MANUAL and session.escalated_at
        else None
    )
    return {
        **payloads.session_state(session),
        "customer_name": session.customer_name,
        "customer_email": session.customer_email,
        "offline_request": session.offline_request,
        "language": session.language,
        "waiting_seconds": waiting,
        "last_message": (
            {
                "role": last_message.role,
                "text": (
                    payloads.system_text(last_message.code, last_message.params)
                    if last_message.code
                    else cards.plain_text(last_message.content)[:200]
                ),
                "created_at": payloads.iso(last_message.created_at),
            }
            if last_message
            else None
        ),
    }


def queue_position(session: ChatSession) -> int | None:
    """The session's place in the agents' queue (1 = next), or None when it is not waiting."""
    if session.status != Status.PENDING_MANUAL or session.escalated_at is None or session.offline_request:
        return None  # an offline request is in no queue: it is answered by email
    ahead = ChatSession.objects.filter(status=Status.PENDING_MANUAL, offline_request=False).filter(
        Q(escalated_at__lt=session.escalated_at) | Q(escalated_at=session.escalated_at, id__lt=session.id)
    )
    return ahead.count() + 1


POSITIONS_TOLD = 1000  # customers further back are not told when their place changes (their page asks)


def queue_positions() -> dict[str, int]:
    """Every waiting conversation's place in the queue, by name (one query, the
    order ``queue_position`` counts in): what the hubs tell waiting customers."""
    names = (
        ChatSession.objects.filter(status=Status.PENDING_MANUAL, escalated_at__isnull=False, offline_request=False)
        .order_by("escalated_at", "id")
        .values_list("name", flat=True)[:POSITIONS_TOLD]
    )
    return {name: position for position, name in enumerate(names, start=1)}


def session_rows(sessions: Iterable[ChatSession]) -> list[dict[str, Any]]:
    sessions = list(sessions)
    last_ids = (
        Message.objects.filter(session__in=sessions)
        .values("session_id")
        .annotate(last=Max("id"))
        .values_list("last", flat=True)
    )
    last = {m.session_id: m for m in Message.objects.filter(id__in=list(last_ids))}
    return [session_row(s, last.get(s.id)) for s in sessions]


def notes_of(session: ChatSession) -> list[dict[str, Any]]:
    """A conversation's private notes (agents only), oldest first, in the active language."""
    language = payloads.active_language()
    texts = Note.objects.filter(session=session).order_by("seq").values_list("payload", flat=True)
    return [payloads.localized_message(json.loads(text)["note"], language) for text in texts]


def notes_after(session_id: int, seq: int, *, language: str) -> list[tuple[int, str]]:
    """Up to a batch of a session's notes after ``seq``, as (seq, json) for an agent's stream."""
    rows = Note.objects.filter(session_id=session_id, seq__gt=seq).order_by("seq").values_list("seq", "payload")
    return [(number, payloads.localized_event_json(text, language)) for number, text in rows[:CATCH_UP_BATCH]]


QUEUE_WAITING_SHOWN = 50  # the oldest waiting rows a queue snapshot carries; the rest are counted and paged
QUEUE_LIVE_SHOWN = 200
SESSION_LIST_PAGE = 50
SESSION_LIST_PAGE_MAX = 200


def list_sessions(
    statuses: list[str] | None = None, *, cursor: str | None = None, limit: int = SESSION_LIST_PAGE
) -> dict[str, Any]:
    """A page of sessions in ``statuses`` (default: all but closed): waiting
    ones first, oldest first, then the rest, most recently changed first;
    ``next`` is the cursor of the following page (None after the last)."""
    offset = _cursor_offset(cursor)
    query = ChatSession.objects.select_related("assigned_agent")
    query = query.filter(status__in=statuses) if statuses else query.exclude(status=Status.CLOSED)
    waiting = Q(status=Status.PENDING_MANUAL)
    query = query.annotate(
        waiting_first=Case(When(waiting, then=Value(0)), default=Value(1)),
        waited_since=Case(When(waiting, then=F("escalated_at"))),
        changed_at=Case(When(~waiting, then=F("updated_at"))),
    ).order_by(
        "waiting_first",
        F("waited_since").asc(nulls_last=True),  # the queue's order (queue_position's too)
        F("changed_at").desc(nulls_last=True),
        "id",
    )
    rows = list(query[offset : offset + limit + 1])
    more = len(rows) > limit
    return {"sessions": session_rows(rows[:limit]), "next": _cursor(offset + limit) if more else None}


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _cursor_offset(cursor: str | None) -> int:
    """The position an opaque ``next`` cursor points at; 400 for one this API did not make."""
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        kind, offset = raw.split(":", 1)
        if kind != "o" or not offset.isascii() or not offset.isdigit() or len(offset) > 9:
            raise ValueError
        return int(offset)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidInput("cursor is not one this API gave out.") from None


def parse_list_limit(raw: str | None) -> int:
    if raw is None:
        return SESSION_LIST_PAGE
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= SESSION_LIST_PAGE_MAX:
        raise InvalidInput(f"limit must be an integer from 1 to {SESSION_LIST_PAGE_MAX}.")
    return int(raw)


def queue_snapshot(language: str | None = None) -> tuple[dict[str, Any], int]:
    """The queue stream's ``queue`` event, and the version it reflects.

    Bounded: the oldest ``QUEUE_WAITING_SHOWN`` waiting conversations (with
    ``counts`` of all of them; the list API pages through the rest), the live
    ones and the recent ones with the bot. 2,000 waiting conversations made
    every snapshot 2 MB, sent to every agent at every change.
    """
    version = queue_version()
    sessions = ChatSession.objects.select_related("assigned_agent")
    pending = sessions.filter(status=Status.PENDING_MANUAL).order_by("escalated_at", "id")
    waiting = pending.filter(offline_request=False)[:QUEUE_WAITING_SHOWN]
    offline = pending.filter(offline_request=True)[:QUEUE_WAITING_SHOWN]  # answered by email, oldest first
    live = sessions.filter(status=Status.MANUAL_LIVE).order_by("-updated_at")[:QUEUE_LIVE_SHOWN]
    recent = sessions.filter(status=Status.BOT_ACTIVE, updated_at__gte=timezone.now() - timedelta(days=1)).order_by(
        "-updated_at"
    )[:RECENT_BOT_SESSIONS]
    counts = ChatSession.objects.aggregate(
        waiting=Count("id", filter=Q(status=Status.PENDING_MANUAL, offline_request=False)),
        offline=Count("id", filter=Q(status=Status.PENDING_MANUAL, offline_request=True)),
        live=Count("id", filter=Q(status=Status.MANUAL_LIVE)),
    )
    with translation.override(language or payloads.active_language()):
        rows = session_rows([*waiting, *offline, *live, *recent])
    waiting_total = counts["waiting"]
    event = {
        "type": "queue",
        "sessions": rows,
        "counts": counts,
        # The list API's cursor past the waiting rows shown (?status=pending_manual&cursor=...).
        "waiting_next": _cursor(QUEUE_WAITING_SHOWN) if waiting_total > QUEUE_WAITING_SHOWN else None,
    }
    return event, version


def queue_stats() -> tuple[int, float | None]:
    """How many conversations wait for an agent, and the oldest one's wait in
    seconds (None when none waits): the metrics' queue gauges, one query."""
    waiting = ChatSession.objects.filter(status=ChatSession.Status.PENDING_MANUAL).aggregate(
        count=Count("id"), oldest=Min("escalated_at")
    )
    oldest = waiting["oldest"]
    return waiting["count"], (timezone.now() - oldest).total_seconds() if oldest else None
