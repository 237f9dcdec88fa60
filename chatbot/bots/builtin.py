"""The built-in assistant: works offline, answers from the FAQ and looks up orders.

Each customer message is tried against, in order: a request for a person
(escalate), order numbers (summary plus product cards for an order placed
with the email the customer gave; else a request for that email, or a plain
"not found": ``chatbot/order_access.py``), small talk, a question about an
order without its number, the FAQ (keywords, with typos and plurals
forgiven, or a question that reads like an entry's), and finally an honest
"I don't know" with the offer of a person.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher, get_close_matches

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from chatbot import order_access
from chatbot.bots import orders
from chatbot.bots.base import GREETING, REASON_ASKED, BotReply
from chatbot.models import ChatSession, FaqEntry, Message

# Asking for a person, in the shop's languages (and the original workflow's
# Chinese). Words of scripts with spaces match whole words ("person" but not
# "personal"); Chinese ones anywhere.
HANDOFF_WORDS = (
    # en
    "human",
    "humans",
    "agent",
    "agents",
    "person",
    "real person",
    "representative",
    "operator",
    "customer service",
    "live chat",
    "someone real",
    # de
    "mensch",
    "mitarbeiter",
    "mitarbeiterin",
    "kundendienst",
    "kundenservice",
    # fr
    "humain",
    "conseiller",
    "conseillère",
    "une personne",
    "service client",
    # it
    "operatore",
    "operatrice",
    "una persona",
    "assistenza clienti",
    # es
    "humano",
    "agente",
    "una persona",
    "atención al cliente",
    # nl
    "medewerker",
    "mens",
    "klantenservice",
    # pl
    "konsultant",
    "konsultantka",
    "człowiek",
    "obsługa klienta",
)
HANDOFF_WORDS_ZH = ("人工", "转人工", "人工客服", "客服", "真人")
_HANDOFF = re.compile(r"\b(?:" + "|".join(re.escape(word) for word in HANDOFF_WORDS) + r")\b", re.IGNORECASE)

_GREETING = re.compile(
    r"^\W*(hi|hello|hey|hiya|good (morning|afternoon|evening)|hallo|guten (morgen|tag|abend)|servus|moin|"
    r"bonjour|bonsoir|salut|ciao|buongiorno|buonasera|salve|hola|buenos días|buenas( tardes| noches)?|"
    r"goedemorgen|goedemiddag|goedenavond|hoi|dzień dobry|cześć|witam|你好|您好|嗨)( there)?\W*$",
    re.IGNORECASE,
)
_THANKS = re.compile(
    r"^\W*(thanks?( you)?( very much| so much| a lot)?|thx|cheers|danke( schön| sehr)?|vielen dank|"
    r"merci( beaucoup)?|grazie( mille)?|gracias|muchas gracias|dank (je|u)( wel)?|bedankt|dziękuję|dzięki|"
    r"谢谢|多谢)\W*$",
    re.IGNORECASE,
)
_ORDER_QUESTION = re.compile(
    r"\b(my|an?|the|our) (order|parcel|package|delivery)\b|\btrack(ing)?\b|\border (number|status)\b|"
    r"\b(bestellung|sendung|paket|sendungsverfolgung|commande|colis|suivi|ordine|pacco|spedizione|pedido|"
    r"paquete|envío|bestelling|pakket|zamówienie|zamówienia|paczka|przesyłka)\b|订单|包裹|物流",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+")

FAQ_QUESTION_SIMILARITY = 0.7  # a message this close to an entry's question is that question
FUZZY_WORD_SIMILARITY = 0.8  # "warrenty" is "warranty"; "bike" is not "like"
FUZZY_MIN_LENGTH = 5  # shorter words must match exactly

HANDOFF_REPLY = _("Of course, I'm connecting you with a person now. An agent will join this chat shortly.")
THANKS_REPLY = _("You're welcome! Is there anything else I can help you with?")
ASK_ORDER_NUMBER = _(
    "I can look that up. What is your order number? It is in your confirmation email and looks like UK22080."
)
DONT_KNOW = _(
    "Sorry, I don't know the answer to that. I can help with delivery, returns, warranty, batteries "
    "and charging, or look up an order number like UK22080. Would you like to talk to a person? "
    "Just press “Talk to a person”."
)


class BuiltinBot:
    """The default bot (``CHATBOT_BACKEND``); needs nothing but the database."""

    def greeting(self) -> str:
        return str(GREETING)

    def reply(self, session: ChatSession, history: Sequence[Message]) -> BotReply:
        text = last_customer_text(history)
        if wants_person(text):
            return BotReply(str(HANDOFF_REPLY), escalate=True, reason=REASON_ASKED)
        numbers = orders.find_order_numbers(text)
        if not numbers and order_access.emails_in(text):
            numbers = numbers_asked_before(history)  # an email on its own answers "which email?"
        if numbers:
            return order_answer(numbers, order_access.claims(session, history))
        if _GREETING.match(text):
            return BotReply(str(GREETING))
        if _THANKS.match(text):
            return BotReply(str(THANKS_REPLY))
        if _ORDER_QUESTION.search(text):
            return BotReply(str(ASK_ORDER_NUMBER))
        entry = match_faq(text, language=translation.get_language() or settings.LANGUAGE_CODE)
        if entry is not None:
            return BotReply(entry.answer)
        return BotReply(str(DONT_KNOW), answered=False)


def last_customer_text(history: Sequence[Message]) -> str:
    """What the customer said last (the message the bot is answering)."""
    for message in reversed(history):
        if message.role == Message.Role.USER:
            return message.content
    return ""


def wants_person(text: str) -> bool:
    """True when the customer asks for a person, in the shop's languages or Chinese."""
    return bool(_HANDOFF.search(text)) or any(word in text for word in HANDOFF_WORDS_ZH)


