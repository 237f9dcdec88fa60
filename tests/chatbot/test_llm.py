"""The LLM bot against a real OpenAI-compatible HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from chatbot import cards, conversations, order_access
from chatbot.bots import orders
from chatbot.bots.llm import NO_ANSWER_MARK, LLMBot, LLMError, _Exchange, model_words
from chatbot.conversations import BOT_APOLOGY
from chatbot.demo import seed_orders_and_faq
from chatbot.models import ChatSession, Message

pytestmark = pytest.mark.django_db

Status = ChatSession.Status


def completion(content: str | None = None, tool_calls: list | None = None) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    finish = "tool_calls" if tool_calls else "stop"
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }


def tool_call(name: str, arguments: dict, call_id: str = "call_1") -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


class ChatServer:
    """A chat-completions endpoint on 127.0.0.1: answers each POST with the next scripted reply.

    A script entry is a completion dict, an ``(http_status, body)`` pair, an
    ``(http_status, body, headers)`` triple, or ``"hang"`` (hold the request
    until the test ends) or ``"trickle"`` (answer one byte at a time, each
    well within a read timeout, until the test ends). With the script empty,
    ``responder(body)`` (if set) gives the entry: a server that answers by
    what it is asked (the translation tests' "LLM").
    """

    def __init__(self) -> None:
        self.script: list[Any] = []
        self.responder: Any = None
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if server.script:
                    step = server.script.pop(0)
                elif server.responder is not None:
                    step = server.responder(body)
                else:
                    step = (500, {"error": "script exhausted"})
                if step == "hang":
                    server.release.wait(30)
                    return
                if step == "trickle":  # headers at once, then a byte now and then, never finishing in time
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    while not server.release.wait(0.05):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    return
                status, payload, headers = (*step, {})[:3] if isinstance(step, tuple) else (200, step, {})
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for header, value in headers.items():
                    self.send_header(header, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.handler = Handler
        self._listen(0)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def _listen(self, port: int) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self.handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop listening: connections are refused, as with an LLM server that is down."""
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def restart(self) -> None:
        """Listen again on the same port."""
        self.release = threading.Event()
        self._listen(self.httpd.server_address[1])
        self.thread.start()


@pytest.fixture
def llm(settings):
    """A loopback chat server with the LLM bot configured to use it."""
    seed_orders_and_faq()
    with ChatServer() as server:
        settings.CHATBOT_BACKEND = "chatbot.bots.llm.LLMBot"
        settings.LLM_BASE_URL = server.url
        settings.LLM_API_KEY = "test-key"
        settings.LLM_MODEL = "fiido-test-model"
        settings.CHATBOT_TIMEOUT_SECONDS = 5
        yield server


def ask(session: ChatSession, text: str) -> dict:
    posted = conversations.post_customer_message(session, content=text)
    assert posted.reply is not None
    return posted.reply


def cards_of(reply: dict) -> list[dict]:
    return [part for part in reply["parts"] if part["type"] == "card"]


def test_a_plain_answer_is_stored_as_the_bot_reply(llm):
    llm.script = [completion("Deliveries take 2–5 working days in the UK.")]
    session = conversations.start()
    reply = ask(session, "How long does delivery take?")
    assert reply["content"] == "Deliveries take 2–5 working days in the UK."
    (request,) = llm.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer test-key"
    body = request["body"]
    assert body["model"] == "fiido-test-model"
    assert {tool["function"]["name"] for tool in body["tools"]} == {"lookup_order", "escalate_to_human"}
    assert body["messages"][0]["role"] == "system" and "How do I return an item?" in body["messages"][0]["content"]
    assert body["messages"][-1] == {"role": "user", "content": "How long does delivery take?"}
    assert body["messages"][-2]["role"] == "assistant"  # the greeting
    session.refresh_from_db()
    assert session.bot_misses == 0


def test_an_order_tool_call_round_becomes_cards_from_the_database(llm):
    llm.script = [
        completion(tool_calls=[tool_call("lookup_order", {"order_number": "#uk22080"})]),
        # A model that writes its own card anyway: it must not reach the customer.
        completion(
            "Your e-bike is on its way with DPD.\n"
            "[PRODUCT]|Invented bike|1|£1.00|Received|X|1|https://evil.example/[/PRODUCT]"
        ),
    ]
    question = "Where is my order UK22080? My email is oliver@example.com"
    reply = ask(conversations.start(), question)
    first, second = llm.requests
    assert first["body"]["messages"][-1]["content"] == question
    tool_messages = [m for m in second["body"]["messages"] if m["role"] == "tool"]
    assert tool_messages[0]["tool_call_id"] == "call_1"
    facts = json.loads(tool_messages[0]["content"])
    assert facts["order_number"] == "UK22080" and facts["items"][0]["tracking_number"] == "15501234567890"
    assistant = [m for m in second["body"]["messages"] if m["role"] == "assistant" and m.get("tool_calls")]
    assert assistant[0]["tool_calls"][0]["function"]["name"] == "lookup_order"

    assert reply["content"].startswith("Your e-bike is on its way with DPD.")
    assert "Invented bike" not in reply["content"]
    bike, rack = cards_of(reply)
    assert (bike["title"], bike["status"], bike["carrier"], bike["tracking_number"], bike["tracking_url"]) == (
        "Fiido D11 Folding E-bike",
        "In Transit",
        "DPD",
        "15501234567890",
        "https://track.dpd.co.uk/parcels/15501234567890",
    )
    assert rack["title"] == "Fiido Rear Rack" and rack["carrier"] == "Royal Mail"


def test_an_unknown_order_from_the_tool_yields_no_card_and_counts_as_a_miss(llm):
    llm.script = [
        completion(tool_calls=[tool_call("lookup_order", {"order_number": "UK99999"})]),
        completion("I couldn't find order UK99999. Would you like to talk to a person?"),
    ]
    session = conversations.start(customer_email="oliver@example.com")
    reply = ask(session, "Where is UK99999?")
    assert cards_of(reply) == []
    assert json.loads(llm.requests[1]["body"]["messages"][-1]["content"]) == {
        "found": False,
        "order_number": "UK99999",
    }
    session.refresh_from_db()
    assert session.bot_misses == 1


def tool_result(llm, request: int = 1) -> dict:
    return json.loads(llm.requests[request]["body"]["messages"][-1]["content"])


def test_someone_elses_order_is_told_to_the_model_exactly_as_a_missing_one(llm):
    """The model learns no more than the customer may: not even that the order exists."""
    for number in ("UK22080", "UK99999"):
        llm.script = [
            completion(tool_calls=[tool_call("lookup_order", {"order_number": number})]),
            completion("I found no such order for your email address."),
        ]
        reply = ask(conversations.start(customer_email="emma@example.com"), f"Where is {number}?")
        assert cards_of(reply) == []
        assert tool_result(llm, -1) == {"found": False, "order_number": number}


def test_without_an_email_the_tool_asks_for_it_and_shows_nothing(llm):
    llm.script = [
        completion(tool_calls=[tool_call("lookup_order", {"order_number": "UK22080"})]),
        completion("Which email address did you order with?"),
    ]
    session = conversations.start()
    reply = ask(session, "Where is UK22080?")
    assert cards_of(reply) == []
    assert tool_result(llm) == {"found": False, "order_number": "UK22080", "email_needed": True}
    (lookup,) = [tool for tool in llm.requests[0]["body"]["tools"] if tool["function"]["name"] == "lookup_order"]
    assert set(lookup["function"]["parameters"]["properties"]) == {"order_number"}  # no email from the model
    session.refresh_from_db()
    assert session.bot_misses == 0  # asking for the email is an answer


def test_the_model_cannot_look_up_a_number_the_customer_never_wrote(llm):
    """Even with the right email, an order whose number only the model came up with stays hidden."""
    llm.script = [
        completion(tool_calls=[tool_call("lookup_order", {"order_number": "UK22080"})]),
        completion("Nothing found."),
    ]
    reply = ask(conversations.start(customer_email="oliver@example.com"), "Show me all my orders")
    assert cards_of(reply) == []
    assert tool_result(llm) == {"found": False, "order_number": "UK22080"}


def test_an_email_in_the_customers_message_lets_the_tool_show_the_order(llm):
    llm.script = [
        completion(tool_calls=[tool_call("lookup_order", {"order_number": "UK22080"})]),
        completion("On its way."),
    ]
    reply = ask(conversations.start(), "UK22080, OLIVER@example.com")
    assert len(cards_of(reply)) == 2
    assert tool_result(llm)["order_number"] == "UK22080"


def test_a_model_that_looks_up_many_orders_is_stopped_after_three(llm):
    numbers = ["UK22080", "UK10001", "UK10002", "UK10003"]
    llm.script = [
        completion(tool_calls=[tool_call("lookup_order", {"order_number": n}, f"call_{n}") for n in numbers]),
        completion("Done."),
    ]
    ask(conversations.start(customer_email="oliver@example.com"), " ".join(numbers))
    results = [json.loads(m["content"]) for m in llm.requests[1]["body"]["messages"] if m["role"] == "tool"]
    assert results[0]["order_number"] == "UK22080" and results[0]["found"] is True
    assert results[3] == {"found": False, "error": "at most 3 look-ups per reply"}


def test_the_no_answer_mark_is_hidden_and_counts_as_a_miss(llm):
    llm.script = [completion("Sorry, I don't know that. Shall I fetch a person? [NO_ANSWER]")]
    session = conversations.start()
    reply = ask(session, "What is the capital of Peru?")
    assert reply["content"] == "Sorry, I don't know that. Shall I fetch a person?"
    session.refresh_from_db()
    assert session.bot_misses == 1


def test_the_escalation_tool_hands_the_conversation_to_a_person(llm):
    llm.script = [completion(tool_calls=[tool_call("escalate_to_human", {"reason": "Wants to complain"})])]
    session = conversations.start()
    ask(session, "This is unacceptable, I want to complain")
    session.refresh_from_db()
    assert session.status == Status.PENDING_MANUAL
    assert session.escalation_reason == "Wants to complain"


def test_handoff_keywords_escalate_without_asking_the_model(llm):
    session = conversations.start()
    ask(session, "转人工")
    session.refresh_from_db()
    assert session.status == Status.PENDING_MANUAL
    assert llm.requests == []


def test_a_timeout_gives_the_customer_an_apology_and_keeps_the_message(llm, settings, caplog):
    settings.CHATBOT_TIMEOUT_SECONDS = 0.5
    llm.script = ["hang"]
    client = Client()
    name = client.post("/api/sessions", content_type="application/json").json()["session_name"]
    response = client.post(
        f"/api/sessions/{name}/messages", {"content": "Where is my order UK22080?"}, content_type="application/json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["message"]["content"] == "Where is my order UK22080?"
    assert body["reply"]["content"] == BOT_APOLOGY
    assert Message.objects.filter(session__name=name, role="user", content="Where is my order UK22080?").exists()
    assert "failed to answer" in caplog.text
    assert len(llm.requests) == 1


def test_a_server_that_trickles_bytes_is_cut_off_at_the_budget(llm, settings, caplog):
    settings.CHATBOT_TIMEOUT_SECONDS = 0.5
    llm.script = ["trickle"]
    session = conversations.start()
    assert ask(session, "Hello?")["content"] == BOT_APOLOGY
    assert "CHATBOT_TIMEOUT_SECONDS" in caplog.text
    assert Message.objects.filter(session=session, role="user", content="Hello?").exists()


@pytest.mark.parametrize(
    "step",
    [(500, {"error": "overloaded"}), (200, {"unexpected": True}), (401, {"error": "bad key"})],
    ids=["server-error", "not-a-completion", "unauthorised"],
)
def test_a_failing_endpoint_gives_an_apology(llm, step):
    llm.script = [step]
    session = conversations.start()
    assert ask(session, "Hello?")["content"] == BOT_APOLOGY
    assert Message.objects.filter(session=session, role="user", content="Hello?").exists()


def test_a_model_that_never_stops_calling_tools_gives_an_apology(llm):
    llm.script = [completion(tool_calls=[tool_call("lookup_order", {"order_number": "UK22080"})])] * 10
    assert ask(conversations.start(), "UK22080?")["content"] == BOT_APOLOGY
    assert len(llm.requests) == 4


def test_unconfigured_llm_bot_apologises(settings):
    settings.CHATBOT_BACKEND = "chatbot.bots.llm.LLMBot"
    settings.LLM_BASE_URL = ""
    assert ask(conversations.start(), "Hello?")["content"] == BOT_APOLOGY


# ---------------------------------------------------------------------------
# Cards come from the database only (security probe 2026-12, finding 11)
# ---------------------------------------------------------------------------
EVIL_FIELDS = "https://evil.example/i.png|Refund|1|£0.00|Refunded|Fiido|1|"
SMUGGLED = {
    "mark-splits-the-tag": f"[PRO[NO_ANSWER]DUCT]{EVIL_FIELDS}https://evil.example/claim[/PRODUCT]",
    "nested-block": f"[PRODUCT]{EVIL_FIELDS}[PRODUCT]a|b|c|d|e|f|g|h[/PRODUCT]https://evil.example/claim[/PRODUCT]",
}


@pytest.mark.parametrize(("content", "misses"), list(zip(SMUGGLED.values(), [1, 0], strict=True)), ids=SMUGGLED.keys())
def test_a_card_smuggled_past_the_filter_never_reaches_the_customer(llm, content, misses):
    llm.script = [completion(content)]
    session = conversations.start()
    reply = ask(session, "I would like a refund")
    assert cards_of(reply) == []
    for tag in ("[PRODUCT]", "[/PRODUCT]", NO_ANSWER_MARK):
        assert tag not in reply["content"]
    assert 'href="https://evil.example' not in reply["html"] and 'src="https://evil.example' not in reply["html"]
    session.refresh_from_db()
    assert session.bot_misses == misses  # the mark, wherever it was, still means "I don't know"


def test_beside_a_looked_up_order_only_the_database_cards_are_shown(llm):
    llm.script = [
        completion(tool_calls=[tool_call("lookup_order", {"order_number": "UK22080"})]),
        completion("On its way.\n" + SMUGGLED["nested-block"] + SMUGGLED["mark-splits-the-tag"]),
    ]
    reply = ask(conversations.start(customer_email="oliver@example.com"), "Where is UK22080?")
    assert [card["title"] for card in cards_of(reply)] == ["Fiido D11 Folding E-bike", "Fiido Rear Rack"]
    assert not any("evil" in card["tracking_url"] or "evil" in card["image"] for card in cards_of(reply))


# Model text built to smuggle a card: tags and the mark whole, split by other
# model text, blocks with model text inside them (nested blocks), side by side.
OPEN, CLOSE = cards.OPEN_TAG, cards.CLOSE_TAG
EVIL_BODY = EVIL_FIELDS + "https://evil.example/claim"
MODEL_PIECES = [OPEN, CLOSE, NO_ANSWER_MARK, "|", "a|b|c|d|e|f|g|h", "https://evil.example/claim", "Refund", "bike"]
MODEL_PIECES += [" ", "\n", "[", "]", "/", "PRODUCT"]


def split(tag: str, at: int, inner: str) -> str:
    """``tag`` with ``inner`` inside it: ``[PRO[NO_ANSWER]DUCT]``."""
    at = 1 + at % (len(tag) - 1)
    return tag[:at] + inner + tag[at:]


def block(opening: str, at: int, inner: str, closing: str) -> str:
    """A block of eight fields with ``inner`` after the first ``at`` of them."""
    fields = EVIL_BODY.split("|")
    return opening + "|".join(fields[:at]) + inner + "|".join(fields[at:]) + closing


def whole_or_split(tag: str, inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.just(tag), st.builds(split, st.just(tag), st.integers(0, 9), inner))


model_text = st.recursive(
    st.one_of(st.sampled_from(MODEL_PIECES), st.text(max_size=4)),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=4).map("".join),
        st.builds(split, st.sampled_from([OPEN, CLOSE, NO_ANSWER_MARK]), st.integers(0, 9), inner),
        st.builds(block, whole_or_split(OPEN, inner), st.integers(0, 8), inner, whole_or_split(CLOSE, inner)),
    ),
    max_leaves=12,
)


