"""The bot's FAQ and orders are editable in the admin, with shipments and items inline."""

from __future__ import annotations

import pytest

from chatbot.bots.builtin import match_faq
from chatbot.demo import seed_orders_and_faq
from chatbot.models import FaqEntry, Order

pytestmark = pytest.mark.django_db


def test_order_pages_show_items_and_shipments_inline(admin_client):
    seed_orders_and_faq()
    order = Order.objects.get(number="UK22080")
    listing = admin_client.get("/admin/chatbot/order/")
    assert listing.status_code == 200 and b"UK22080" in listing.content and "£1,048.00" in listing.text
    page = admin_client.get(f"/admin/chatbot/order/{order.pk}/change/")
    assert page.status_code == 200
    assert "Fiido D11 Folding E-bike" in page.text and "15501234567890" in page.text
    # The item's shipment choices are this order's parcels only.
    other = Order.objects.get(number="EU30517").shipments.get()
    assert f'value="{other.pk}"' not in page.text
    assert admin_client.get("/admin/chatbot/order/add/").status_code == 200


def test_a_faq_entry_added_in_the_admin_is_answered(admin_client):
    response = admin_client.post(
        "/admin/chatbot/faqentry/add/",
        {
            "topic": "norway",
            "language": "en",
            "question": "Do you ship to Norway?",
            "keywords": "norway, norge",
            "answer": "Yes, in 5–8 days.",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content
    assert FaqEntry.objects.get(question="Do you ship to Norway?").answer == "Yes, in 5–8 days."
    assert match_faq("can you send it to norway?").question == "Do you ship to Norway?"


def test_a_tracking_url_must_be_http(admin_client):
    seed_orders_and_faq()
    order = Order.objects.get(number="DE41290")
    response = admin_client.post(
        f"/admin/chatbot/order/{order.pk}/change/",
        {
            "number": "DE41290",
            "status": "shipped",
            "currency": "EUR",
            "total": "1899.00",
            "placed_at_0": "2026-01-01",
            "placed_at_1": "10:00:00",
            "shipments-TOTAL_FORMS": "1",
            "shipments-INITIAL_FORMS": "0",
            "shipments-0-carrier": "DHL",
            "shipments-0-tracking_number": "1",
            "shipments-0-tracking_url": "javascript:alert(1)",
            "shipments-0-status": "Shipped",
            "items-TOTAL_FORMS": "0",
            "items-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert "Enter a valid URL." in response.text
    assert not order.shipments.exists()


def test_a_topic_is_answered_in_the_customers_language_or_else_in_english():
    FaqEntry.objects.create(
        topic="norway",
        language="en",
        question="Do you ship to Norway?",
        keywords="norway, norwegen",
        answer="Yes, in 5–8 days.",
    )
    FaqEntry.objects.create(
        topic="norway",
        language="de",
        question="Liefern Sie nach Norwegen?",
        keywords="norwegen",
        answer="Ja, in 5–8 Tagen.",
    )
    assert match_faq("Liefert ihr nach Norwegen?", language="de").answer == "Ja, in 5–8 Tagen."
    assert match_faq("Do you ship to Norway?", language="de").answer == "Ja, in 5–8 Tagen."  # matched in English
    assert match_faq("Livrez-vous en Norvège? norway", language="fr").answer == "Yes, in 5–8 days."  # no French entry
    assert match_faq("norwegen", language="en").answer == "Yes, in 5–8 days."
