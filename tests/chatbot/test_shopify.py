"""The Shopify order source against a local server that answers like the Admin GraphQL API."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from chatbot import conversations
from chatbot.bots import orders
from chatbot.conversations import BOT_APOLOGY
from chatbot.models import CardStatus
from chatbot.models import Order as OrderModel
from chatbot.order_sources import Item, Order, Shipment
from chatbot.order_sources.shopify import ShopifyOrderSource, _parsed, _retry_after
from tests import fake_shopify
from tests.fake_shopify import FakeShopify, fulfillment, line, order_node, throttled

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(settings):
    """The fake shop, with the Shopify source configured to use it."""
    with FakeShopify() as server:
        settings.ORDER_SOURCE = "chatbot.order_sources.shopify.ShopifyOrderSource"
        settings.SHOPIFY_SHOP_DOMAIN = server.url
        settings.SHOPIFY_ACCESS_TOKEN = fake_shopify.TOKEN
        settings.SHOPIFY_API_VERSION = fake_shopify.VERSION
        settings.ORDER_SOURCE_TIMEOUT_SECONDS = 5
        yield server


def source() -> ShopifyOrderSource:
    return ShopifyOrderSource()


def ask(session, text: str) -> dict:
    posted = conversations.post_customer_message(session, content=text)
    assert posted.reply is not None
    return posted.reply


def cards_of(reply: dict) -> list[dict]:
    return [part for part in reply["parts"] if part["type"] == "card"]


# ---------------------------------------------------------------------------
# Mapping Shopify's order to the source's data
# ---------------------------------------------------------------------------
def test_an_order_by_its_name_with_every_field_mapped(shop):
    dpd = Shipment("DPD", "15501234567890", "https://track.dpd.co.uk/15501234567890", CardStatus.IN_TRANSIT)
    assert source().order("uk22080") == Order(
        number="UK22080",
        status=OrderModel.Status.PARTIALLY_SHIPPED,
        currency="GBP",
        total=Decimal("1097.00"),
        placed_at=datetime(2026, 11, 27, 10, 15, tzinfo=UTC),
        email="Oliver@Example.com",
        items=(
            Item(
                product_name="Fiido D11 Folding E-bike",
                quantity=1,
                price=Decimal("999.00"),
                status=CardStatus.IN_TRANSIT,
                image_url="https://cdn.shopify.com/d11.jpg",
                product_url="https://fiido.example/products/d11",
                shipment=dpd,
            ),
            # Not fulfilled yet; its price is the line's: the unit price times the quantity.
            Item(product_name="Fiido Rear Rack", quantity=2, price=Decimal("98.00"), status=CardStatus.PENDING),
        ),
        shipments=(dpd,),
    )


def test_the_request_is_an_admin_graphql_query_with_the_token(shop):
    source().order("UK22080")
    (request,) = shop.requests
    assert request["path"] == "/admin/api/2026-10/graphql.json"
    assert request["headers"]["X-Shopify-Access-Token"] == fake_shopify.TOKEN
    assert request["body"]["variables"] == {"query": "name:UK22080 OR name:#UK22080"}
    assert "orders(first: 5, query: $query)" in request["body"]["query"]


def test_only_the_exact_name_counts_and_a_hash_in_front_is_ignored(shop):
    assert source().order("UK22080").number == "UK22080"  # not UK220801, which the search found too
    assert source().order("UK30001").number == "UK30001"  # named "#UK30001" in the shop
    assert source().order("UK2208") is None  # a prefix of two names is neither


@pytest.mark.parametrize("number", ['UK22080" OR email:x', "UK 22080", "", "#"])
def test_a_number_that_is_not_one_is_never_sent(shop, number):
    assert source().order(number) is None
    assert shop.requests == []


def test_orders_by_email_newest_first_in_any_case(shop):
    found = source().orders_for_email("OLIVER@example.COM", 10)
    assert [order.number for order in found] == ["UK30001", "UK22080"]
    (request,) = shop.requests
    assert request["body"]["variables"] == {"query": 'email:"OLIVER@example.COM"', "first": 10}
    assert [order.number for order in source().orders_for_email("oliver@example.com", 1)] == ["UK30001"]


def test_an_email_is_one_search_term_whatever_it_holds(shop):
    assert source().orders_for_email('a"b\\c OR email:emma@example.com', 5) == []
    assert shop.requests[-1]["body"]["variables"]["query"] == 'email:"a\\"b\\\\c OR email:emma@example.com"'


def test_an_order_the_search_returns_for_another_email_is_dropped(shop):
    shop.orders.append(order_node("UK10433", "emma@example.com.evil", "2026-10-02T08:00:00Z"))
    shop.search = lambda query, variables: shop.orders  # a search that matches far too much
    assert [order.number for order in source().orders_for_email("emma@example.com", 10)] == ["UK10432"]


def mapped(**fields) -> Order:
    """The source's reading of one order node with these fields."""
    return _parsed(order_node("UK1000", "a@b.co", "2026-01-01T00:00:00Z", **fields))


