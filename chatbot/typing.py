"""Someone is typing: a signal, not a conversation event.

Never stored, no seq, never replayed on resume: it goes straight to the
channel layer (``fiido.realtime.publish.notify``) and through each process's
hub to the other side's open streams, written like a heartbeat (no thread, no
query per stream). A customer's typing goes to the agents' group of the
conversation; an agent's to its customers' streams only (an agent's own
screen never shows it). The pages show it for a few seconds after the last
signal, or until that side's message arrives. When the layer is down it is
dropped, which costs nothing but the indicator.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from chatbot import payloads
from chatbot.exceptions import IllegalTransition, InvalidInput, NotAllowed
from chatbot.models import ChatSession
from fiido.realtime.groups import agents_group, session_group
from fiido.realtime.publish import notify

Status = ChatSession.Status


def customer_is_typing(session: ChatSession, *, text: Any = None) -> None:
    """Tell the agents watching the conversation; with ``TYPING_PREVIEW`` on,
    show them the text typed so far (``text``)."""
    preview = _preview(text)
    _require_open(session)
    signal = {"type": "typing", "session_name": session.name, "role": "user", "name": session.customer_name}
    if settings.TYPING_PREVIEW and preview:
        signal["text"] = preview
    notify(agents_group(session.name), signal)


def agent_is_typing(session: ChatSession, *, agent: AbstractBaseUser, text: Any = None) -> None:
    """Tell the customer the agent holding the conversation is typing (never what)."""
    _preview(text)  # checked like the customer's, and dropped: customers never get a preview
    _require_open(session)
    if session.status != Status.MANUAL_LIVE:
        raise IllegalTransition("The conversation is not with an agent.")
    if session.assigned_agent_id != agent.pk:
        raise NotAllowed("Only the agent in this conversation can type in it.")
    signal = {"type": "typing", "session_name": session.name, "role": "agent", "name": payloads.display_name(agent)}
    notify(session_group(session.name), signal, audience="customers")


def _require_open(session: ChatSession) -> None:
    if session.status == Status.CLOSED:
        raise IllegalTransition("The conversation is closed.")


def _preview(text: Any) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        raise InvalidInput("text must be a string.")
    if len(text) > settings.MESSAGE_MAX_CHARS:
        raise InvalidInput(f"text is longer than {settings.MESSAGE_MAX_CHARS} characters.")
    return text
