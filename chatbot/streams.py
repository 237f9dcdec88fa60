"""Session event streams (DESIGN §5), served over raw ASGI from ``fiido.asgi``.

The customer's stream lives here; the workbench serves the same stream to
agents with its own access check, through ``session_stream``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from django.conf import settings
from django.http.cookie import parse_cookie

from chatbot import payloads, selectors
from chatbot.models import ChatSession
from fiido.i18n import LANGUAGE_COOKIE, customer_language
from fiido.realtime import session_group
from fiido.realtime.hub import db_call
from fiido.realtime.stream import (
    StreamEnded,
    client_address,
    django_session,
    header,
    query_param,
    send_json_error,
    serve,
    session_events,
)


def session_stream(
    session: ChatSession,
    last_event_id: int | None,
    send: Callable,
    *,
    language: str,
    for_agents: bool = False,
    **watcher: Any,
) -> AsyncIterator[bytes]:
    """The frames of one session's stream, resuming after ``last_event_id``, in
    the reader's ``language``; ``send`` is the response's, for the hub's direct
    writes. ``watcher`` (the workbench's ``also`` and ``recheck``) ends the
    stream when its viewer may no longer watch; ``for_agents`` opens it with
    the translations agents read (customers' never carry them)."""
    # The stream keeps the row's key and name, not the row: it may stay open for hours.
    pk, name = session.pk, session.name
    return session_events(
        session_group(name),
        opening=lambda: db_call(_opening, pk, name, last_event_id, language, for_agents),
        fetch_after=lambda seq: db_call(_events_after, pk, name, seq, language),
        send=send,
        language=language,
        **watcher,
    )


def customer_stream_language(scope) -> str:
    """The customer's language, by the rules of their pages (fiido/i18n.py)."""
    cookies = parse_cookie(header(scope, b"cookie") or "")
    return customer_language(
        query=query_param(scope, "lang"),
        cookie=cookies.get(LANGUAGE_COOKIE),
        accept_language=header(scope, b"accept-language"),
    )


def _opening(pk: int, name: str, last_event_id: int | None, language: str, for_agents: bool):
    try:
        return selectors.stream_opening(pk, last_event_id, language, for_agents=for_agents)
    except ChatSession.DoesNotExist:
        raise StreamEnded(payloads.deleted_event(name)) from None


def _events_after(pk: int, name: str, seq: int, language: str) -> list[tuple[int, str]]:
    """Stored events after ``seq``; a conversation erased meanwhile ends the stream."""
    rows = selectors.events_after(pk, seq, language=language)
    if not rows and not ChatSession.objects.filter(pk=pk).exists():
        raise StreamEnded(payloads.deleted_event(name))
    return rows


def requested_last_event_id(scope) -> int | None:
    """``Last-Event-ID`` from the header (a reconnect) or the query (a first connect)."""
    raw = header(scope, b"last-event-id")
    if raw is None:
        raw = query_param(scope, "last_event_id")
    return selectors.parse_last_event_id(raw)


async def customer_events(scope, receive, send, *, name: str) -> None:
    """``GET /api/sessions/<name>/events``: the owner's stream; anyone else gets 404."""
    if scope["method"] != "GET":
        return await send_json_error(send, 405, "Method not allowed.", [(b"allow", b"GET")])
    opened = await _open_customer_stream(scope, send, name)
    if opened is None:
        return await send_json_error(send, 404, selectors.SESSION_NOT_FOUND)
    frames, caps = opened
    await serve(receive, send, frames, caps=caps)


async def _open_customer_stream(scope, send, name: str) -> tuple[AsyncIterator[bytes], list] | None:
    """The stream's frames and caps, or None when the visitor does not own ``name``.

    A function of its own so that the Django session and the row it read go
    when it returns: an idle stream holds only what it needs (about 20 KiB).
    """
    visitor = django_session(scope)
    session = await db_call(selectors.customer_session_or_none, visitor, name)
    if session is None:
        return None
    caps = [
        (("conversation", name, visitor.session_key or ""), settings.SSE_MAX_STREAMS_PER_CONVERSATION),
        (("address", client_address(scope)), settings.SSE_MAX_STREAMS_PER_ADDRESS),
    ]
    language = customer_stream_language(scope)
    # The customer's stream is told the conversation's place in the queue whenever it changes.
    frames = session_stream(session, requested_last_event_id(scope), send, language=language, watch=name)
    return frames, caps


# Routed by fiido.asgi ahead of Django's handler (settings.STREAM_ROUTES).
stream_routes = [
    (rf"^/api/sessions/(?P<name>{selectors.SESSION_NAME.pattern})/events$", customer_events),
]