ONE_LINE = {"nodes": [line("9", "Bike", 1, "10.00")]}


@pytest.mark.parametrize(
    ("fields", "status", "item_status"),
    [
        ({"displayFinancialStatus": "PAID"}, "processing", "Pending"),
        ({"displayFinancialStatus": "AUTHORIZED"}, "processing", "Pending"),
        ({"displayFinancialStatus": "PENDING"}, "pending", "Pending"),
        ({"cancelledAt": "2026-01-02T00:00:00Z"}, "cancelled", "Cancelled"),
        ({"displayFinancialStatus": "VOIDED"}, "cancelled", "Pending"),
        ({"displayFinancialStatus": "REFUNDED"}, "refunded", "Refunded"),
        (
            {
                "displayFulfillmentStatus": "FULFILLED",
                "fulfillments": [fulfillment("DELIVERED", ["9"], [{"company": "UPS", "number": "1Z", "url": None}])],
            },
            "delivered",
            "Received",
        ),
        (
            {
                "displayFulfillmentStatus": "FULFILLED",
                "fulfillments": [fulfillment("OUT_FOR_DELIVERY", ["9"], [])],  # shipped without tracking
            },
            "shipped",
            "Out for Delivery",
        ),
        (
            {
                "displayFulfillmentStatus": "FULFILLED",
                "fulfillments": [fulfillment("LABEL_PRINTED", ["9"], [{"company": "DHL", "number": "1"}])],
            },
            "shipped",
            "Shipped",
        ),
        (
            {"displayFulfillmentStatus": "FULFILLED", "fulfillments": [fulfillment("FAILURE", ["9"], [])]},
            "shipped",
            "Delivery Failed",
        ),
    ],
)
def test_shopify_statuses_as_the_desks(fields, status, item_status):
    order = mapped(lineItems=ONE_LINE, **fields)
    assert order.status == status
    assert [item.status for item in order.items] == [item_status]


def test_a_fulfillment_without_tracking_is_a_parcel_without_a_carrier():
    order = mapped(lineItems=ONE_LINE, fulfillments=[fulfillment("IN_TRANSIT", ["9"], [])])
    assert order.items[0].shipment == Shipment("", "", "", CardStatus.IN_TRANSIT)


def test_an_order_without_an_email_or_a_product_page_reads_as_empty():
    lines = {"nodes": [line("9", "Bike", 1, "10.00", image=None, product=None)]}
    order = _parsed(order_node("UK1000", None, "2026-01-01T00:00:00Z", lineItems=lines))
    assert order.email == "" and order.items[0].image_url == "" and order.items[0].product_url == ""


# ---------------------------------------------------------------------------
# The bot and the privacy rule, with orders from Shopify
# ---------------------------------------------------------------------------
def test_the_bot_shows_a_shopify_order_to_its_email_as_cards(shop):
    reply = ask(conversations.start(), "Where is my order UK22080? My email is oliver@example.com")
    assert orders.product_blocks(source().order("UK22080")) in reply["content"]
    bike, rack = cards_of(reply)
    assert (bike["image"], bike["price"], bike["status"], bike["carrier"]) == (
        "https://cdn.shopify.com/d11.jpg",
        "£999.00",
        "In Transit",
        "DPD",
    )
    assert bike["tracking_url"] == "https://track.dpd.co.uk/15501234567890"
    assert (rack["quantity"], rack["price"], rack["status"], rack["carrier"]) == ("2", "£98.00", "Pending", "")
    assert "Partially shipped, total £1,097.00" in reply["content"]


def test_the_bot_refuses_a_shopify_order_to_another_email(shop):
    reply = ask(conversations.start(customer_email="emma@example.com"), "Where is my order UK22080?")
    assert reply["content"] == orders.not_found_reply("UK22080") and cards_of(reply) == []


def test_a_link_that_is_not_http_never_reaches_a_card(shop):
    shop.orders[0]["lineItems"]["nodes"][0]["image"] = {"url": "javascript:alert(1)"}
    shop.orders[0]["fulfillments"][0]["trackingInfo"][0]["url"] = "data:text/html,hi"
    (bike, _rack) = cards_of(ask(conversations.start(customer_email="oliver@example.com"), "UK22080"))
    assert bike["image"] == "" and bike["tracking_url"] == ""


