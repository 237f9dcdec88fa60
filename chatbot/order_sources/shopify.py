"""Orders from a Shopify shop, through the Admin GraphQL API.

Set ``ORDER_SOURCE=chatbot.order_sources.shopify.ShopifyOrderSource``,
``SHOPIFY_SHOP_DOMAIN`` (``fiido-uk.myshopify.com``), ``SHOPIFY_ACCESS_TOKEN``
(an Admin API access token with the ``read_orders`` scope) and, if need be,
``SHOPIFY_API_VERSION``. Each request may take ``ORDER_SOURCE_TIMEOUT_SECONDS``
in all, one retry included.

**Numbers.** The desk's order numbers (a region prefix and digits, UK22080)
are the shop's order *names* with its order-ID prefix set to the region
(Shopify: Settings > General > Order ID, "UK" in place of "#"); a ``#`` in
front of a name is ignored, so ``#UK22080`` is UK22080 too. An order is asked
for as ``name:UK22080 OR name:#UK22080`` and only a name equal to the number
counts (Shopify's search also finds near names).

**Failures.** An HTTP error, a GraphQL ``errors`` answer, an unreadable body,
a timeout or throttling (HTTP 429 with ``Retry-After``, or the GraphQL error
``THROTTLED``) is logged as a warning and answered as "no order": the bot
says it found none, the agents' panel is empty; nothing raises. A throttled
request is retried once when Shopify asks for a wait of at most
``RETRY_WAIT_MAX_SECONDS`` that still fits in the time left.
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chatbot.models import CardStatus
from chatbot.models import Order as OrderModel
from chatbot.order_sources.base import Item, Order, Shipment

logger = logging.getLogger(__name__)

GRAPHQL_PATH = "/admin/api/{version}/graphql.json"
RETRY_WAIT_MAX_SECONDS = 2.0  # a customer is waiting: a longer wait than this is not worth it
DEFAULT_THROTTLE_WAIT_SECONDS = 1.0  # when Shopify throttles without saying for how long
MAX_RESPONSE_BYTES = 2_000_000  # ten orders of fifty lines are well under this; more is broken
MAX_ORDERS_PER_EMAIL = 50  # the agents' panel shows a handful; Shopify's page maximum is 250
NAME_CANDIDATES = 5  # near names Shopify's search may return beside the exact one
_NUMBER = re.compile(r"[A-Z0-9-]{1,40}")  # what may go into a name: query unquoted (no search syntax)

ORDER_FIELDS = """
fragment OrderFields on Order {
  name
  email
  createdAt
  cancelledAt
  displayFinancialStatus
  displayFulfillmentStatus
  totalPriceSet { shopMoney { amount currencyCode } }
  lineItems(first: 50) {
    nodes {
      id
      title
      quantity
      originalUnitPriceSet { shopMoney { amount currencyCode } }
      image { url }
      product { onlineStoreUrl }
    }
  }
  fulfillments(first: 20) {
    displayStatus
    trackingInfo(first: 5) { company number url }
    fulfillmentLineItems(first: 50) { nodes { lineItem { id } } }
  }
}
"""
ORDER_BY_NAME = (
    "query OrderByName($query: String!) {\n"
    f"  orders(first: {NAME_CANDIDATES}, query: $query) {{ nodes {{ ...OrderFields }} }}\n"
    "}\n" + ORDER_FIELDS
)
ORDERS_BY_EMAIL = (
    "query OrdersByEmail($query: String!, $first: Int!) {\n"
    "  orders(first: $first, sortKey: CREATED_AT, reverse: true, query: $query) { nodes { ...OrderFields } }\n"
    "}\n" + ORDER_FIELDS
)

# Shopify's fulfillment display statuses, as the cards' badges say them.
FULFILLMENT_STATUS = {
    "IN_TRANSIT": CardStatus.IN_TRANSIT,
    "OUT_FOR_DELIVERY": CardStatus.OUT_FOR_DELIVERY,
    "DELIVERED": CardStatus.RECEIVED,
    "PICKED_UP": CardStatus.RECEIVED,
    "ATTEMPTED_DELIVERY": CardStatus.DELIVERY_FAILED,
    "FAILURE": CardStatus.DELIVERY_FAILED,
    "NOT_DELIVERED": CardStatus.DELIVERY_FAILED,
    "CANCELED": CardStatus.CANCELLED,
}  # anything else (CONFIRMED, LABEL_PRINTED, FULFILLED, READY_FOR_PICKUP…) has shipped


class ShopifyError(Exception):
    """Shopify did not answer with orders."""


class Throttled(ShopifyError):
    """Shopify asked the caller to slow down, and for how long (seconds)."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class ShopifyOrderSource:
    """Looks orders up in one Shopify shop (``settings.SHOPIFY_*``)."""

    def __init__(self) -> None:
        domain = settings.SHOPIFY_SHOP_DOMAIN.strip().rstrip("/")
        if not (domain and settings.SHOPIFY_ACCESS_TOKEN):
            raise ImproperlyConfigured("ShopifyOrderSource needs SHOPIFY_SHOP_DOMAIN and SHOPIFY_ACCESS_TOKEN.")
        # A bare domain is the shop on HTTPS; a whole URL (a test server's http://127.0.0.1:…) is used as it is.
        base = domain if "://" in domain else f"https://{domain}"
        self.url = base + GRAPHQL_PATH.format(version=settings.SHOPIFY_API_VERSION)
        self.token = settings.SHOPIFY_ACCESS_TOKEN
        self.timeout = settings.ORDER_SOURCE_TIMEOUT_SECONDS

    def order(self, number: str) -> Order | None:
        number = number.strip().lstrip("#").upper()
        if not _NUMBER.fullmatch(number):
            return None
        variables = {"query": f"name:{number} OR name:#{number}"}
        for node in self._orders(ORDER_BY_NAME, variables, what=f"order {number}"):
            if _number(node.get("name")) == number:
                return _parsed(node)
        return None

    def orders_for_email(self, email: str, limit: int) -> list[Order]:
        email = email.strip()
        if "@" not in email or limit <= 0:
            return []
        variables = {"query": f"email:{_quoted(email)}", "first": min(limit, MAX_ORDERS_PER_EMAIL)}
        # The email stays out of the log: "orders by email" says enough to find the failure.
        orders = [_parsed(node) for node in self._orders(ORDERS_BY_EMAIL, variables, what="orders by email")]
        # Search matches loosely (and ignores case); only the customer's own address counts.
        return [order for order in orders if order is not None and order.email.casefold() == email.casefold()][:limit]

    def _orders(self, query: str, variables: dict[str, Any], *, what: str) -> list[dict[str, Any]]:
        """The order nodes Shopify answers, or none (and a warning) when it fails."""
        try:
            data = self._ask(query, variables)
            nodes = data["orders"]["nodes"]
            if not isinstance(nodes, list):
                raise TypeError("orders.nodes is not a list")
        except (ShopifyError, httpx.HTTPError, KeyError, TypeError) as error:
            logger.warning("Shopify could not answer %s: %r", what, error)
            return []
        return [node for node in nodes if isinstance(node, dict)]

    def _ask(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Shopify's ``data``, one retry allowed when throttled; raises ShopifyError or httpx.HTTPError."""
        deadline = time.monotonic() + self.timeout
        headers = {"X-Shopify-Access-Token": self.token, "Accept": "application/json"}
        with httpx.Client(headers=headers) as client:
            try:
                return self._post(client, query, variables, deadline)
            except Throttled as throttled:
                if throttled.wait > RETRY_WAIT_MAX_SECONDS or time.monotonic() + throttled.wait >= deadline:
                    raise
                logger.info("Shopify throttled an order look-up; retrying in %.1f s", throttled.wait)
                time.sleep(throttled.wait)
                return self._post(client, query, variables, deadline)

    def _post(self, client: httpx.Client, query: str, variables: dict[str, Any], deadline: float) -> dict[str, Any]:
        remaining = _remaining(deadline, self.timeout)
        body = {"query": query, "variables": variables}
        with client.stream("POST", self.url, json=body, timeout=httpx.Timeout(remaining)) as response:
            data = bytearray()
            for chunk in response.iter_bytes():  # httpx times each read; the budget covers the whole body
                data += chunk
                _remaining(deadline, self.timeout)
                if len(data) > MAX_RESPONSE_BYTES:
                    raise ShopifyError(f"the response is larger than {MAX_RESPONSE_BYTES} bytes")
        if response.status_code == 429:
            raise Throttled("HTTP 429", _retry_after(response.headers.get("Retry-After")))
        if not response.is_success:
            raise ShopifyError(f"HTTP {response.status_code}: {bytes(data[:200])!r}")
        try:
            payload = json.loads(data)
        except ValueError:
            raise ShopifyError(f"not JSON: {bytes(data[:200])!r}") from None
        if not isinstance(payload, dict):
            raise ShopifyError(f"not a GraphQL answer: {bytes(data[:200])!r}")
        errors = payload.get("errors")
        if errors:
            if _throttled(errors):
                raise Throttled("THROTTLED", _throttle_wait(payload))
            raise ShopifyError(f"GraphQL errors: {_messages(errors)}")
        if not isinstance(payload.get("data"), dict):
            raise ShopifyError("the answer has no data")
        return payload["data"]


def _remaining(deadline: float, timeout: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ShopifyError(f"no answer within ORDER_SOURCE_TIMEOUT_SECONDS={timeout}")
    return remaining


def _quoted(value: str) -> str:
    """``value`` as one term of Shopify's search syntax, whatever it contains."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _retry_after(value: str | None) -> float:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return DEFAULT_THROTTLE_WAIT_SECONDS
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return DEFAULT_THROTTLE_WAIT_SECONDS


def _throttled(errors: Any) -> bool:
    if not isinstance(errors, list):
        return False
    return any(
        isinstance(error, dict)
        and isinstance(error.get("extensions"), dict)
        and error["extensions"].get("code") == "THROTTLED"
        for error in errors
    )


def _throttle_wait(payload: dict[str, Any]) -> float:
    """How long until the query's cost is back in the bucket (GraphQL ``extensions.cost``)."""
    try:
        cost = payload["extensions"]["cost"]
        status = cost["throttleStatus"]
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(0.0, missing / float(status["restoreRate"]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return DEFAULT_THROTTLE_WAIT_SECONDS


def _messages(errors: Any) -> str:
    if isinstance(errors, list):
        errors = "; ".join(
            str(error.get("message", error)) if isinstance(error, dict) else str(error) for error in errors
        )
    return str(errors)[:300]


def _number(name: Any) -> str:
    """A Shopify order name as a desk order number: ``#UK22080`` -> ``UK22080``."""
    return str(name or "").strip().lstrip("#").strip().upper()


def _parsed(node: dict[str, Any]) -> Order | None:
    """An order node as the source's data, or None (and a warning) when it lacks what a card needs."""
    try:
        return _order(node)
    except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError) as error:
        logger.warning("Shopify order %r skipped, unreadable: %r", node.get("name"), error)
        return None


def _order(node: dict[str, Any]) -> Order:
    money = node["totalPriceSet"]["shopMoney"]
    cancelled = bool(node.get("cancelledAt"))
    refunded = node.get("displayFinancialStatus") == "REFUNDED"
    shipments, shipment_of = _shipments(node.get("fulfillments") or [])
    items = []
    for line in node["lineItems"]["nodes"]:
        shipment = shipment_of.get(line.get("id"))
        quantity = int(line["quantity"])
        items.append(
            Item(
                product_name=str(line["title"]),
                quantity=quantity,
                price=Decimal(str(line["originalUnitPriceSet"]["shopMoney"]["amount"])) * quantity,
                status=_item_status(shipment, cancelled=cancelled, refunded=refunded),
                image_url=str((line.get("image") or {}).get("url") or ""),
                product_url=str((line.get("product") or {}).get("onlineStoreUrl") or ""),
                shipment=shipment,
            )
        )
    return Order(
        number=_number(node["name"]),
        status=_order_status(node, shipments, cancelled=cancelled, refunded=refunded),
        currency=str(money["currencyCode"]),
        total=Decimal(str(money["amount"])),
        placed_at=_aware(datetime.fromisoformat(str(node["createdAt"]).replace("Z", "+00:00"))),
        email=str(node.get("email") or ""),
        items=tuple(items),
        shipments=tuple(shipments),
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _shipments(fulfillments: list[dict[str, Any]]) -> tuple[list[Shipment], dict[str, Shipment]]:
    """Every parcel (one per tracking number), and the parcel each line item went in."""
    shipments: list[Shipment] = []
    shipment_of: dict[str, Shipment] = {}
    for fulfillment in fulfillments:
        status = FULFILLMENT_STATUS.get(fulfillment.get("displayStatus"), CardStatus.SHIPPED)
        tracking = fulfillment.get("trackingInfo") or [{}]  # shipped without tracking: still a parcel
        parcels = [
            Shipment(
                carrier=str(info.get("company") or ""),
                tracking_number=str(info.get("number") or ""),
                tracking_url=str(info.get("url") or ""),
                status=status,
            )
            for info in tracking
        ]
        shipments += parcels
        for entry in (fulfillment.get("fulfillmentLineItems") or {}).get("nodes") or []:
            line_id = (entry.get("lineItem") or {}).get("id")
            if line_id:
                shipment_of.setdefault(line_id, parcels[0])  # a line split over parcels shows its first
    return shipments, shipment_of


def _item_status(shipment: Shipment | None, *, cancelled: bool, refunded: bool) -> str:
    if cancelled:
        return CardStatus.CANCELLED
    if refunded:
        return CardStatus.REFUNDED
    return shipment.status if shipment is not None else CardStatus.PENDING


def _order_status(node: dict[str, Any], shipments: list[Shipment], *, cancelled: bool, refunded: bool) -> str:
    """Shopify's financial and fulfillment statuses as one of the desk's order statuses."""
    financial, fulfilment = node.get("displayFinancialStatus"), node.get("displayFulfillmentStatus")
    if cancelled or financial == "VOIDED":
        return OrderModel.Status.CANCELLED
    if refunded:
        return OrderModel.Status.REFUNDED
    if fulfilment == "FULFILLED":
        delivered = shipments and all(shipment.status == CardStatus.RECEIVED for shipment in shipments)
        return OrderModel.Status.DELIVERED if delivered else OrderModel.Status.SHIPPED
    if fulfilment == "PARTIALLY_FULFILLED":
        return OrderModel.Status.PARTIALLY_SHIPPED
    if financial == "PENDING":
        return OrderModel.Status.PENDING
    return OrderModel.Status.PROCESSING
