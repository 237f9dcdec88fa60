"""Template filters for the card partial."""

from __future__ import annotations

from django import template

from chatbot import cards

register = template.Library()


@register.filter
def status_tone(status: str) -> str:
    """``{{ card.status|status_tone }}``: see ``chatbot.cards.status_tone``."""
    return cards.status_tone(str(status or ""))


@register.filter
def status_label(status: str) -> str:
    """``{{ card.status|status_label }}``: a status of the card vocabulary in the
    reader's language (``CardStatus``); any other text as it is."""
    from chatbot.models import CardStatus

    status = str(status or "")
    try:
        return str(CardStatus(status).label)
    except ValueError:
        return status
