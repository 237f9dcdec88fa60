"""Who may see which order: the one place the privacy rule lives.

A customer is shown an order only when it was placed with an email address
they gave (the conversation's ``customer_email``, or one they wrote in the
chat) and they quoted its number in the chat; agents see every order of the
customer's email. Nothing the customer says is verified: knowing both the
number and the email on an order is the proof, as on a shop's "track your
order" page. A refusal never tells a missing order from someone else's.

Both bots call ``customer_order``; the workbench calls ``orders_for_customer``.
Neither raises when the source fails (``chatbot/order_sources``): the
customer hears "no order", the agent sees an empty list, and the log says why.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from chatbot.bots.orders import find_order_numbers
from chatbot.models import ChatSession, Message
from chatbot.order_sources import Order, get_order_source

logger = logging.getLogger(__name__)

MAX_EMAILS_PER_MESSAGE = 3  # a message listing more addresses counts its first three, not a guessing list
AGENT_ORDERS_LIMIT = 10  # orders in the agents' customer panel, newest first

# What an address may hold around its "@" (letters of any script, digits and
# these); anything else ends it. Scanned outwards from each "@", never past
# another "@", so finding addresses costs time linear in the text's length.
_LOCAL_PUNCTUATION = frozenset("._%+-'!#$&*/=?^`{|}~")
_DOMAIN_PUNCTUATION = frozenset(".-")


@dataclass(frozen=True, slots=True)
class Claims:
    """What a customer has said about their orders in the conversation the bot
    sees: the email addresses they gave, and the order numbers they quoted."""

    emails: frozenset[str]  # case-folded
    numbers: frozenset[str]  # normalised: UK22080

    def may_see(self, order: Order) -> bool:
        """True when the customer quoted this order's number and gave the email it was placed with."""
        email = order.email.strip().casefold()
        return bool(email) and email in self.emails and order.number.upper() in self.numbers


def emails_in(text: str) -> list[str]:
    """The email addresses written in ``text``, case-folded, in order of appearance, each once."""
    found: dict[str, None] = {}
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] in _LOCAL_PUNCTUATION):
            start -= 1
        end = at + 1
        while end < len(text) and (text[end].isalnum() or text[end] in _DOMAIN_PUNCTUATION):
            end += 1
        local = text[start:at].lstrip(".'")  # "'oliver@…'" and "…example.com." are the address
        domain = text[at + 1 : end].rstrip(".-")
        if local and "." in domain and domain[0] not in _DOMAIN_PUNCTUATION:
            found.setdefault(f"{local}@{domain}".casefold())
        at = text.find("@", end)
    return list(found)


def claims(session: ChatSession | None, history: Sequence[Message]) -> Claims:
    """The emails and numbers this conversation's customer gave: the session's
    email, and what their own messages (not the bot's or an agent's) quote."""
    emails: set[str] = set()
    numbers: set[str] = set()
    given = (getattr(session, "customer_email", "") or "").strip().casefold()
    if given:
        emails.add(given)
    for message in history:
        if message.role == Message.Role.USER:
            emails.update(emails_in(message.content)[:MAX_EMAILS_PER_MESSAGE])
            numbers.update(find_order_numbers(message.content))
    return Claims(frozenset(emails), frozenset(numbers))


def customer_order(number: str, claims: Claims) -> Order | None:
    """The order ``number`` if the customer may see it, else None: whether it
    does not exist or is someone else's, the answer is the same."""
    number = number.strip().upper()
    if number not in claims.numbers or not claims.emails:
        return None  # nothing to check it against: no look-up at all
    order = get_order_source().order(number)
    if order is None or not claims.may_see(order):
        return None
    return order


def orders_for_customer(session: ChatSession, *, limit: int = AGENT_ORDERS_LIMIT) -> list[Order]:
    """Every order placed with the conversation's email, newest first: what
    agents see (the privacy rule is the customer's, not theirs). Empty when the
    customer gave no email, and when the source fails (logged)."""
    email = (session.customer_email or "").strip()
    if not email:
        return []
    try:
        return get_order_source().orders_for_email(email, limit)
    except Exception:  # a misconfigured or broken source must not take the conversation page down
        logger.exception("The order source failed to list the orders of session %s", session.name)
        return []