def numbers_asked_before(history: Sequence[Message]) -> list[str]:
    """The order numbers of the customer's latest earlier message that quoted any."""
    earlier = [message.content for message in history if message.role == Message.Role.USER][:-1]
    for text in reversed(earlier):
        numbers = orders.find_order_numbers(text)
        if numbers:
            return numbers
    return []


def order_answer(numbers: Sequence[str], claims: order_access.Claims) -> BotReply:
    """Each order the customer may see gets its cards; any other number one
    plain sentence, the same for an unknown order as for someone else's."""
    if not claims.emails:
        return BotReply(str(orders.EMAIL_NEEDED))  # not a miss: the bot knows what it needs
    found, missing = [], []
    for number in numbers[: orders.MAX_ORDERS_PER_REPLY]:
        order = order_access.customer_order(number, claims)
        if order is None:
            missing.append(orders.not_found_reply(number))
        else:
            found.append(orders.order_reply(order))
    return BotReply("\n\n".join(found + missing), answered=bool(found))


# ---------------------------------------------------------------------------
# FAQ matching
# ---------------------------------------------------------------------------
def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    return [_stem(word) for word in _WORD.findall(text.lower())]


@dataclass(frozen=True, slots=True)
class _Wording:
    """A message as the keyword matcher reads it: worked out once per message, not once per keyword."""

    lowered: str
    words: frozenset[str]
    phrase: str  # the stemmed words, one space apart
    fuzzy_candidates: tuple[str, ...]  # distinct words long enough to count despite a typo


def _wording(text: str) -> _Wording:
    lowered = text.lower()
    words = _words(lowered)
    distinct = frozenset(words)
    candidates = tuple(word for word in distinct if len(word) >= FUZZY_MIN_LENGTH)
    return _Wording(lowered, distinct, " ".join(words), candidates)


def _keyword_hit(keyword: str, wording: _Wording) -> bool:
    if not keyword.isascii():
        return keyword in wording.lowered  # Chinese and other scripts without spaces
    wanted = _words(keyword)
    if not wanted:
        return False
    if len(wanted) > 1:
        return " ".join(wanted) in wording.phrase
    word = wanted[0]
    if word in wording.words:
        return True
    if len(word) < FUZZY_MIN_LENGTH:
        return False
    # Each distinct word is compared once: a word repeated a thousand times costs what it costs once.
    return bool(get_close_matches(word, wording.fuzzy_candidates, n=1, cutoff=FUZZY_WORD_SIMILARITY))


def _likeness(message: str, question: str) -> float:
    """How much ``message`` reads like ``question``, from 0 to 1 (difflib's ratio).

    difflib's cost grows with the product of the lengths and with the repeats
    of each character, and the customer picks the message: a message too long
    to reach ``FAQ_QUESTION_SIMILARITY`` (the ratio is at most twice the shorter
    length over the sum) is not compared and resembles nothing. What is still
    compared is at most about twice as long as the question, whose length the
    staff choose.
    """
    matcher = SequenceMatcher(None, message, question)
    if len(message) > len(question) and matcher.real_quick_ratio() < FAQ_QUESTION_SIMILARITY:
        return 0.0
    return matcher.ratio()


def match_faq(text: str, language: str | None = None) -> FaqEntry | None:
    """The active FAQ entry that best fits ``text``, in ``language`` where the
    topic has an entry in it, else in English; or None if none fits.

    An entry fits when one of its keywords occurs (whole words; a typo or a
    plural still counts), or when the message reads like its question. The
    most keyword hits wins; resemblance to the question breaks ties (between
    questions a message is too long to resemble, the first entry wins). The
    cost is linear in the message's length (bench/hostile.py measures it).
    """
    lowered = text.lower()
    if not lowered.strip():
        return None
    wording = _wording(text)
    language = language or settings.LANGUAGE_CODE
    entries = list(FaqEntry.objects.filter(is_active=True, language__in={language, settings.LANGUAGE_CODE}))
    best: tuple[float, float] | None = None
    chosen = None
    for entry in entries:
        hits = sum(_keyword_hit(keyword, wording) for keyword in entry.keyword_list())
        likeness = _likeness(lowered.strip(), entry.question.lower())
        if hits == 0 and likeness < FAQ_QUESTION_SIMILARITY:
            continue
        score = (hits, likeness)
        if best is None or score > best:
            best, chosen = score, entry
    if chosen is None or chosen.language == language:
        return chosen
    # The customer's language first: its entry of the same topic, if it has one.
    return next((e for e in entries if e.topic == chosen.topic and e.language == language), chosen)
