"""Template filters for the card partial."""

from __future__ import annotations

from django import template

from chatbot import cards

register = template.Library()


@register.filter
def status_tone(status: str) -> str:
    """``{{ card.status|status_tone }}``: see ``chatbot.cards.status_tone``."""
    return cards.status_tone(str(status or ""))
