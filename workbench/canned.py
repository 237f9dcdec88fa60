"""Canned replies: an agent's ready answers, shared or personal, filled in for a conversation."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.http import Http404
from django.utils import translation
from django.utils.translation import pgettext

from chatbot import payloads
from chatbot.bots import orders
from chatbot.exceptions import InvalidInput, NotAllowed
from chatbot.models import ChatSession, Message
from fiido.exceptions import Conflict
from workbench.models import CannedReply

SHORTCUT = re.compile(r"[a-z0-9-]{1,32}")
TITLE_MAX_CHARS = 100
QUERY_MAX_CHARS = 100
PLACEHOLDER = re.compile(r"\{(customer_name|agent_name|order_number)\}")
NOT_FOUND = "Canned reply not found."


def parse_id(raw: str) -> int:
    """A reply id from the URL; anything else is no reply (404, as the API answers)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise Http404(NOT_FOUND)
    return int(raw)


def visible_to(agent: AbstractBaseUser) -> QuerySet:
    """The shared replies and the agent's own."""
    return CannedReply.objects.filter(Q(owner__isnull=True) | Q(owner=agent))


def search(agent: AbstractBaseUser, query: str | None) -> list[dict[str, Any]]:
    """The agent's replies matching ``query`` (shortcut, title or body), most used first."""
    replies = visible_to(agent)
    if query:
        if len(query) > QUERY_MAX_CHARS:
            raise InvalidInput(f"q is longer than {QUERY_MAX_CHARS} characters.")
        query = query.strip().lstrip("/")
        replies = replies.filter(
            Q(shortcut__startswith=query.lower()) | Q(title__icontains=query) | Q(body__icontains=query)
        )
    return [as_json(reply) for reply in replies.order_by("-use_count", "shortcut")[:50]]


def listing(agent: AbstractBaseUser) -> list[dict[str, Any]]:
    """All the agent's replies, their own first, then the shared ones, by shortcut."""
    replies = visible_to(agent).order_by(F("owner").asc(nulls_last=True), "shortcut")
    return [as_json(reply) for reply in replies]


def as_json(reply: CannedReply) -> dict[str, Any]:
    return {
        "id": reply.pk,
        "shortcut": reply.shortcut,
        "title": reply.title,
        "body": reply.body,
        "shared": reply.shared,
    }


def create(agent: AbstractBaseUser, data: dict[str, Any]) -> CannedReply:
    """A personal reply of the agent; a shortcut they already have is a 409."""
    reply = CannedReply(owner=agent, **_fields(data, partial=False))
    return _save(reply)


def update(agent: AbstractBaseUser, reply_id: int, data: dict[str, Any]) -> CannedReply:
    """Edit one of the agent's own replies (shared ones are kept by staff in the admin)."""
    reply = _own(agent, reply_id)
    for name, value in _fields(data, partial=True).items():
        setattr(reply, name, value)
    return _save(reply)


def delete(agent: AbstractBaseUser, reply_id: int) -> None:
    _own(agent, reply_id).delete()


def fill(agent: AbstractBaseUser, reply_id: int, session: ChatSession) -> str:
    """The reply's body for this conversation: ``{customer_name}`` (a neutral word,
    in the customer's language, when unknown), ``{agent_name}``, ``{order_number}``
    (the last one mentioned in the chat; left as written when there is none).
    Any other ``{x}`` stays as written. Counts the use (most used come first)."""
    reply = visible_to(agent).filter(pk=reply_id).first()
    if reply is None:
        raise Http404(NOT_FOUND)
    CannedReply.objects.filter(pk=reply.pk).update(use_count=F("use_count") + 1)
    with translation.override(session.language or settings.LANGUAGE_CODE):
        customer = session.customer_name or pgettext("canned reply: a customer without a name", "customer")
    values = {"customer_name": customer, "agent_name": payloads.display_name(agent)}
    order = last_order_number(session)
    if order:
        values["order_number"] = order
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), reply.body)


def last_order_number(session: ChatSession) -> str | None:
    """The last order number the customer or the bot mentioned in the chat."""
    for content in (
        Message.objects.filter(session=session, role__in=[Message.Role.USER, Message.Role.BOT])
        .order_by("-id")
        .values_list("content", flat=True)[:100]
    ):
        numbers = orders.find_order_numbers(content)
        if numbers:
            return numbers[-1]
    return None


def _own(agent: AbstractBaseUser, reply_id: int) -> CannedReply:
    reply = visible_to(agent).filter(pk=reply_id).first()
    if reply is None:
        raise Http404(NOT_FOUND)  # another agent's personal reply is not this agent's business
    if reply.shared:
        raise NotAllowed("Shared replies are managed by staff in the admin.")
    return reply


def _fields(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in ("shortcut", "title", "body"):
        if name not in data:
            if not partial:
                raise InvalidInput(f"{name} is required.")
            continue
        value = data[name]
        if not isinstance(value, str):
            raise InvalidInput(f"{name} must be a string.")
        fields[name] = value.strip()
    if "shortcut" in fields and not SHORTCUT.fullmatch(fields["shortcut"]):
        raise InvalidInput("shortcut must be 1-32 lower-case letters, digits or hyphens.")
    if "title" in fields and not 1 <= len(fields["title"]) <= TITLE_MAX_CHARS:
        raise InvalidInput(f"title must be 1-{TITLE_MAX_CHARS} characters.")
    if "body" in fields:
        if not fields["body"]:
            raise InvalidInput("body must not be blank.")
        if len(fields["body"]) > settings.MESSAGE_MAX_CHARS:
            raise InvalidInput(f"body is longer than {settings.MESSAGE_MAX_CHARS} characters.")
    return fields


def _save(reply: CannedReply) -> CannedReply:
    try:
        with transaction.atomic():
            reply.save()
    except IntegrityError:
        raise Conflict(f"You already have a reply /{reply.shortcut}.") from None
    return reply
