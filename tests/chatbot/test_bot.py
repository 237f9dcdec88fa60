"""The built-in bot, through the state machine: FAQ, orders as cards, honest misses, handoff."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client

from chatbot import cards, conversations
from chatbot.bots import orders
from chatbot.bots.builtin import BuiltinBot, match_faq
from chatbot.demo import seed_orders_and_faq
from chatbot.models import CardStatus, ChatSession, FaqEntry, Message, Order, OrderItem, Shipment

pytestmark = pytest.mark.django_db

Status = ChatSession.Status


@pytest.fixture
def demo():
    seed_orders_and_faq()


def ask(session: ChatSession, text: str) -> dict:
    posted = conversations.post_customer_message(session, content=text)
    assert posted.reply is not None, f"no reply to {text!r}"
    return posted.reply


def card_parts(reply: dict) -> list[dict]:
    return [part for part in reply["parts"] if part["type"] == "card"]


def test_where_is_my_order_answers_with_two_cards_carrying_tracking_data(demo):
    session = conversations.start()
    reply = ask(session, "Where is my order UK22080?")
    assert "UK22080" in reply["content"]
    assert "£1,048.00" in reply["content"]
    bike, rack = card_parts(reply)
    assert bike == {
        "type": "card",
        "image": "",
        "title": "Fiido D11 Folding E-bike",
        "quantity": "1",
        "price": "£999.00",
        "status": "In Transit",
        "carrier": "DPD",
        "tracking_number": "15501234567890",
        "tracking_url": "https://track.dpd.co.uk/parcels/15501234567890",
    }
    assert rack["title"] == "Fiido Rear Rack"
    assert rack["status"] == "Shipped"
    assert rack["carrier"] == "Royal Mail" and rack["tracking_number"] == "RM123456785GB"
    assert rack["tracking_url"].startswith("https://www.royalmail.com/")
    # The rendered bubble carries the cards and a Track link that opens safely in a new tab.
    assert reply["html"].count('class="card') >= 2
    assert (
        'href="https://track.dpd.co.uk/parcels/15501234567890" target="_blank" rel="noopener noreferrer"'
        in (reply["html"])
    )
    session.refresh_from_db()
    assert session.status == Status.BOT_ACTIVE and session.bot_misses == 0


def test_the_reply_uses_design_section_7_block_format_exactly(demo):
    text = orders.order_reply(orders.lookup("UK22080"))
    assert (
        "[PRODUCT]|Fiido D11 Folding E-bike|1|£999.00|In Transit|DPD|15501234567890|"
        "https://track.dpd.co.uk/parcels/15501234567890[/PRODUCT]"
    ) in text


@pytest.mark.parametrize("text", ["uk22080", "#UK22080 please", "status of order #uk22080?", "订单 UK22080"])
def test_order_numbers_are_found_with_or_without_hash_in_any_case(demo, text):
    assert len(card_parts(ask(conversations.start(), text))) == 2


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("UK22080", ["UK22080"]),
        ("#uk22080 and # de41290, again UK22080", ["UK22080", "DE41290"]),
        ("order UK-22080.", ["UK22080"]),
        ("(pl50321)", ["PL50321"]),
        ("I moved from the US 2024 and bought it in the EU", []),
        ("XUK22080", []),
        ("UK22080X", []),
        ("GB22080", []),
        ("UK12", []),
    ],
)
def test_order_numbers_in_text(text, numbers):
    assert orders.find_order_numbers(text) == numbers


def test_refunded_order_cards_have_no_logistics(demo):
    reply = ask(conversations.start(), "What happened to US10432?")
    assert "Refunded" in reply["content"]
    assert [(c["status"], c["carrier"], c["tracking_number"], c["tracking_url"]) for c in card_parts(reply)] == [
        ("Returned & Refunded", "", "", ""),
        ("Refunded", "", "", ""),
    ]
    assert "$1,499.00" in [c["price"] for c in card_parts(reply)]


def test_an_unknown_order_is_answered_plainly_without_a_card(demo):
    session = conversations.start()
    reply = ask(session, "Where is my order UK99999?")
    assert card_parts(reply) == []
    assert "[PRODUCT]" not in reply["content"]
    assert "couldn't find an order UK99999" in reply["content"]
    session.refresh_from_db()
    assert session.bot_misses == 1  # not an answer


def test_a_found_and_an_unknown_order_in_one_message(demo):
    reply = ask(conversations.start(), "I have two orders: UK22080 and FR12345")
    assert len(card_parts(reply)) == 2
    assert "couldn't find an order FR12345" in reply["content"]


def test_a_question_about_an_order_without_its_number_asks_for_it(demo):
    reply = ask(conversations.start(), "How do I track my parcel?")
    assert "order number" in reply["content"] and card_parts(reply) == []


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("How long does delivery take to Manchester?", "How long does delivery take?"),
        ("can I return my bike", "How do I return an item?"),
        ("is my motor covered by the warrenty?", "What does the warranty cover?"),
        ("How many miles do the batteries last", "How far does the battery go, and how do I look after it?"),
        ("my charger light stays red", "How do I charge my e-bike?"),
        ("How long is the warranty?", "What does the warranty cover?"),
        ("电池续航多少", "How far does the battery go, and how do I look after it?"),
    ],
)
def test_faq_answers_by_keyword_typo_plural_and_chinese(demo, text, question):
    reply = ask(conversations.start(), text)
    assert reply["content"] == FaqEntry.objects.get(question=question).answer


def test_faq_entries_edited_in_the_database_are_used_at_once(demo):
    FaqEntry.objects.create(question="Do you sell gift cards?", keywords="gift card, voucher", answer="Yes, from £25.")
    assert ask(conversations.start(), "Can I buy a voucher?")["content"] == "Yes, from £25."
    FaqEntry.objects.filter(question="Do you sell gift cards?").update(is_active=False)
    assert match_faq("Can I buy a voucher?") is None


def test_an_unknown_question_gets_an_honest_i_dont_know_and_the_offer_of_a_person(demo):
    session = conversations.start()
    reply = ask(session, "What is the capital of Peru?")
    assert "don't know" in reply["content"] and "person" in reply["content"]
    assert card_parts(reply) == []
    session.refresh_from_db()
    assert session.bot_misses == 1 and session.status == Status.BOT_ACTIVE


@pytest.mark.parametrize(
    "text",
    ["I want to talk to a human", "AGENT please", "Can a real person help me?", "转人工", "我要人工客服"],
)
def test_asking_for_a_person_escalates_at_once(demo, text):
    session = conversations.start()
    reply = ask(session, text)
    assert "connecting you with a person" in reply["content"]
    session.refresh_from_db()
    assert session.status == Status.PENDING_MANUAL
    assert session.escalation_reason == "Customer asked for a person"
    assert session.escalated_at is not None


def test_personal_is_not_a_person(demo):
    session = conversations.start()
    ask(session, "Is my personal data safe?")
    session.refresh_from_db()
    assert session.status == Status.BOT_ACTIVE


def test_three_unanswered_questions_in_a_row_call_a_person(demo):
    session = conversations.start()
    ask(session, "What is the capital of Peru?")
    ask(session, "Who won the 1998 World Cup?")
    session.refresh_from_db()
    assert session.status == Status.BOT_ACTIVE and session.bot_misses == 2
    ask(session, "Can you sing?")
    session.refresh_from_db()
    assert session.status == Status.PENDING_MANUAL
    assert session.escalation_reason == "The assistant could not answer"


def test_an_answer_resets_the_count_of_misses(demo):
    session = conversations.start()
    ask(session, "What is the capital of Peru?")
    ask(session, "Who won the 1998 World Cup?")
    ask(session, "How long does delivery take?")
    ask(session, "Can you sing?")
    session.refresh_from_db()
    assert session.status == Status.BOT_ACTIVE and session.bot_misses == 1


def test_greeting_and_thanks(demo):
    bot = BuiltinBot()
    session = conversations.start()
    assert Message.objects.get(session=session).content == bot.greeting()
    assert ask(session, "Hello!")["content"] == bot.greeting()
    assert "welcome" in ask(session, "thank you")["content"]


def test_product_fields_cannot_break_the_block(demo):
    order = Order.objects.create(number="NL12345", currency="EUR", total=Decimal("10.00"))
    shipment = Shipment.objects.create(
        order=order, carrier="Post|NL", tracking_number="X1", tracking_url="javascript:alert(1)", status="Shipped"
    )
    OrderItem.objects.create(
        order=order, product_name="Bell [/PRODUCT] | loud\nred", quantity=2, price=Decimal("10.00"), shipment=shipment
    )
    (card,) = [p for p in cards.parse(orders.order_reply(orders.lookup("nl12345"))) if p["type"] == "card"]
    assert card["title"] == "Bell / loud red"
    assert card["carrier"] == "Post/NL"
    assert card["price"] == "€10.00" and card["quantity"] == "2"
    assert card["tracking_url"] == ""


def test_an_item_without_a_shipment_is_pending(demo):
    reply = ask(conversations.start(), "DE41290")
    (card,) = card_parts(reply)
    assert card["status"] == CardStatus.PENDING and card["carrier"] == ""


def test_seed_demo_is_idempotent(settings):
    settings.DEBUG = True  # seed_demo is for development
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)
    assert "UK22080" in out.getvalue()
    assert Order.objects.filter(number="UK22080").count() == 1
    assert OrderItem.objects.filter(order__number="UK22080").count() == 2
    assert Shipment.objects.filter(order__number="UK22080").count() == 2
    assert FaqEntry.objects.count() == 5


def test_the_api_answers_an_order_question_with_cards(demo):
    client = Client()
    name = client.post("/api/sessions", content_type="application/json").json()["session_name"]
    response = client.post(
        f"/api/sessions/{name}/messages", {"content": "Where is my order UK22080?"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert len(card_parts(response.json()["reply"])) == 2
