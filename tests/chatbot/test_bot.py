"""The built-in bot, through the state machine: FAQ, orders as cards, honest misses, handoff."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from chatbot import cards, conversations
from chatbot.bots import orders
from chatbot.bots.base import GREETING
from chatbot.bots.builtin import ASK_ORDER_NUMBER, DONT_KNOW, THANKS_REPLY, BuiltinBot, match_faq
from chatbot.demo import FAQ, seed_orders_and_faq
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


# The demo orders' customers (chatbot/demo.py): an order is shown only with its email.
OLIVER = "oliver@example.com"  # UK22080
EMMA = "emma@example.com"  # US10432
JONAS = "jonas@example.com"  # DE41290


def test_where_is_my_order_answers_with_two_cards_carrying_tracking_data(demo):
    session = conversations.start()
    reply = ask(session, "Where is my order UK22080? My email is oliver@example.com")
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
    assert len(card_parts(ask(conversations.start(customer_email=OLIVER), text))) == 2


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
    reply = ask(conversations.start(customer_email=EMMA), "What happened to US10432?")
    assert "Refunded" in reply["content"]
    assert [(c["status"], c["carrier"], c["tracking_number"], c["tracking_url"]) for c in card_parts(reply)] == [
        ("Returned & Refunded", "", "", ""),
        ("Refunded", "", "", ""),
    ]
    assert "$1,499.00" in [c["price"] for c in card_parts(reply)]


def test_an_unknown_order_is_answered_plainly_without_a_card(demo):
    session = conversations.start(customer_email=OLIVER)
    reply = ask(session, "Where is my order UK99999?")
    assert card_parts(reply) == []
    assert "[PRODUCT]" not in reply["content"]
    assert "couldn't find an order UK99999 for the email address you gave" in reply["content"]
    session.refresh_from_db()
    assert session.bot_misses == 1  # not an answer


def test_a_found_and_an_unknown_order_in_one_message(demo):
    reply = ask(conversations.start(customer_email=OLIVER), "I have two orders: UK22080 and FR12345")
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


# What a customer might write in each language the FAQ is translated into: never the entry's own
# question, and with inflected forms (livré, averiado, bezorgd, baterii, ładowaniu), so that it is
# the keywords of chatbot/demo.py that find the topic, not the resemblance to the question.
CUSTOMER_QUESTIONS = {
    "de": {
        "delivery": "Wann kommt mein E-Bike an, wenn ich heute bestelle?",
        "returns": "Kann ich das Fahrrad zurückschicken, wenn es mir nicht gefällt?",
        "warranty": "Mein Motor ist kaputt, ist das ein Garantiefall?",
        "battery": "Wie weit komme ich mit einer Ladung?",
        "charging": "Wie lange dauert es, den Akku aufzuladen?",
    },
    "fr": {
        "delivery": "Sous combien de jours serai-je livré en Belgique ?",
        "returns": "Puis-je renvoyer le vélo s’il ne me convient pas ?",
        "warranty": "Mon écran ne fonctionne plus, est-ce couvert par la garantie ?",
        "battery": "Combien de kilomètres peut-on faire avec une seule charge ?",
        "charging": "Le voyant du chargeur reste rouge, est-ce normal ?",
    },
    "it": {
        "delivery": "Quando arriva la bici se la ordino oggi?",
        "returns": "Posso restituire la bici se non mi piace?",
        "warranty": "Il motore è guasto, è coperto dalla garanzia?",
        "battery": "Quanti chilometri fa la C11 con una carica?",
        "charging": "Quanto tempo ci vuole per ricaricare la batteria?",
    },
    "es": {
        "delivery": "¿Cuántos días tarda en llegar la bicicleta a Madrid?",
        "returns": "¿Puedo devolver la bicicleta si no me gusta?",
        "warranty": "El motor está averiado, ¿lo cubre la garantía?",
        "battery": "¿Cuántos kilómetros hace la C11 con una carga?",
        "charging": "¿Cuánto tiempo tarda en cargar la batería?",
    },
    "nl": {
        "delivery": "Wanneer wordt mijn fiets bezorgd?",
        "returns": "Kan ik de fiets terugsturen als hij niet bevalt?",
        "warranty": "Mijn motor is kapot, valt dat onder de garantie?",
        "battery": "Hoeveel kilometer haalt de C11 met een volle accu?",
        "charging": "Hoe lang duurt het opladen van de accu?",
    },
    "pl": {
        "delivery": "Kiedy dotrze do mnie rower?",
        "returns": "Czy mogę odesłać rower, jeśli mi się nie spodoba?",
        "warranty": "Wyświetlacz nie działa, czy to podlega gwarancji?",
        "battery": "Ile kilometrów przejedzie C11 na jednym ładowaniu?",
        "charging": "Ile trwa ładowanie baterii?",
    },
}


@pytest.mark.parametrize(
    ("language", "topic"),
    [(language, topic) for topic, languages in FAQ.items() for language in languages if language != "en"],
)
def test_faq_keywords_find_the_topic_in_each_customer_language(demo, language, topic):
    text = CUSTOMER_QUESTIONS[language][topic]  # every translated entry has a question here
    assert text != FAQ[topic][language][0]
    entry = match_faq(text, language=language)
    assert entry is not None, text
    assert (entry.topic, entry.language) == (topic, language), text


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
    reply = ask(conversations.start(customer_email=JONAS), "DE41290")
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
    assert FaqEntry.objects.count() == sum(len(languages) for languages in FAQ.values())


def test_the_api_answers_an_order_question_with_cards(demo):
    client = Client()
    name = client.post("/api/sessions", content_type="application/json").json()["session_name"]
    content = "Where is my order UK22080? My email is oliver@example.com"
    response = client.post(f"/api/sessions/{name}/messages", {"content": content}, content_type="application/json")
    assert response.status_code == 201
    assert len(card_parts(response.json()["reply"])) == 2


# ---------------------------------------------------------------------------
# Hostile messages (security probe 2026-12, finding 5): every pattern and
# matcher that reads customer text must cost time linear in its length. These
# tests check that the answers to such messages stay right; bench/hostile.py
# measures their cost (no timing here: a shared machine makes timing flaky).
# ---------------------------------------------------------------------------
LONGEST = 2000  # MESSAGE_MAX_CHARS's default: the longest message a customer may send


def fill(head: str, unit: str, tail: str, length: int = LONGEST) -> str:
    """``head``, ``unit`` repeated, ``tail``: exactly ``length`` characters."""
    body = length - len(head) - len(tail)
    return head + (unit * (body // len(unit) + 1))[:body] + tail


def distinct_numbers(length: int = LONGEST) -> tuple[str, list[str]]:
    """Distinct order numbers ``UK10000 UK10001 …`` filling ``length`` characters, and the numbers."""
    numbers = [f"UK{index}" for index in range(10000, 10000 + length // 8)]
    return " ".join(numbers), numbers


# The order-number pattern before the probe: quadratic on whitespace runs, but
# the reference for what counts as an order number.
PROBED_ORDER_NUMBER = re.compile(
    r"(?<![A-Za-z0-9])#?\s*(US|UK|EU|DE|FR|IT|ES|NL|PL)-?(\d{3,12})(?![A-Za-z0-9])", re.IGNORECASE
)


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        (fill("#", " ", "UK22080"), ["UK22080"]),
        (fill("", " \t\n\r\x0b\x0c\xa0\u3000", "#uk22080"), ["UK22080"]),
        (fill("", "\n", "# de41290?"), ["DE41290"]),
        (fill("", "#", "UK22080"), ["UK22080"]),
        (fill("", "# ", "pl50321"), ["PL50321"]),
        (fill("UK", " ", "22080"), []),  # a space between prefix and digits: not an order
        (fill("", "UK ", ""), []),
        (fill("", "UKusEUde", ""), []),
        (fill("", "#UK-", ""), []),
        (fill("UK", "7", ""), []),  # more than 12 digits
        (fill("", "1", ""), []),
        (fill("", "uk12 ", ""), []),
        (fill("", "XUK22080", ""), []),
        (fill("", "UK22080 ", ""), ["UK22080"]),
        distinct_numbers(),
    ],
    ids=lambda value: repr(value[:24]) if isinstance(value, str) else None,
)
def test_order_numbers_in_hostile_messages(text, numbers):
    assert len(text) <= LONGEST
    assert orders.find_order_numbers(text) == numbers


ORDER_PIECES = ["#", " ", "\t", "\n", "\u3000", "-", "x", "UK", "uk", "Us", "PL", "GB", "2", "22080", "1234567890123"]


@hypothesis_settings(deadline=None)  # the machine is shared; a slow example is not a failure
@given(st.lists(st.one_of(st.sampled_from(ORDER_PIECES), st.text(max_size=3)), max_size=30).map("".join))
@example("a#  UK22080")
@example("X#UK22080 #\tde41290 uk-22080")
def test_order_numbers_are_what_the_probed_pattern_found(text):
    """The linear pattern finds exactly the numbers the documented (quadratic) one found."""
    expected = list(dict.fromkeys(m.group(1).upper() + m.group(2) for m in PROBED_ORDER_NUMBER.finditer(text)))
    assert orders.find_order_numbers(text) == expected


def reply_to(text: str, *, email: str = "") -> tuple[dict, ChatSession]:
    session = conversations.start(customer_email=email)
    reply = ask(session, text)
    session.refresh_from_db()
    return reply, session


def faq_answer(question: str) -> str:
    return FaqEntry.objects.get(question=question).answer


@pytest.mark.parametrize(
    "text",
    [
        fill("warranty", " ", "x"),
        fill("warranty", "\n", "x"),
        fill("warranty", "\t", "x"),
        fill("warranty", " \t\n\r\xa0\u3000", "x"),
        fill("", "warranty ", ""),
        fill("", "warrenty ", ""),  # a typo, repeated
        fill("", "broken repair ", ""),
    ],
    ids=["spaces", "newlines", "tabs", "mixed-whitespace", "keyword-repeated", "typo-repeated", "keywords-repeated"],
)
def test_a_long_hostile_message_with_a_faq_keyword_gets_the_faq_answer(demo, text):
    reply, session = reply_to(text)
    assert reply["content"] == faq_answer("What does the warranty cover?")
    assert session.bot_misses == 0


@pytest.mark.parametrize(
    "text",
    [
        fill("#", " ", "uk22080"),
        fill("Where is my order", " \t\n", "#UK22080"),
        fill("", "#", "UK22080"),
        fill("", "UK22080 ", ""),
    ],
    ids=["hash-spaces", "mixed-whitespace", "hashes", "number-repeated"],
)
def test_a_long_hostile_message_with_an_order_number_gets_its_cards(demo, text):
    reply, _ = reply_to(text, email=OLIVER)
    assert [card["title"] for card in card_parts(reply)] == ["Fiido D11 Folding E-bike", "Fiido Rear Rack"]


def test_a_message_full_of_order_numbers_is_answered_for_the_first_three(demo):
    text, numbers = distinct_numbers()
    reply, _ = reply_to(text, email=OLIVER)
    assert card_parts(reply) == []
    for number in numbers[: orders.MAX_ORDERS_PER_REPLY]:
        assert f"couldn't find an order {number}" in reply["content"]
    assert numbers[orders.MAX_ORDERS_PER_REPLY] not in reply["content"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (fill("hi", " ", "!"), GREETING),
        (fill("Hello", "\n", "!"), GREETING),
        (fill("", "!", "hello"), GREETING),
        (fill("thank you", " \t", "!"), THANKS_REPLY),
        (fill("", "my my order track ", ""), ASK_ORDER_NUMBER),
        (fill("", "人客订单物", ""), ASK_ORDER_NUMBER),
        (fill("hi", " ", "x"), DONT_KNOW),
        (fill("", "a", ""), DONT_KNOW),
        (fill("", "UK ", "x"), DONT_KNOW),
        (fill("", "personal agentive humanoid ", ""), DONT_KNOW),
        (fill("", "[PRODUCT]", ""), DONT_KNOW),
        (fill("[PRODUCT]a", "|", ""), DONT_KNOW),
    ],
    ids=[
        "greeting-spaces",
        "greeting-newlines",
        "punctuation-greeting",
        "thanks-whitespace",
        "order-question-repeated",
        "chinese-order-question",
        "greeting-spaces-then-a-word",
        "one-long-word",
        "prefixes-without-digits",
        "handoff-lookalikes",
        "card-opening-tags",
        "opening-tag-and-separators",
    ],
)
def test_long_hostile_messages_get_the_right_answer(demo, text, expected):
    reply, session = reply_to(text)
    assert reply["content"] == expected
    assert session.status == Status.BOT_ACTIVE


def test_a_long_hostile_message_that_asks_for_a_person_escalates(demo):
    _, session = reply_to(fill("please", " \n\t", "agent"))
    assert session.status == Status.PENDING_MANUAL


def test_a_long_run_of_unclosed_tags_in_a_message_stays_text(demo):
    session = conversations.start()
    posted = conversations.post_customer_message(session, content=fill("", "[PRODUCT]a|b|c|d|e|f|g|", ""))
    assert [part["type"] for part in posted.message["parts"]] == ["text"]


def test_a_message_much_longer_than_every_question_is_still_matched_by_its_keywords(demo):
    text = fill("How long does delivery take?", " and what about it", "")
    assert match_faq(text).question == "How long does delivery take?"


def test_a_message_that_reads_like_a_question_without_its_keywords_is_matched(demo):
    FaqEntry.objects.create(question="Do you sell gift cards?", keywords="", answer="Yes, from £25.")
    assert match_faq("do you sell giftcards").question == "Do you sell gift cards?"
    # Far longer than the question it cannot read like it, and is not compared (difflib's cost).
    assert match_faq(fill("do you sell giftcards", " ", "?")) is None
