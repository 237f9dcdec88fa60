"""The customer side's rate limits, on the mechanism of ``fiido.ratelimits``.

- customer messages: per conversation (``RATE_LIMIT_MESSAGES``);
- new conversations: per client address, through the API and the chat page
  (``RATE_LIMIT_SESSIONS``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

from chatbot.selectors import owned_names
from fiido.ratelimits import Limit, client_address, refusal

MESSAGES = Limit("fiido.messages", "RATE_LIMIT_MESSAGES", "Too many messages in this conversation. Wait a moment.")
NEW_SESSIONS = Limit("fiido.sessions", "RATE_LIMIT_SESSIONS", "Too many new conversations from your address.")


def limit_new_sessions(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """API views that start a conversation: at most ``RATE_LIMIT_SESSIONS`` per address."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return refusal(request, NEW_SESSIONS, client_address(request)) or view(request, *args, **kwargs)

    return wrapper


def limit_customer_messages(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Customer message views: at most ``RATE_LIMIT_MESSAGES`` per conversation.

    Only the conversation's owner is counted: anyone else gets the view's 404
    and cannot use up the owner's allowance by guessing a name.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, name: str, *args: Any, **kwargs: Any) -> HttpResponse:
        if name in owned_names(request.session):
            refused = refusal(request, MESSAGES, name)
            if refused is not None:
                return refused
        return view(request, name, *args, **kwargs)

    return wrapper
