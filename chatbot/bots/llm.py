"""A bot backed by any OpenAI-compatible ``/chat/completions`` endpoint.

Set ``CHATBOT_BACKEND=chatbot.bots.llm.LLMBot`` and ``LLM_BASE_URL``,
``LLM_API_KEY``, ``LLM_MODEL``. The model sees the FAQ in its instructions
and two tools: ``lookup_order`` and ``escalate_to_human``. A look-up obeys
the same privacy rule as the built-in bot (``order_access.customer_order``:
the customer quoted the number and gave the order's email; what the model
passes is only the number, never proof), and an order not shown gets the
same answer whether or not it exists. For an order shown, the product cards
are written by ``orders.product_blocks`` from the order source, the same
function the built-in bot uses; any block the model writes itself is
dropped and any tag left over blanked out (``model_words``), so a card can
never show an invented order or link.

All requests of one reply share ``CHATBOT_TIMEOUT_SECONDS``. When the time
runs out, or the endpoint fails, ``reply`` raises; the state machine then
stores an apology and logs the failure (``conversations._ask_bot``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chatbot import cards, order_access
from chatbot.bots import orders
from chatbot.bots.base import GREETING, REASON_ASKED, BotReply
from chatbot.bots.builtin import HANDOFF_REPLY, last_customer_text, wants_person
from chatbot.models import ChatSession, FaqEntry, Message

MAX_TOOL_ROUNDS = 3  # look-ups the model may make for one reply before it must answer
NO_ANSWER_MARK = "[NO_ANSWER]"  # the model ends an "I don't know" with this; it is never shown
CONNECT_TIMEOUT_SECONDS = 5.0  # a dead endpoint fails fast even with a long overall budget
MAX_RESPONSE_BYTES = 1_000_000  # a chat completion is a few kilobytes; anything this big is broken
MAX_REPLY_CHARS = 4000  # the model's own words, before the product blocks are added

SYSTEM_PROMPT = """You are the customer-service assistant of Fiido, a maker of electric bikes.
Be brief, friendly and factual. Answer only from the FAQ below and from order look-ups.
- When the customer gives an order number (like UK22080), call lookup_order. Describe the order's
  status in one or two sentences. The customer is shown a product card for every item with its
  tracking link, so do not repeat links and never write [PRODUCT] blocks yourself.
- Orders are shown only to the email address they were placed with. When lookup_order answers
  "email_needed", ask the customer for that email address. When it answers found false, say you
  found no order with that number for their email address and ask them to check both; never say
  or guess whether the order exists.
- Never invent orders, prices, dates, tracking numbers or links.
- When the customer asks for a person, call escalate_to_human.
- When you cannot answer, say honestly that you don't know, offer to connect the customer with a
  person, and end your reply with {mark}.
- Write in {language}, the customer's language, whatever language the FAQ is in.

FAQ:
{faq}"""

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look up a Fiido order by its number: status, total, date, items and shipments.",
            "parameters": {
                "type": "object",
                "properties": {
                    "order_number": {
                        "type": "string",
                        "description": "A prefix (US, UK, EU, DE, FR, IT, ES, NL or PL) and digits, e.g. UK22080.",
                    }
                },
                "required": ["order_number"],
                # No email parameter: the proof is what the customer wrote, read by the bot itself.
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "escalate_to_human",
            "description": "Hand the conversation to a human agent, when the customer asks for a person.",
            "parameters": {
                "type": "object",
                "properties": {"reason": {"type": "string", "description": "Why, in a few words."}},
            },
        },
    },
]


class LLMError(RuntimeError):
    """The endpoint answered something that is not a usable chat completion."""


class RateLimited(LLMError):
    """The endpoint answered 429: ask again no sooner than ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited; retry after {retry_after:g} s")
        self.retry_after = retry_after


DEFAULT_RETRY_AFTER_SECONDS = 30.0  # a 429 without a usable Retry-After
MAX_RETRY_AFTER_SECONDS = 3600.0  # a Retry-After beyond this is the endpoint's mistake


def http_client() -> httpx.Client:
    """An HTTP client for the configured endpoint (``LLM_API_KEY`` as its bearer token)."""
    api_key = settings.LLM_API_KEY
    return httpx.Client(headers={"Authorization": f"Bearer {api_key}"} if api_key else {})


_local = threading.local()


