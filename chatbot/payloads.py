"""Model -> JSON dictionaries: the API's bodies and the streams' wire events.

Message and status payloads are built once, when their event is written, and
stored in the event row; the API returns the same shapes.

What is stored is language-neutral: a message's own words, a system message's
``code`` and ``params``, the speaker's ``name``. The rendered parts (``html``,
and a system message's ``content``) are stored in ``settings.LANGUAGE_CODE``
and rendered again for a reader of another language by ``localized_message``
(``localized_event_json`` for the streams, cached: each event is rendered
once per language in use, not once per reader).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy, pgettext_lazy

from chatbot import cards
from chatbot.bots import orders
from chatbot.models import ChatSession, Message
from chatbot.order_sources import Order

# The name shown for a speaker who has none of their own.
ROLE_NAMES = {Message.Role.BOT: pgettext_lazy("speaker", "Assistant")}  # a customer with no name: the tag says it
# Shown beside the name, so a customer who calls themselves "Alice (Fiido
# Support)" still reads as a customer, and an agent always as an agent.
ROLE_TAGS = {
    Message.Role.USER: pgettext_lazy("tag", "Customer"),
    Message.Role.AGENT: pgettext_lazy("tag", "Agent"),
    "note": pgettext_lazy("tag", "Note · only agents see this"),
}
# System messages, stored as a code and its parameters, said in each reader's language.
SYSTEM_TEXTS = {
    "agent_joined": gettext_lazy("%(agent)s has joined the chat"),
    "agent_left": gettext_lazy("%(agent)s left; the assistant is back"),
    "agent_closed": gettext_lazy("%(agent)s closed the chat"),
    "customer_closed": gettext_lazy("The customer ended the chat"),
    "transferred": gettext_lazy("%(agent)s transferred the chat to %(to)s"),
    "returned_to_queue": gettext_lazy("%(agent)s returned the chat to the queue; the next agent will be with you soon"),
    "offline_request": gettext_lazy(
        "Nobody can answer right now. Your message is saved: an agent will answer by email, with a link back here."
    ),
    "support_closed": gettext_lazy(
        "Nobody can answer right now. To leave a message, press “Talk to a person” and give your email:"
        " an agent will answer by email."
    ),
    "idle_warning": gettext_lazy("This chat will close in %(minutes)s minutes unless someone writes."),
    "idle_closed_minutes": gettext_lazy("This chat was closed after %(minutes)s minutes without activity."),
    "idle_closed_hours": gettext_lazy("This chat was closed after %(hours)s hours without activity."),
}


def system_text(code: str, params: dict[str, Any]) -> str:
    """A system message in the active language (its code unknown: empty)."""
    template = SYSTEM_TEXTS.get(code)
    if template is None:
        return ""
    try:
        return str(template) % params
    except (KeyError, TypeError, ValueError):  # a translation that lost a placeholder
        with translation.override(settings.LANGUAGE_CODE):
            return str(template) % params


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
    """The one bubble partial (templates/includes/bubble.html), rendered in the active language."""
    role = message["role"]
    context = {
        **message,
        "name": message.get("name") or ROLE_NAMES.get(role, ""),
        "tag": ROLE_TAGS.get(role, ""),
        "time": _fallback_time(message.get("created_at")),
    }
    return render_to_string("includes/bubble.html", {"message": context}).strip()


def _fallback_time(created_at: str | None) -> str:
    """HH:MM in UTC; the pages show every <time> in the reader's own zone and format."""
    return created_at[11:16] if created_at else ""


