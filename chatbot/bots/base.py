"""The bot protocol and the setting that picks the bot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

if TYPE_CHECKING:
    from chatbot.models import ChatSession, Message

# The bots' fixed texts are in the active language: the state machine asks a
# bot with the conversation's language active (translation.override).
GREETING = _(
    "Hi! I'm the Fiido assistant. Ask me about delivery, returns, warranty or "
    "batteries, or give me your order number (like UK22080) and I'll look it up."
)


# Escalation reasons the bots write: stored in English (they are data, like a
# customer's own reason), shown to agents in their language where known.
REASON_ASKED = gettext_noop("Customer asked for a person")
REASON_UNANSWERED = gettext_noop("The assistant could not answer")


@dataclass(frozen=True, slots=True)
class BotReply:
    """What a bot says back, and whether it wants a person to take over.

    ``answered`` is False for an honest "I don't know"; three of those in a row
    hand the conversation to a person.
    """

    text: str
    answered: bool = True
    escalate: bool = False
    reason: str = ""


class Bot(Protocol):
    """Anything that answers a customer given the conversation so far, in the
    active language (the conversation's: ``session.language``)."""

    def greeting(self) -> str: ...

    def reply(self, session: ChatSession, history: Sequence[Message]) -> BotReply: ...


@lru_cache(maxsize=8)
def _load(path: str) -> type:
    return import_string(path)


def get_bot() -> Bot:
    """The bot named by ``settings.CHATBOT_BACKEND`` (a dotted path to a class)."""
    return _load(settings.CHATBOT_BACKEND)()
