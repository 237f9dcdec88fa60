"""The wire events of DESIGN §5, one TypedDict each.

Streams send these as the ``data:`` of unnamed SSE events; clients switch on
``type``. Message and status events are stored in the event log as written.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict


class Connected(TypedDict):
    type: Literal["connected"]
    session_name: str | None
    status: str | None
    last_event_id: int


class History(TypedDict):
    type: Literal["history"]
    session_name: str
    status: str
    messages: list[dict[str, Any]]
    has_earlier: bool
    session: dict[str, Any]


class MessageEvent(TypedDict):
    type: Literal["message"]
    session_name: str
    seq: int
    message: dict[str, Any]


class StatusEvent(TypedDict):
    type: Literal["status"]
    session_name: str
    seq: int
    status: str
    previous: str
    agent: dict[str, str] | None
    escalation_reason: str
    escalated_at: str | None


class Heartbeat(TypedDict):
    type: Literal["heartbeat"]
    at: str


class Deleted(TypedDict):
    """A stream's last frame: its conversation was erased (no id; the response ends)."""

    type: Literal["deleted"]
    session_name: str


class Revoked(TypedDict):
    """An agent stream's last frame: its viewer logged out or is no longer an agent."""

    type: Literal["revoked"]
    reason: Literal["logged_out", "not_an_agent"]


class Queue(TypedDict):
    type: Literal["queue"]
    sessions: list[dict[str, Any]]


class TranslationEvent(TypedDict):
    """A notice (no id, not in the log): ``message`` is the bubble to show instead
    of the one with its id, rendered for readers of ``language``."""

    type: Literal["translation"]
    session_name: str
    seq: int
    language: str
    message: dict[str, Any]


class SummaryEvent(TypedDict):
    """A notice to agents' streams only: the take-over summary (or ``failed``)."""

    type: Literal["summary"]
    session_name: str


class SuggestionsEvent(TypedDict):
    """A notice to agents' streams only: suggested replies for the page that asked."""

    type: Literal["suggestions"]
    session_name: str
    request_id: str
    suggestions: list[str]


EVENT_TYPES = {
    "connected": Connected,
    "history": History,
    "message": MessageEvent,
    "status": StatusEvent,
    "heartbeat": Heartbeat,
    "queue": Queue,
    "deleted": Deleted,
    "revoked": Revoked,
    "translation": TranslationEvent,
    "summary": SummaryEvent,
    "suggestions": SuggestionsEvent,
}
