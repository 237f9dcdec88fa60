"""The customer's orders in the agents' conversation detail: all of them, newest first, whatever the source."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from chatbot import conversations
from chatbot.demo import seed_orders_and_faq
from chatbot.models import Order, OrderItem, Shipment
from fiido.openapi import SCHEMAS
from tests import fake_shopify
from tests.fake_shopify import FakeShopify

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(agent_user) -> Client:
    client = Client()
    client.force_login(agent_user)
    return client


def detail_orders(client: Client, session) -> list[dict]:
    response = client.get(f"/workbench/api/sessions/{session.name}")
    assert response.status_code == 200
    return response.json()["orders"]


def test_agents_see_every_order_of_the_customers_email_newest_first(alice):
    seed_orders_and_faq()
    newer = Order.objects.create(
        number="UK30002",
        total=Decimal("49.00"),
        placed_at=timezone.now() - timedelta(hours=1),
        customer_email="OLIVER@example.com",
    )
    OrderItem.objects.create(order=newer, product_name="Fiido Bell", quantity=2, price=Decimal("49.00"))
    # The customer never quoted a number: the privacy rule is the customer's, not the agents'.
    session = conversations.start(customer_email="oliver@example.com")
    found = detail_orders(alice, session)
    assert [order["number"] for order in found] == ["UK30002", "UK22080"]
    bell, uk22080 = found
    assert bell["items"] == [{"name": "Fiido Bell", "quantity": 2, "price": "£49.00", "status": "Pending", "url": ""}]
    assert {key: uk22080[key] for key in ("status", "status_label", "total", "total_display", "currency")} == {
        "status": "partially_shipped",
        "status_label": "Partially shipped",
        "total": "1048.00",
        "total_display": "£1,048.00",
        "currency": "GBP",
    }
    assert uk22080["placed_at"].endswith("Z")
    assert [(s["carrier"], s["status"]) for s in uk22080["shipments"]] == [
        ("DPD", "In Transit"),
        ("Royal Mail", "Shipped"),
    ]
    described = SCHEMAS["OrderSummary"]
    assert set(uk22080) == set(described["properties"]) == set(described["required"])


def test_a_conversation_without_an_email_has_no_orders(alice):
    seed_orders_and_faq()
    assert detail_orders(alice, conversations.start()) == []


def test_links_that_are_not_http_are_left_out(alice):
    order = Order.objects.create(number="NL10001", total=Decimal("1.00"), customer_email="a@example.com")
    Shipment.objects.create(order=order, carrier="PostNL", tracking_url="javascript:alert(1)")
    (found,) = detail_orders(alice, conversations.start(customer_email="a@example.com"))
    assert found["shipments"][0]["tracking_url"] == ""


@pytest.fixture
def shop(settings):
    with FakeShopify() as server:
        settings.ORDER_SOURCE = "chatbot.order_sources.shopify.ShopifyOrderSource"
        settings.SHOPIFY_SHOP_DOMAIN = server.url
        settings.SHOPIFY_ACCESS_TOKEN = fake_shopify.TOKEN
        settings.SHOPIFY_API_VERSION = fake_shopify.VERSION
        yield server


def test_orders_from_shopify(alice, shop):
    found = detail_orders(alice, conversations.start(customer_email="oliver@example.com"))
    assert [(order["number"], order["status"]) for order in found] == [
        ("UK30001", "pending"),
        ("UK22080", "partially_shipped"),
    ]
    assert found[1]["items"][0]["url"] == "https://fiido.example/products/d11"


@pytest.mark.parametrize(
    "step", [(500, {"errors": "Internal Server Error"}), (429, {"errors": "Throttled"}, {"Retry-After": "30"})]
)
def test_a_failing_shop_leaves_the_conversation_readable(alice, shop, caplog, step):
    shop.script = [step]
    session = conversations.start(customer_email="oliver@example.com")
    assert detail_orders(alice, session) == []
    assert "Shopify could not answer orders by email" in caplog.text


def test_customers_never_see_the_orders_key(alice):
    seed_orders_and_faq()
    client = Client()
    name = client.post(
        "/api/sessions", {"customer_email": "oliver@example.com"}, content_type="application/json"
    ).json()["session_name"]
    assert "orders" not in client.get(f"/api/sessions/{name}?history=1").json()