def test_an_unconfigured_shopify_source_gives_the_customer_an_apology(settings, caplog):
    settings.ORDER_SOURCE = "chatbot.order_sources.shopify.ShopifyOrderSource"
    settings.SHOPIFY_SHOP_DOMAIN = ""
    with pytest.raises(ImproperlyConfigured):
        ShopifyOrderSource()
    reply = ask(conversations.start(customer_email="oliver@example.com"), "UK22080")
    assert reply["content"] == BOT_APOLOGY
    assert "SHOPIFY_SHOP_DOMAIN" in caplog.text


# ---------------------------------------------------------------------------
# Failures: no order, a warning, never an exception
# ---------------------------------------------------------------------------
FAILURES = {
    "server-error": (500, {"errors": "Internal Server Error"}),
    "bad-gateway-html": (502, b"<html>Bad Gateway</html>"),
    "not-json": (200, b"{not json"),
    "not-an-object": (200, [1, 2]),
    "graphql-errors": (200, {"errors": [{"message": "Field 'nmae' doesn't exist on type 'Order'"}]}),
    "access-denied": (
        200,
        {"errors": [{"message": "Access denied for orders field.", "extensions": {"code": "ACCESS_DENIED"}}]},
    ),
    "no-data": (200, {"extensions": {"cost": fake_shopify.COST}}),
    "no-nodes": (200, {"data": {"orders": None}}),
}


@pytest.mark.parametrize("step", FAILURES.values(), ids=FAILURES.keys())
def test_a_failing_shop_is_no_order_and_a_warning(shop, caplog, step):
    shop.script = [step, step]
    with caplog.at_level(logging.WARNING, logger="chatbot.order_sources.shopify"):
        assert source().order("UK22080") is None
        assert source().orders_for_email("oliver@example.com", 5) == []
    assert len(shop.requests) == 2  # no retry: only throttling is worth one
    assert caplog.text.count("Shopify could not answer") == 2
    assert "oliver@example.com" not in caplog.text  # the customer's address stays out of the log


def test_a_wrong_token_is_no_order_and_a_warning(shop, settings, caplog):
    settings.SHOPIFY_ACCESS_TOKEN = "shpat_wrong"
    assert source().order("UK22080") is None
    assert "HTTP 401" in caplog.text


def test_a_shop_that_does_not_answer_in_time_is_no_order(shop, settings, caplog):
    settings.ORDER_SOURCE_TIMEOUT_SECONDS = 0.3
    shop.script = ["hang"]
    assert source().order("UK22080") is None
    assert "Shopify could not answer order UK22080" in caplog.text


def test_a_shop_down_gives_the_customer_the_plain_no_order_answer(shop, caplog):
    shop.script = [(503, {"errors": "Service Unavailable"})]
    reply = ask(conversations.start(customer_email="oliver@example.com"), "Where is UK22080?")
    assert reply["content"] == orders.not_found_reply("UK22080")
    assert "HTTP 503" in caplog.text


def test_an_unreadable_order_is_skipped_and_the_rest_kept(shop, caplog):
    del shop.orders[2]["totalPriceSet"]  # UK30001
    assert [order.number for order in source().orders_for_email("oliver@example.com", 10)] == ["UK22080"]
    assert "Shopify order '#UK30001' skipped" in caplog.text


# ---------------------------------------------------------------------------
# Throttling: one retry when the wait is short
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "step",
    [
        (429, {"errors": "Exceeded 2 calls per second for api client."}, {"Retry-After": "0"}),
        (200, throttled(requested=52, available=52)),  # the cost is back in the bucket at once
    ],
    ids=["http-429", "graphql-throttled"],
)
def test_a_throttled_request_is_retried_once_when_the_wait_is_short(shop, caplog, step):
    shop.script = [step]
    assert source().order("UK22080").number == "UK22080"
    assert len(shop.requests) == 2
    assert shop.requests[0]["body"] == shop.requests[1]["body"]


@pytest.mark.parametrize(
    "step",
    [
        (429, {"errors": "Exceeded 2 calls per second for api client."}, {"Retry-After": "60"}),
        (429, {"errors": "Too many requests"}, {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}),
        (200, throttled(requested=1000, available=0, restore_rate=50.0)),  # 20 s to refill
    ],
    ids=["retry-after-seconds", "retry-after-date", "graphql-long-wait"],
)
def test_a_long_throttle_is_not_waited_for(shop, caplog, step):
    shop.script = [step]
    assert source().order("UK22080") is None
    assert len(shop.requests) == 1
    assert "Shopify could not answer order UK22080" in caplog.text


def test_a_second_throttle_gives_up(shop, caplog):
    shop.script = [(200, throttled()), (429, {"errors": "Throttled"}, {"Retry-After": "0"})]
    assert source().orders_for_email("oliver@example.com", 5) == []
    assert len(shop.requests) == 2
    assert "HTTP 429" in caplog.text


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, 1.0), ("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", 1.0)],
)
def test_retry_after_values(header, seconds):
    assert _retry_after(header) == seconds