def message_payload(message: Message, *, seq: int, parts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A message as the API and the streams show it, rendered bubble included;
    ``parts`` for a message that is not text (a photo or file), else parsed."""
    if message.role == Message.Role.AGENT and message.agent is not None:
        name = display_name(message.agent)
    elif message.role == Message.Role.USER:
        name = message.session.customer_name
    else:
        name = ""
    payload: dict[str, Any] = {
        "id": message.id,
        "seq": seq,
        "role": message.role,
        "content": message.content,
        "code": message.code,
        "params": message.params,
        "name": name,
        "agent": agent_payload(message.agent) if message.role == Message.Role.AGENT else None,
        "client_id": str(message.client_id),
        "created_at": iso(message.created_at),
        "parts": parts if parts is not None else message_parts(message),
    }
    with translation.override(settings.LANGUAGE_CODE):
        payload["html"] = bubble_html(payload)
    return payload


def note_payload(note) -> dict[str, Any]:
    """A private note as agents' streams and pages show it (never a customer's)."""
    payload: dict[str, Any] = {
        "id": f"note-{note.seq}",
        "seq": note.seq,
        "after_seq": note.after_seq,
        "order": note_order(note.after_seq, note.seq),
        "role": "note",
        "content": note.content,
        "name": display_name(note.author) if note.author else "",
        "author": agent_payload(note.author),
        "mentions": note.mentions,
        "client_id": str(note.client_id),
        "created_at": iso(note.created_at),
        "parts": [{"type": "text", "text": note.content}],
    }
    with translation.override(settings.LANGUAGE_CODE):
        payload["html"] = bubble_html(payload)
    return payload


def note_order(after_seq: int, seq: int) -> str:
    """Where a note sits among the messages: after event ``after_seq``, in note order."""
    return f"{after_seq}.{seq:06d}"


def note_event(session: ChatSession, note: dict[str, Any]) -> dict[str, Any]:
    return {"type": "note", "session_name": session.name, "seq": note["seq"], "note": note}


def localized_message(message: dict[str, Any], language: str) -> dict[str, Any]:
    """``message`` (a stored payload) with its rendered parts in ``language``."""
    if language == settings.LANGUAGE_CODE:
        return message
    with translation.override(language):
        message = dict(message)
        if message.get("code"):
            message["content"] = system_text(message["code"], message.get("params") or {})
            message["parts"] = [{"type": "text", "text": message["content"]}]
        message["html"] = bubble_html(message)
    return message


@lru_cache(maxsize=4096)
def localized_event_json(text: str, language: str) -> str:
    """A stored event (JSON text) for a reader of ``language``: message events
    and history snapshots get their rendered parts in it; others are as stored.
    Cached, because an event goes out to many streams of one language."""
    if language == settings.LANGUAGE_CODE:
        return text
    data = json.loads(text)
    if data.get("type") == "message":
        data["message"] = localized_message(data["message"], language)
    elif data.get("type") == "note":
        data["note"] = localized_message(data["note"], language)
    elif data.get("type") == "history":
        data["messages"] = [localized_message(message, language) for message in data["messages"]]
    else:
        return text
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def with_translation(message: dict[str, Any], row, *, replaces: bool) -> dict[str, Any]:
    """``message`` with its translation (a ``MessageTranslation``), its bubble
    rendered again in the active language.

    ``replaces``: the reader is the customer, who reads the translation in
    the bubble and can open the original; agents read the original with the
    translation beneath (or "translation missing" while it is).
    """
    names = dict(settings.LANGUAGES)
    message = dict(message)
    message["translation"] = {
        "language": row.language,
        "source_language": row.source_language,
        "source_name": names.get(row.source_language, row.source_language),
        "text": row.text,
        "missing": not row.text,
        "replaces": replaces and bool(row.text),
    }
    message["html"] = bubble_html(message)
    return message


def translation_event(session_name: str, message: dict[str, Any], *, reader: str) -> dict[str, Any]:
    """A translation arrived (or is missing): ``message`` is the bubble to show
    instead, rendered for readers of the ``reader`` language (pages of another
    language ignore it)."""
    return {
        "type": "translation",
        "session_name": session_name,
        "seq": message["seq"],
        "language": reader,
        "message": message,
    }


def summary_payload(summary) -> dict[str, Any]:
    """A ``ConversationSummary`` as agents' pages show it."""
    return {"text": summary.text, "upto_seq": summary.upto_seq, "created_at": iso(summary.created_at)}


def summary_event(session_name: str, summary: dict[str, Any]) -> dict[str, Any]:
    """The take-over summary, for agents' streams only."""
    return {"type": "summary", "session_name": session_name, "summary": summary}


def active_language() -> str:
    return translation.get_language() or settings.LANGUAGE_CODE


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
        "offline_request": session.offline_request,
    }


def customer_event(session: ChatSession, *, seq: int) -> dict[str, Any]:
    """Who the customer said they are (their name and email)."""
    return {
        "type": "customer",
        "session_name": session.name,
        "seq": seq,
        "customer_name": session.customer_name,
        "customer_email": session.customer_email,
    }


def rating_payload(rating) -> dict[str, Any]:
    return {"score": rating.score, "comment": rating.comment, "created_at": iso(rating.created_at)}


def rating_event(session: ChatSession, rating, *, seq: int) -> dict[str, Any]:
    """The customer's rating of the closed conversation (agents see it)."""
    return {"type": "rating", "session_name": session.name, "seq": seq, "rating": rating_payload(rating)}


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
        "offline_request": session.offline_request,
        "created_at": iso(session.created_at),
        "updated_at": iso(session.updated_at),
    }


def order_payload(order: Order) -> dict[str, Any]:
    """An order as the agents' customer panel shows it: the order, its lines and
    parcels, in the active language (links only if http(s), as on the cards)."""
    return {
        "number": order.number,
        "status": order.status,
        "status_label": orders.status_label(order.status),
        "total": f"{order.total:.2f}",
        "total_display": orders.money(order.total, order.currency),
        "currency": order.currency,
        "placed_at": iso(order.placed_at),
        "items": [
            {
                "name": item.product_name,
                "quantity": item.quantity,
                "price": orders.money(item.price, order.currency),
                "status": item.status,
                "url": cards.safe_url(item.product_url),
            }
            for item in order.items
        ],
        "shipments": [
            {
                "carrier": shipment.carrier,
                "tracking_number": shipment.tracking_number,
                "tracking_url": cards.safe_url(shipment.tracking_url),
                "status": shipment.status,
            }
            for shipment in order.shipments
        ],
    }
