"""The product-card parser: message text -> ``parts`` (DESIGN §7).

The one place that understands ``[PRODUCT]...[/PRODUCT]`` blocks. It is pure,
never raises, and lets through only ``http(s)`` URLs; a malformed block stays
text, character for character.
"""

from __future__ import annotations

import re
from typing import Literal, TypedDict

OPEN_TAG = "[PRODUCT]"
CLOSE_TAG = "[/PRODUCT]"
FIELD_COUNT = 8  # image|title|quantity|price|status|carrier|tracking number|tracking URL

# A block is the shortest run from an opening tag to a closing tag that holds
# no other opening tag; blocks may span lines.
_BLOCK = re.compile(r"\[PRODUCT\]((?:(?!\[PRODUCT\]).)*?)\[/PRODUCT\]", re.DOTALL)
_SAFE_URL = re.compile(r"https?://[^\s\"'<>\\`\x00-\x1f\x7f]+", re.IGNORECASE)


class TextPart(TypedDict):
    type: Literal["text"]
    text: str


class CardPart(TypedDict):
    type: Literal["card"]
    image: str
    title: str
    quantity: str
    price: str
    status: str
    carrier: str
    tracking_number: str
    tracking_url: str


Part = TextPart | CardPart


# Badge colours by status (DESIGN §7's vocabulary); anything else is "other".
STATUS_TONES = {
    "Shipped": "moving",
    "In Transit": "moving",
    "Out for Delivery": "moving",
    "Received": "done",
    "Active": "done",
    "Delivery Failed": "problem",
    "Cancelled": "problem",
    "Expired": "problem",
    "Refunded": "refund",
    "Returned & Refunded": "refund",
    "Pending": "waiting",
}
_TONES_BY_KEY = {status.lower(): tone for status, tone in STATUS_TONES.items()}


def status_tone(status: str) -> str:
    """The badge tone of a card status: moving, done, problem, refund, waiting or other."""
    return _TONES_BY_KEY.get(" ".join(status.lower().split()), "other")


def safe_url(value: str) -> str:
    """Return ``value`` if it is a whole http(s) URL, else an empty string."""
    value = value.strip()
    return value if _SAFE_URL.fullmatch(value) else ""


def _card(body: str) -> CardPart | None:
    fields = [field.strip() for field in body.split("|", FIELD_COUNT - 1)]
    if len(fields) != FIELD_COUNT or not fields[1]:
        return None
    image, title, quantity, price, status, carrier, number, url = fields
    return {
        "type": "card",
        "image": safe_url(image),
        "title": title,
        "quantity": quantity,
        "price": price,
        "status": status,
        "carrier": carrier,
        "tracking_number": number,
        "tracking_url": safe_url(url),
    }


def parse(text: str) -> list[Part]:
    """Split message text into text and card parts, in order.

    Text outside well-formed blocks, and every malformed block, is kept
    verbatim; adjacent text is merged and empty text dropped.
    """
    parts: list[Part] = []
    pending = ""
    position = 0
    for match in _BLOCK.finditer(text):
        card = _card(match.group(1))
        if card is None:
            continue
        pending += text[position : match.start()]
        if pending:
            parts.append({"type": "text", "text": pending})
            pending = ""
        parts.append(card)
        position = match.end()
    pending += text[position:]
    if pending:
        parts.append({"type": "text", "text": pending})
    return parts


def plain_text(text: str) -> str:
    """The message as one line of text with each card shown by its title."""
    return " ".join(part["text"] if part["type"] == "text" else f"[{part['title']}]" for part in parse(text)).strip()
