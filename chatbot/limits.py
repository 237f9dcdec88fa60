"""The customer side's rate limits, on the mechanism of ``fiido.ratelimits``.

- customer messages: per conversation (``RATE_LIMIT_MESSAGES``), and per
  client address over all its conversations (``RATE_LIMIT_MESSAGES_PER_ADDRESS``),
  since every new conversation brings a fresh per-conversation allowance;
- new conversations: per client address (``RATE_LIMIT_SESSIONS``);
- requests for a person: per client address (``RATE_LIMIT_ESCALATIONS``), so
  one client cannot fill every agent's queue;
- typing signals: per conversation and side (``RATE_LIMIT_TYPING``);
- photos and files: per client address (``RATE_LIMIT_ATTACHMENTS``), each
  one also counted as a message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

from chatbot.selectors import owned_names
from fiido.ratelimits import Limit, client_address, refusal

MESSAGES = Limit("fiido.messages", "RATE_LIMIT_MESSAGES", "Too many messages in this conversation. Wait a moment.")
MESSAGES_PER_ADDRESS = Limit(
    "fiido.messages-per-address",
    "RATE_LIMIT_MESSAGES_PER_ADDRESS",
    "Too many messages from your address. Wait a moment.",
)
NEW_SESSIONS = Limit("fiido.sessions", "RATE_LIMIT_SESSIONS", "Too many new conversations from your address.")
TYPING = Limit("fiido.typing", "RATE_LIMIT_TYPING", "Too many typing signals. Wait a moment.")
ESCALATIONS = Limit(
    "fiido.escalations", "RATE_LIMIT_ESCALATIONS", "Too many requests for a person from your address. Try again later."
)


ATTACHMENTS = Limit("fiido.attachments", "RATE_LIMIT_ATTACHMENTS", "Too many files from your address. Try again later.")


def limit_new_sessions(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """API views that start a conversation: at most ``RATE_LIMIT_SESSIONS`` per address."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return refusal(request, NEW_SESSIONS, client_address(request)) or view(request, *args, **kwargs)

    return wrapper


def limit_customer_messages(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Customer message views: at most ``RATE_LIMIT_MESSAGES_PER_ADDRESS`` per
    client address and ``RATE_LIMIT_MESSAGES`` per conversation.

    Every post counts against the caller's own address, whichever conversation
    it names. Only the conversation's owner is counted against the
    conversation: anyone else gets the view's 404 and cannot use up the
    owner's allowance by guessing a name.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, name: str, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = refusal(request, MESSAGES_PER_ADDRESS, client_address(request))
        if refused is None and name in owned_names(request.session):
            refused = refusal(request, MESSAGES, name)
        return refused or view(request, name, *args, **kwargs)

    return wrapper


def limit_customer_attachments(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Customer uploads: at most ``RATE_LIMIT_ATTACHMENTS`` per client address
    (a file costs far more than a line of text to take in and keep), and each
    counts as a message against the message limits."""
    counted_as_message = limit_customer_messages(view)

    @wraps(view)
    def wrapper(request: HttpRequest, name: str, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = refusal(request, ATTACHMENTS, client_address(request))
        return refused or counted_as_message(request, name, *args, **kwargs)

    return wrapper


def limit_escalations(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Asking for a person: at most ``RATE_LIMIT_ESCALATIONS`` per address (only a
    conversation's owner is counted, as with messages)."""

    @wraps(view)
    def wrapper(request: HttpRequest, name: str, *args: Any, **kwargs: Any) -> HttpResponse:
        if name in owned_names(request.session):
            refused = refusal(request, ESCALATIONS, client_address(request))
            if refused is not None:
                return refused
        return view(request, name, *args, **kwargs)

    return wrapper


def typing_refusal(request: HttpRequest, side: str, name: str) -> HttpResponse | None:
    """A 429 once ``side`` ("user" or "agent") of conversation ``name`` has sent
    ``RATE_LIMIT_TYPING`` signals; called after the caller's access is checked,
    so nobody else can use up their allowance."""
    return refusal(request, TYPING, f"{side}:{name}")
