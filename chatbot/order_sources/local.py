"""The built-in order source: the ``Order``, ``OrderItem`` and ``Shipment`` rows
kept in the admin (and loaded by ``seed_demo``)."""

from __future__ import annotations

from django.db.models import QuerySet

from chatbot import models
from chatbot.order_sources.base import Item, Order, Shipment


class LocalOrderSource:
    """Reads this database; needs no configuration."""

    def order(self, number: str) -> Order | None:
        found = _orders().filter(number__iexact=number.strip()).first()
        return as_order(found) if found is not None else None

    def orders_for_email(self, email: str, limit: int) -> list[Order]:
        email = email.strip()
        if not email or limit <= 0:
            return []
        found = _orders().filter(customer_email__iexact=email).order_by("-placed_at", "-id")[:limit]
        return [as_order(order) for order in found]


def _orders() -> QuerySet[models.Order]:
    return models.Order.objects.prefetch_related("items__shipment", "shipments")


def as_order(order: models.Order) -> Order:
    """A model order, its items and shipments as the source's plain data."""
    items = tuple(
        Item(
            product_name=item.product_name,
            quantity=item.quantity,
            price=item.price,
            status=item.card_status,
            image_url=item.image_url,
            shipment=_shipment(item.shipment) if item.shipment is not None else None,
        )
        for item in order.items.all()
    )
    return Order(
        number=order.number,
        status=order.status,
        currency=order.currency,
        total=order.total,
        placed_at=order.placed_at,
        email=order.customer_email,
        items=items,
        shipments=tuple(_shipment(shipment) for shipment in order.shipments.all()),
        customer_name=order.customer_name,
    )


def _shipment(shipment: models.Shipment) -> Shipment:
    return Shipment(
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
        tracking_url=shipment.tracking_url,
        status=shipment.status,
    )