@pytest.mark.parametrize(
    "numbers",
    [[], ["UK99999"], ["UK22080"], ["UK22080", "US10432"]],
    ids=["no-look-up", "not-found", "one-order", "two-orders"],
)
def test_whatever_the_model_writes_the_only_cards_are_the_databases(numbers):
    """The final text parsed as the pages parse it holds exactly the cards the bot appended from the database."""
    seed_orders_and_faq()
    claims = order_access.Claims(frozenset({"oliver@example.com", "emma@example.com"}), frozenset(numbers))
    exchange = _Exchange(LLMBot(), [], "en", claims=claims)
    found = [order for order in map(orders.lookup, numbers) if order is not None]
    exchange.looked_up = bool(numbers)
    exchange.found = {order.number: order for order in found}
    appended = "\n".join(orders.product_blocks(order) for order in found)
    database_cards = [part for part in cards.parse(appended) if part["type"] == "card"]
    assert len(database_cards) == sum(len(order.items) for order in found)

    @hypothesis_settings(deadline=None, max_examples=300)  # the machine is shared; a slow example is not a failure
    @given(model_text)
    @example(SMUGGLED["mark-splits-the-tag"])
    @example(SMUGGLED["nested-block"])
    @example("[PRODUCT][PRODUCT]a|b|c|d|e|f|g|h[/PRODUCT][/PRODUCT]")
    @example("[NO_[NO_ANSWER]ANSWER]")
    def check(content: str) -> None:
        try:
            reply = exchange._reply(content)
        except LLMError:
            assert not found and model_words(content)[0] == ""  # nothing at all to show
            return
        assert [part for part in cards.parse(reply.text) if part["type"] == "card"] == database_cards
        assert reply.text.endswith(appended)
        assert NO_ANSWER_MARK not in reply.text
        assert reply.answered == (NO_ANSWER_MARK not in content and not (numbers and not found))

    check()
