"""The privacy rule: a customer sees an order only with the email it was placed
with and its number; agents see every order of the customer's email."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from chatbot import conversations, order_access
from chatbot.bots import orders
from chatbot.bots.builtin import BuiltinBot
from chatbot.demo import seed_orders_and_faq
from chatbot.models import ChatSession, Message, Order

pytestmark = pytest.mark.django_db

OLIVER = "oliver@example.com"  # UK22080 in the demo data
EMMA = "emma@example.com"  # US10432


@pytest.fixture
def demo():
    seed_orders_and_faq()


def ask(session: ChatSession, text: str) -> dict:
    posted = conversations.post_customer_message(session, content=text)
    assert posted.reply is not None
    return posted.reply


def cards_of(reply: dict) -> list[dict]:
    return [part for part in reply["parts"] if part["type"] == "card"]


def shows_nothing_of_the_order(content: str) -> bool:
    """Nothing of UK22080 but the number the customer wrote: no status, total, date or product."""
    return not any(
        word in content for word in ("£", "Partially", "D11", "Rack", "DPD", "placed on", "[PRODUCT]", "Oliver")
    )


# ---------------------------------------------------------------------------
# The built-in bot
# ---------------------------------------------------------------------------
def test_a_number_without_an_email_asks_for_the_email_and_shows_nothing(demo):
    session = conversations.start()
    reply = ask(session, "Where is my order UK22080?")
    assert reply["content"] == str(orders.EMAIL_NEEDED)
    assert cards_of(reply) == [] and shows_nothing_of_the_order(reply["content"])
    session.refresh_from_db()
    assert session.bot_misses == 0  # asking for what it needs is an answer


def test_without_an_email_an_existing_and_a_missing_order_get_the_same_answer(demo):
    existing = ask(conversations.start(), "Where is my order UK22080?")["content"]
    missing = ask(conversations.start(), "Where is my order UK99999?")["content"]
    assert existing == missing


def test_the_number_and_the_matching_email_in_one_message_show_the_cards(demo):
    reply = ask(conversations.start(), "Where is my order UK22080? My email is oliver@example.com")
    assert [card["title"] for card in cards_of(reply)] == ["Fiido D11 Folding E-bike", "Fiido Rear Rack"]


def test_the_conversations_email_shows_the_cards(demo):
    reply = ask(conversations.start(customer_email=OLIVER), "Where is my order UK22080?")
    assert len(cards_of(reply)) == 2


@pytest.mark.parametrize(
    ("email", "text"),
    [
        (EMMA, "Where is my order UK22080?"),  # the conversation's email is another customer's
        ("", "Where is my order UK22080? I am emma@example.com"),
        ("", "UK22080 xoliver@example.com"),  # not the same address
        ("", "UK22080 oliver@example.com.evil"),
    ],
    ids=["conversation-email", "email-in-message", "longer-local-part", "longer-domain"],
)
def test_a_wrong_email_is_refused_like_a_missing_order(demo, email, text):
    refused = ask(conversations.start(customer_email=email), text)
    assert cards_of(refused) == [] and shows_nothing_of_the_order(refused["content"])
    assert refused["content"] == orders.not_found_reply("UK22080")
    missing = ask(conversations.start(customer_email=email), text.replace("UK22080", "UK99999"))
    assert missing["content"] == orders.not_found_reply("UK99999")  # the same words for an order that is not there


@pytest.mark.parametrize(
    ("email", "text"),
    [
        ("Oliver@Example.COM", "Where is my order uk22080?"),
        ("", "Where is my order UK22080? My email is OLIVER@example.com."),
        ("", "UK22080 (Oliver@EXAMPLE.com)"),
    ],
)
def test_emails_match_whatever_their_case(demo, email, text):
    assert len(cards_of(ask(conversations.start(customer_email=email), text))) == 2


def test_an_orders_own_email_in_another_case_still_matches(demo):
    Order.objects.filter(number="UK22080").update(customer_email="Oliver@Example.com")
    assert len(cards_of(ask(conversations.start(customer_email="oliver@EXAMPLE.com"), "UK22080"))) == 2


def test_an_email_written_after_the_bot_asked_for_it_shows_the_order(demo):
    session = conversations.start()
    assert ask(session, "Where is my order UK22080?")["content"] == str(orders.EMAIL_NEEDED)
    reply = ask(session, "oliver@example.com")
    assert len(cards_of(reply)) == 2


def test_an_email_that_is_not_the_orders_written_after_is_refused(demo):
    session = conversations.start()
    ask(session, "Where is my order UK22080?")
    reply = ask(session, "It is emma@example.com")
    assert reply["content"] == orders.not_found_reply("UK22080")


def test_an_order_placed_without_an_email_is_never_shown_to_a_customer(demo):
    Order.objects.filter(number="UK22080").update(customer_email="")
    reply = ask(conversations.start(customer_email=OLIVER), "UK22080")
    assert reply["content"] == orders.not_found_reply("UK22080")


def test_a_message_listing_many_emails_counts_only_its_first_three(demo):
    guesses = " ".join(f"guess{n}@example.com" for n in range(order_access.MAX_EMAILS_PER_MESSAGE))
    reply = ask(conversations.start(), f"UK22080 {guesses} oliver@example.com")
    assert cards_of(reply) == []


def test_the_bots_own_words_are_no_proof(demo):
    """Only the customer's messages count: an email in a bot or agent message does not."""
    history = [
        Message(role=Message.Role.BOT, content="Is it oliver@example.com?"),
        Message(role=Message.Role.AGENT, content="oliver@example.com"),
        Message(role=Message.Role.USER, content="UK22080"),
    ]
    reply = BuiltinBot().reply(ChatSession(), history)
    assert reply.text == str(orders.EMAIL_NEEDED)