def pooled_client() -> httpx.Client:
    """This thread's client for the endpoint, kept between calls (the background
    pool's threads): building one, TLS context and all, costs milliseconds of
    CPU that the worker's event loop would feel at every translation."""
    key = settings.LLM_API_KEY
    client = getattr(_local, "client", None)
    if client is None or _local.key != key:
        if client is not None:
            client.close()
        client = _local.client = http_client()
        _local.key = key
    return client


def chat_completion(
    client: httpx.Client, url: str, body: dict[str, Any], *, remaining: Callable[[], float]
) -> dict[str, Any]:
    """POST one chat-completions request and return the answer's ``message``.

    ``remaining()`` gives the seconds left of the caller's budget and raises
    ``httpx.TimeoutException`` once it is spent; it is checked between chunks,
    because httpx times each read, not the whole body, so a server that
    trickles bytes cannot hold anyone past it. Raises ``RateLimited`` for a
    429, ``httpx.HTTPError`` for other failures, ``LLMError`` for an answer
    that is not a chat completion.
    """
    left = remaining()
    timeout = httpx.Timeout(left, connect=min(left, CONNECT_TIMEOUT_SECONDS))
    with client.stream("POST", url, json=body, timeout=timeout) as response:
        data = bytearray()
        for chunk in response.iter_bytes():
            data += chunk
            remaining()
            if len(data) > MAX_RESPONSE_BYTES:
                raise LLMError(f"the response is larger than {MAX_RESPONSE_BYTES} bytes")
        if response.status_code == 429:
            raise RateLimited(_retry_after(response.headers.get("Retry-After")))
        response.raise_for_status()
    try:
        message = json.loads(data)["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise LLMError(f"not a chat completion: {bytes(data[:200])!r}") from error
    if not isinstance(message, dict):
        raise LLMError(f"not a chat completion: {bytes(data[:200])!r}")
    return message


def _retry_after(value: str | None) -> float:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), bounded."""
    if value:
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                seconds = DEFAULT_RETRY_AFTER_SECONDS
        return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
    return DEFAULT_RETRY_AFTER_SECONDS


class LLMBot:
    """Answers through an OpenAI-compatible chat-completions endpoint."""

    def __init__(self) -> None:
        self.base_url = settings.LLM_BASE_URL.rstrip("/")
        self.api_key = settings.LLM_API_KEY
        self.model = settings.LLM_MODEL
        self.timeout = settings.CHATBOT_TIMEOUT_SECONDS

    def greeting(self) -> str:
        return str(GREETING)

    def reply(self, session: ChatSession, history: Sequence[Message]) -> BotReply:
        if wants_person(last_customer_text(history)):
            # The same words as the built-in bot, without a round trip.
            return BotReply(str(HANDOFF_REPLY), escalate=True, reason=REASON_ASKED)
        if not (self.base_url and self.model):
            raise ImproperlyConfigured("LLMBot needs LLM_BASE_URL and LLM_MODEL.")
        return _Exchange(self, history, session.language, claims=order_access.claims(session, history)).run()


class _Exchange:
    """One reply: the requests to the endpoint and the tool calls between them."""

    def __init__(self, bot: LLMBot, history: Sequence[Message], language: str, *, claims: order_access.Claims) -> None:
        self.bot = bot
        self.claims = claims
        self.deadline = time.monotonic() + bot.timeout
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": _system_prompt(language)}]
        self.messages.extend(_conversation(history))
        self.found: dict[str, Any] = {}  # order number -> Order, in look-up order
        self.looked_up = False
        self.lookups = 0
        self.escalation: str | None = None

    def run(self) -> BotReply:
        with http_client() as http:
            for _ in range(MAX_TOOL_ROUNDS + 1):
                message = self._complete(http)
                calls = message.get("tool_calls") or []
                if not calls:
                    return self._reply(message.get("content") or "")
                self.messages.append({"role": "assistant", "content": message.get("content"), "tool_calls": calls})
                for call in calls:
                    result = self._call_tool(call)
                    self.messages.append({"role": "tool", "tool_call_id": call.get("id", ""), "content": result})
                if self.escalation is not None:
                    return BotReply(str(HANDOFF_REPLY), escalate=True, reason=self.escalation)
        raise LLMError(f"the model still called tools after {MAX_TOOL_ROUNDS} rounds")

    def _complete(self, client: httpx.Client) -> dict[str, Any]:
        body = {"model": self.bot.model, "messages": self.messages, "tools": TOOLS, "temperature": 0.2}
        return chat_completion(client, f"{self.bot.base_url}/chat/completions", body, remaining=self._remaining)

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise httpx.TimeoutException(f"the reply took longer than CHATBOT_TIMEOUT_SECONDS={self.bot.timeout}")
        return remaining

    def _call_tool(self, call: dict[str, Any]) -> str:
        function = call.get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            return json.dumps({"error": "arguments must be a JSON object"})
        name = function.get("name")
        if name == "escalate_to_human":
            reason = str(arguments.get("reason") or "").strip()
            self.escalation = reason[:200] or REASON_ASKED
            return json.dumps({"ok": True})
        if name == "lookup_order":
            return json.dumps(self._lookup(str(arguments.get("order_number", ""))))
        return json.dumps({"error": f"no tool named {name!r}"})

    def _lookup(self, value: str) -> dict[str, Any]:
        number = orders.normalise_number(value)
        if number is not None and not self.claims.emails:
            # Not a miss: asking for the email is the answer (as the built-in bot's).
            return {"found": False, "order_number": number, "email_needed": True}
        self.looked_up = True
        if number is None:
            return {"found": False, "error": f"{value!r} is not an order number (e.g. UK22080)"}
        self.lookups += 1
        if self.lookups > orders.MAX_ORDERS_PER_REPLY:  # each may be a request to the shop
            return {"found": False, "error": f"at most {orders.MAX_ORDERS_PER_REPLY} look-ups per reply"}
        order = order_access.customer_order(number, self.claims)
        if order is None:  # unknown, or someone else's: the model is told no more than the customer
            return {"found": False, "order_number": number}
        self.found[order.number] = order
        return orders.order_facts(order)

    def _reply(self, content: str) -> BotReply:
        words, answered = model_words(content)
        blocks = [orders.product_blocks(order) for order in self.found.values()]
        text = "\n".join(part for part in [words, *blocks] if part)
        if not text.strip():
            raise LLMError("the model answered with nothing")
        return BotReply(text, answered=answered and not (self.looked_up and not self.found))


def model_words(content: str) -> tuple[str, bool]:
    """The model's own words as the customer may see them, and whether they answer.

    Cards come from the database only, so nothing the model writes may parse
    as one: its well-formed blocks are dropped, then every ``[PRODUCT]`` and
    ``[/PRODUCT]`` left is blanked out; ``[NO_ANSWER]`` marks it an "I don't
    know" and is never shown. Each piece taken out (a mark, a block, a tag)
    leaves a space, which is part of none of them, so taking one out can never
    join what surrounds it into a new one: ``[PRO[NO_ANSWER]DUCT]`` or a block
    nested in another stays text, in one pass over the text (repeating until
    nothing is left would cost the square of the nesting).
    """
    answered = NO_ANSWER_MARK not in content
    text = content.replace(NO_ANSWER_MARK, " ")
    text = " ".join(part["text"] for part in cards.parse(text) if part["type"] == "text")
    text = text.replace(cards.OPEN_TAG, " ").replace(cards.CLOSE_TAG, " ")
    return text.strip()[:MAX_REPLY_CHARS], answered


def _system_prompt(language: str) -> str:
    """The instructions: the FAQ in the customer's language where it has an
    entry, else in English, and the language to answer in."""
    entries = FaqEntry.objects.filter(is_active=True, language__in={language, settings.LANGUAGE_CODE})
    by_topic: dict[str, FaqEntry] = {}
    for entry in entries.order_by("topic"):
        if entry.topic not in by_topic or entry.language == language:
            by_topic[entry.topic] = entry
    faq = "\n\n".join(f"Q: {entry.question}\nA: {entry.answer}" for entry in by_topic.values())
    name = dict(settings.LANGUAGES).get(language, language)
    return SYSTEM_PROMPT.format(mark=NO_ANSWER_MARK, faq=faq or "(none)", language=f"{name} ({language})")


def _conversation(history: Sequence[Message]) -> list[dict[str, str]]:
    """The chat so far as chat-completion messages; cards shown by their titles."""
    roles = {Message.Role.USER: "user", Message.Role.BOT: "assistant", Message.Role.AGENT: "assistant"}
    return [
        {"role": roles[message.role], "content": cards.plain_text(message.content)}
        for message in history
        if message.role in roles
    ]
