"""Model -> JSON dictionaries: the API's bodies and the streams' wire events.

Message and status payloads are built once, when their event is written, and
stored in the event row; the API returns the same shapes.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.template.loader import render_to_string
from django.utils import timezone

from chatbot import cards
from chatbot.models import ChatSession, Message

ROLE_NAMES = {Message.Role.BOT: "Assistant", Message.Role.SYSTEM: ""}
# Shown beside the name, so a customer who calls themselves "Alice (Fiido
# Support)" still reads as a customer, and an agent always as an agent.
ROLE_TAGS = {Message.Role.USER: "Customer", Message.Role.AGENT: "Agent"}


def agent_payload(user: AbstractBaseUser | None) -> dict[str, str] | None:
    if user is None:
        return None
    return {"username": user.get_username(), "name": display_name(user)}


def display_name(user: AbstractBaseUser) -> str:
    full = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()


def iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def bubble_html(message: dict[str, Any]) -> str:
    """The one bubble partial (templates/includes/bubble.html), rendered."""
    return render_to_string("includes/bubble.html", {"message": message}).strip()


def message_payload(message: Message, *, seq: int) -> dict[str, Any]:
    """A message as the API and the streams show it, rendered bubble included."""
    if message.role == Message.Role.AGENT and message.agent is not None:
        name = display_name(message.agent)
    elif message.role == Message.Role.USER:
        name = message.session.customer_name or "Customer"
    else:
        name = ROLE_NAMES.get(message.role, "")
    payload: dict[str, Any] = {
        "id": message.id,
        "seq": seq,
        "role": message.role,
        "content": message.content,
        "agent": agent_payload(message.agent) if message.role == Message.Role.AGENT else None,
        "client_id": str(message.client_id),
        "created_at": iso(message.created_at),
        "parts": message_parts(message),
    }
    local = timezone.localtime(message.created_at)
    context = {**payload, "name": name, "tag": ROLE_TAGS.get(message.role, ""), "time": local.strftime("%H:%M")}
    payload["html"] = bubble_html(context)
    return payload


def message_parts(message: Message) -> list[dict[str, Any]]:
    """Product cards come from the bot alone (which writes them from the order
    database): a customer's or an agent's ``[PRODUCT]`` text stays text, so
    nobody can post an official-looking card with a tracking pixel or a fake
    "Track" link."""
    if message.role == Message.Role.BOT:
        return cards.parse(message.content)
    return [{"type": "text", "text": message.content}]


def message_event(session: ChatSession, message_data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "session_name": session.name,
        "seq": message_data["seq"],
        "message": message_data,
    }


def status_event(session: ChatSession, *, previous: str, seq: int) -> dict[str, Any]:
    return {
        "type": "status",
        "session_name": session.name,
        "seq": seq,
        "status": session.status,
        "previous": previous,
        "agent": agent_payload(session.assigned_agent),
        "escalation_reason": session.escalation_reason,
        "escalated_at": iso(session.escalated_at),
    }


def deleted_event(session_name: str) -> dict[str, Any]:
    """The last frame of every stream of an erased conversation (not in any log)."""
    return {"type": "deleted", "session_name": session_name}


def session_state(session: ChatSession) -> dict[str, Any]:
    """The session's state as every session endpoint returns it."""
    return {
        "session_name": session.name,
        "status": session.status,
        "assigned_agent": agent_payload(session.assigned_agent),
        "escalation_reason": session.escalation_reason,
        "escalated_at": iso(session.escalated_at),
        "message_count": session.message_count,
        "last_event_id": session.last_seq,
        "created_at": iso(session.created_at),
        "updated_at": iso(session.updated_at),
    }