def test_agents_read_every_order_of_the_customers_email_newest_first(demo):
    Order.objects.create(number="UK10001", total="10.00", customer_email="OLIVER@example.com")
    session = conversations.start(customer_email=OLIVER)
    found = order_access.orders_for_customer(session)
    assert [order.number for order in found] == ["UK10001", "UK22080"]  # the new one was placed just now
    assert order_access.orders_for_customer(conversations.start()) == []  # no email given: nothing to look for


def test_a_broken_source_gives_agents_an_empty_list_and_a_log_line(demo, settings, caplog):
    settings.ORDER_SOURCE = "chatbot.order_sources.shopify.ShopifyOrderSource"
    settings.SHOPIFY_SHOP_DOMAIN = ""  # not configured: the source cannot even start
    assert order_access.orders_for_customer(conversations.start(customer_email=OLIVER)) == []
    assert "order source failed" in caplog.text


# ---------------------------------------------------------------------------
# Finding addresses in a message
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "emails"),
    [
        ("my email is oliver@example.com.", ["oliver@example.com"]),
        ("<Oliver.Brown+shop@Example.co.uk>, and emma@example.com", ["oliver.brown+shop@example.co.uk", EMMA]),
        ("(oliver@example.com) 'emma@example.com'", [OLIVER, EMMA]),
        ("oliver@example.com OLIVER@EXAMPLE.COM", [OLIVER]),
        ("@oliver on twitter, me@localhost, a@b, a@.example.com, a@-example.com", []),
        ("josé@correo.es", ["josé@correo.es"]),
        ("a@b.c@d.e", ["a@b.c", "b.c@d.e"]),  # no address spans two "@": each side reads its own
    ],
)
def test_emails_in_a_message(text, emails):
    assert order_access.emails_in(text) == emails


LONGEST = 2000  # MESSAGE_MAX_CHARS's default


@pytest.mark.parametrize(
    "text",
    ["@" * LONGEST, "a" * (LONGEST - 1) + "@", "a@" * (LONGEST // 2), "a@b." * (LONGEST // 4), ("x" * 99 + "@") * 20],
    ids=["at-signs", "long-local-part", "a-at-repeated", "dotted-domains-repeated", "long-parts-repeated"],
)
def test_hostile_messages_are_read_in_one_pass(text):
    """Each character is looked at a bounded number of times (bench/hostile.py measures the cost)."""
    assert len(text) <= LONGEST
    found = order_access.emails_in(text)
    assert all(email.count("@") == 1 for email in found)


@hypothesis_settings(deadline=None)  # the machine is shared; a slow example is not a failure
@given(st.text(alphabet=st.sampled_from("ab.@-+ \n#É"), max_size=40))
@example("a@.a.a")
@example("'.a@a.a-.")
def test_every_address_found_is_in_the_text(text):
    for email in order_access.emails_in(text):
        assert email in text.casefold()
        local, domain = email.split("@")
        assert local and "." in domain
