"""The built-in assistant: works offline, answers from the FAQ and looks up orders."""

from __future__ import annotations

from collections.abc import Sequence

from chatbot.bots.base import GREETING, BotReply
from chatbot.models import ChatSession, Message

HANDOFF_WORDS = ("human", "agent", "person", "人工", "转人工", "客服")


class BuiltinBot:
    def greeting(self) -> str:
        return GREETING

    def reply(self, session: ChatSession, history: Sequence[Message]) -> BotReply:
        text = history[-1].content if history else ""
        lowered = text.lower()
        if any(word in lowered for word in HANDOFF_WORDS):
            return BotReply(
                "Of course, I'm connecting you with a person now.",
                escalate=True,
                reason="Customer asked for a person",
            )
        return BotReply(
            "Sorry, I don't know the answer to that. You can ask me about an order "
            "number, or press “Talk to a person”.",
            answered=False,
        )
