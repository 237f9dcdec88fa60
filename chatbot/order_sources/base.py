"""What an order source hands the rest of the desk, and the setting that picks the source.

A source answers two questions, ``order(number)`` and
``orders_for_email(email, limit)``, with plain frozen dataclasses: the bots'
replies and product cards (``chatbot/bots/orders.py``) and the agents'
customer panel are written from these alone, so they read the same whether the
orders live in this database or in a shop's API. Who may see which order is
not a source's business: ``chatbot/order_access.py`` decides that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True, slots=True)
class Shipment:
    """A parcel: who carries it, its tracking number and link, and its card status."""

    carrier: str
    tracking_number: str = ""
    tracking_url: str = ""  # as the source has it; the card keeps it only if it is http(s)
    status: str = ""  # a chatbot.models.CardStatus value


@dataclass(frozen=True, slots=True)
class Item:
    """A line item: one product card."""

    product_name: str
    quantity: int
    price: Decimal  # the line's price (unit price times quantity), in the order's currency
    status: str  # a chatbot.models.CardStatus value: what the card's badge says
    image_url: str = ""
    product_url: str = ""
    shipment: Shipment | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """An order as every reader of it sees it, whatever its source."""

    number: str  # upper case, no "#": UK22080
    status: str  # a chatbot.models.Order.Status value
    currency: str  # ISO 4217: GBP
    total: Decimal
    placed_at: datetime  # aware
    email: str  # the address it was placed with; "" when the source has none
    items: tuple[Item, ...] = ()
    shipments: tuple[Shipment, ...] = ()
    customer_name: str = ""


class OrderSource(Protocol):
    """Where orders come from (``settings.ORDER_SOURCE``).

    Neither method raises for a shop that is down, slow or refusing: it logs
    a warning and answers as if nothing were found, so a customer gets the
    bot's "no order" answer and an agent an empty list, never an error page.
    """

    def order(self, number: str) -> Order | None:
        """The order with this number (``UK22080``, any case), or None."""
        ...

    def orders_for_email(self, email: str, limit: int) -> list[Order]:
        """At most ``limit`` orders placed with ``email`` (any case), newest first."""
        ...


@lru_cache(maxsize=8)
def _load(path: str) -> type:
    return import_string(path)


def get_order_source() -> OrderSource:
    """The source named by ``settings.ORDER_SOURCE`` (a dotted path to a class)."""
    return _load(settings.ORDER_SOURCE)()
