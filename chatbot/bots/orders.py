"""Orders in the bots' words: find order numbers in a message, and write the
reply for an order with one ``[PRODUCT]`` block per line item (DESIGN §7).

Both the built-in bot and the LLM bot's tool call end here, with an order
from the order source (``chatbot/order_sources``) that the customer may see
(``chatbot/order_access.py``), so the blocks a customer sees always come from
the shop's data, never from a model's imagination.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbot import cards
from chatbot.models import Order as OrderModel
from chatbot.order_sources import Item, Order, get_order_source

# The original shop's prefixes, then digits: "UK22080", "#uk22080", "# UK22080", "UK-22080".
# No space between prefix and digits, so "in the US 2024" is not an order.
# A "#" or spaces before the prefix need no part in the pattern: only a letter
# or digit there disqualifies it. Matching them ("#?\s*" in front) cost every
# run of whitespace its length squared (security probe 2026-12, finding 5);
# now each position is tried in constant time.
ORDER_NUMBER = re.compile(
    r"(?<![A-Za-z0-9])(US|UK|EU|DE|FR|IT|ES|NL|PL)-?(\d{3,12})(?![A-Za-z0-9])",
    re.IGNORECASE,
)
MAX_ORDERS_PER_REPLY = 3  # a message quoting more numbers is answered for the first three

# The answer to an order number from a customer who has given no email address yet.
EMAIL_NEEDED = gettext_lazy(
    "To keep your orders private, I show an order only to the email address it was placed with. "
    "Please write that email address here."
)

CURRENCY_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€", "PLN": "zł"}


def find_order_numbers(text: str) -> list[str]:
    """Distinct order numbers in ``text``, normalised (``UK22080``), in order of appearance."""
    # A dict keeps the first appearance and, unlike a list, checks for a repeat in constant time.
    return list(dict.fromkeys(match.group(1).upper() + match.group(2) for match in ORDER_NUMBER.finditer(text)))


def normalise_number(value: str) -> str | None:
    """``value`` as an order number, or None if it is not one."""
    numbers = find_order_numbers(value or "")
    return numbers[0] if numbers else None


def lookup(number: str) -> Order | None:
    """The order with this number from the order source, or None.

    No privacy check: what a customer may see goes through
    ``order_access.customer_order``.
    """
    return get_order_source().order(number)


def status_label(status: str) -> str:
    """An order status in the active language (a value the desk does not know, as it is)."""
    try:
        return str(OrderModel.Status(status).label)
    except ValueError:
        return status


def money(amount: Decimal, currency: str) -> str:
    """``£1,299.00``: the symbol first, as the original cards show prices."""
    return f"{CURRENCY_SYMBOLS.get(currency, currency + ' ')}{amount:,.2f}"


def _field(value: Any) -> str:
    """A block field that cannot break the block: one line, no ``|``, no tags."""
    text = _without_tags(str(value))
    return " ".join(text.replace("|", "/").split())


def _without_tags(text: str) -> str:
    while cards.OPEN_TAG in text or cards.CLOSE_TAG in text:  # "[PRO[PRODUCT]DUCT]" too
        text = text.replace(cards.OPEN_TAG, "").replace(cards.CLOSE_TAG, "")
    return text


def product_block(order: Order, item: Item) -> str:
    """One ``[PRODUCT]`` block for a line item, in DESIGN §7's field order."""
    shipment = item.shipment
    logistics = (shipment.carrier, shipment.tracking_number) if shipment is not None else ("", "")
    tracking_url = cards.safe_url(shipment.tracking_url) if shipment is not None else ""
    fields = [
        cards.safe_url(item.image_url),
        item.product_name,
        item.quantity,
        money(item.price, order.currency),
        item.status,
        *logistics,
    ]
    # The URL is the last field, where a "|" is allowed; only a closing tag could break it.
    url = _without_tags(tracking_url)
    return f"{cards.OPEN_TAG}{'|'.join(_field(value) for value in fields)}|{url}{cards.CLOSE_TAG}"


def summary(order: Order) -> str:
    """One line, in the active language: number, status, total and date."""
    return _("Order %(number)s: %(status)s, total %(total)s, placed on %(date)s.") % {
        "number": order.number,
        "status": status_label(order.status),
        "total": money(order.total, order.currency),
        "date": date_format(timezone.localtime(order.placed_at), "DATE_FORMAT"),
    }


def order_reply(order: Order) -> str:
    """The reply for a found order: the summary, then one block per line item."""
    blocks = product_blocks(order)
    if not blocks:
        return summary(order)
    return "\n".join([summary(order), _("Here is what is in it:"), blocks])


def product_blocks(order: Order) -> str:
    """Every line item's block, one per line: what both bots show for an order."""
    return "\n".join(product_block(order, item) for item in order.items)


def not_found_reply(number: str) -> str:
    """The answer when an order is not shown to a customer who gave an email:
    the same whether it does not exist or was placed with another email, so
    it never tells which."""
    return _(
        "I couldn't find an order %(number)s for the email address you gave. Please check the number "
        "(it looks like UK22080) and write the email address you used for the order, or press "
        "“Talk to a person” and an agent will help."
    ) % {"number": number}


def order_facts(order: Order) -> dict[str, Any]:
    """The order as plain data, for a language model to describe in words."""
    return {
        "found": True,
        "order_number": order.number,
        "status": status_label(order.status),
        "total": money(order.total, order.currency),
        "placed_on": timezone.localtime(order.placed_at).date().isoformat(),
        "items": [
            {
                "product": item.product_name,
                "quantity": item.quantity,
                "price": money(item.price, order.currency),
                "status": item.status,
                "carrier": item.shipment.carrier if item.shipment else "",
                "tracking_number": item.shipment.tracking_number if item.shipment else "",
            }
            for item in order.items
        ],
        "note": "The customer is shown a product card for every item; do not repeat tracking links.",
    }
