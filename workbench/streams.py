"""The agents' streams: one session's events, and the live queue (DESIGN §5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user
from django.http import Http404

from chatbot import selectors
from chatbot.models import ChatSession
from chatbot.streams import requested_last_event_id, session_stream
from fiido.i18n import SESSION_LANGUAGE_KEY, agent_language
from fiido.realtime import QUEUE_GROUP
from fiido.realtime.groups import agent_group, agents_group, login_group
from fiido.realtime.hub import db_call
from fiido.realtime.presence import get_presence
from fiido.realtime.stream import django_session, header, queue_events, send_json_error, serve
from workbench import selectors as workbench_selectors
from workbench.permissions import is_agent


class _Request:
    """Just enough of a request for ``django.contrib.auth.get_user``."""

    def __init__(self, session) -> None:
        self.session = session


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who opened an agent stream: ``status`` 200 for a logged-in agent, 401 for
    nobody, 403 for a non-agent; the language they read; their login session."""

    status: int
    language: str
    session_key: str
    user_id: int | None = None


def viewer_of(scope) -> Viewer:
    """The stream's viewer, from its session cookie (a database read: call it through db_call)."""
    session = django_session(scope)
    user = get_user(_Request(session))
    status = 401 if not user.is_authenticated else 200 if is_agent(user) else 403
    language = agent_language(
        chosen=session.get(SESSION_LANGUAGE_KEY), accept_language=header(scope, b"accept-language")
    )
    return Viewer(status, language, session.session_key or "", user.pk if status == 200 else None)


def _viewer_and_session(scope, name: str) -> tuple[Viewer, ChatSession | None]:
    viewer = viewer_of(scope)
    if viewer.status != 200:
        return viewer, None
    try:
        return viewer, selectors.get_session(name)
    except Http404:
        return Viewer(404, viewer.language, viewer.session_key, viewer.user_id), None


_REFUSALS = {401: "Log in as an agent first.", 403: "Agents only.", 404: selectors.SESSION_NOT_FOUND}


def revoked_event(status: int) -> dict[str, str]:
    """The last frame of an agent's stream whose viewer may no longer watch."""
    reason = "logged_out" if status == 401 else "not_an_agent"
    return {"type": "revoked", "reason": reason}


def _caps(viewer: Viewer, what: str) -> list:
    """An agent may hold a few streams of one conversation (or of the queue), and a bounded number in all."""
    login = viewer.session_key
    return [
        (("agent", what, login), settings.SSE_MAX_STREAMS_PER_CONVERSATION),
        (("login", login), settings.SSE_MAX_STREAMS_PER_LOGIN),
    ]


def _watcher(scope, viewer: Viewer) -> dict:
    """What an agent's stream re-checks, and the group whose notice ends it:
    logging out ends it at once; deactivation, a new password or leaving the
    agents group end it at the next heartbeat (probe, second round, item 1)."""

    async def recheck() -> dict | None:
        status = (await db_call(viewer_of, scope)).status
        return None if status == 200 else revoked_event(status)

    also = (login_group(viewer.session_key),) if viewer.session_key else ()
    return {"also": also, "recheck": recheck}


async def agent_session_events(scope, receive, send, *, name: str) -> None:
    """``GET /workbench/api/sessions/<name>/events``."""
    if scope["method"] != "GET":
        return await send_json_error(send, 405, "Method not allowed.", [(b"allow", b"GET")])
    viewer, frames = await _open_session_stream(scope, send, name)
    if frames is None:
        return await send_json_error(send, viewer.status, _REFUSALS[viewer.status])
    async with get_presence().connected(viewer.user_id):  # an agent with a workbench page open is online
        await serve(receive, send, frames, caps=_caps(viewer, name), kind="agent")


async def _open_session_stream(scope, send, name: str) -> tuple[Viewer, AsyncIterator[bytes] | None]:
    """The viewer, and the frames of the conversation's stream when they may watch it.
    (Its own function so that the row it read is not held while the stream is open.)"""
    viewer, session = await db_call(_viewer_and_session, scope, name)
    if session is None:
        return viewer, None
    pk = session.pk
    notes = {
        "side": agents_group(name),
        "side_fetch_after": lambda seq: db_call(partial(selectors.notes_after, language=viewer.language), pk, seq),
    }
    frames = session_stream(
        session,
        requested_last_event_id(scope),
        send,
        language=viewer.language,
        for_agents=True,
        **notes,
        **_watcher(scope, viewer),
    )
    return viewer, frames


async def queue_events_endpoint(scope, receive, send) -> None:
    """``GET /workbench/api/events``: the live queue for agents."""
    if scope["method"] != "GET":
        return await send_json_error(send, 405, "Method not allowed.", [(b"allow", b"GET")])
    viewer = await db_call(viewer_of, scope)
    if viewer.status != 200:
        return await send_json_error(send, viewer.status, _REFUSALS[viewer.status])
    watcher = _watcher(scope, viewer)
    watcher["also"] = (*watcher["also"], agent_group(viewer.user_id))  # this agent's alerts and read markers
    frames = queue_events(
        QUEUE_GROUP,
        snapshot=lambda: db_call(workbench_selectors.queue_snapshot, viewer.user_id, viewer.language),
        **watcher,
    )
    async with get_presence().connected(viewer.user_id):
        await serve(receive, send, frames, caps=_caps(viewer, "queue"), kind="queue")


# Routed by fiido.asgi ahead of Django's handler (settings.STREAM_ROUTES).
stream_routes = [
    (rf"^/workbench/api/sessions/(?P<name>{selectors.SESSION_NAME.pattern})/events$", agent_session_events),
    (r"^/workbench/api/events$", queue_events_endpoint),
]
