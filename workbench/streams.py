"""The agents' streams: one session's events, and the live queue (DESIGN §5)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user
from django.http import Http404

from chatbot import selectors
from chatbot.models import ChatSession
from chatbot.streams import requested_last_event_id, session_stream
from fiido.realtime import QUEUE_GROUP
from fiido.realtime.groups import login_group
from fiido.realtime.hub import db_call
from fiido.realtime.stream import django_session, queue_events, send_json_error, serve
from workbench.permissions import is_agent


class _Request:
    """Just enough of a request for ``django.contrib.auth.get_user``."""

    def __init__(self, session) -> None:
        self.session = session


def _agent_status(scope) -> int:
    """200 for a logged-in agent, 401 for nobody, 403 for a non-agent."""
    user = get_user(_Request(django_session(scope)))
    if not user.is_authenticated:
        return 401
    return 200 if is_agent(user) else 403


def _agent_session(scope, name: str) -> tuple[int, ChatSession | None]:
    status = _agent_status(scope)
    if status != 200:
        return status, None
    try:
        return 200, selectors.get_session(name)
    except Http404:
        return 404, None


_REFUSALS = {401: "Log in as an agent first.", 403: "Agents only.", 404: selectors.SESSION_NOT_FOUND}


def revoked_event(status: int) -> dict[str, str]:
    """The last frame of an agent's stream whose viewer may no longer watch."""
    reason = "logged_out" if status == 401 else "not_an_agent"
    return {"type": "revoked", "reason": reason}


def _caps(scope, what: str) -> list:
    """An agent may hold a few streams of one conversation (or of the queue), and a bounded number in all."""
    login = django_session(scope).session_key or ""
    return [
        (("agent", what, login), settings.SSE_MAX_STREAMS_PER_CONVERSATION),
        (("login", login), settings.SSE_MAX_STREAMS_PER_LOGIN),
    ]


def _watcher(scope) -> dict:
    """What an agent's stream re-checks, and the group whose notice ends it:
    logging out ends it at once; deactivation, a new password or leaving the
    agents group end it at the next heartbeat (probe, second round, item 1)."""
    session_key = django_session(scope).session_key or ""

    async def recheck() -> dict | None:
        status = await db_call(_agent_status, scope)
        return None if status == 200 else revoked_event(status)

    return {"also": (login_group(session_key),) if session_key else (), "recheck": recheck}


async def agent_session_events(scope, receive, send, *, name: str) -> None:
    """``GET /workbench/api/sessions/<name>/events``."""
    if scope["method"] != "GET":
        return await send_json_error(send, 405, "Method not allowed.", [(b"allow", b"GET")])
    status, session = await db_call(_agent_session, scope, name)
    if session is None:
        return await send_json_error(send, status, _REFUSALS[status])
    frames = session_stream(session, requested_last_event_id(scope), send, **_watcher(scope))
    await serve(receive, send, frames, caps=_caps(scope, name))


async def queue_events_endpoint(scope, receive, send) -> None:
    """``GET /workbench/api/events``: the live queue for agents."""
    if scope["method"] != "GET":
        return await send_json_error(send, 405, "Method not allowed.", [(b"allow", b"GET")])
    status = await db_call(_agent_status, scope)
    if status != 200:
        return await send_json_error(send, status, _REFUSALS[status])
    frames = queue_events(QUEUE_GROUP, snapshot=lambda: db_call(selectors.queue_snapshot), **_watcher(scope))
    await serve(receive, send, frames, caps=_caps(scope, "queue"))


# Routed by fiido.asgi ahead of Django's handler (settings.STREAM_ROUTES).
stream_routes = [
    (rf"^/workbench/api/sessions/(?P<name>{selectors.SESSION_NAME.pattern})/events$", agent_session_events),
    (r"^/workbench/api/events$", queue_events_endpoint),
]
