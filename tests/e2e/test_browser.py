"""The pages in a real Chromium, against real daphne workers sharing Redis.

The customer's page is served by one worker and the agent's by another, so
every live update a page shows has crossed processes. Set
``FIIDO_SCREENSHOTS=docs/screenshots`` to save the README's screenshots.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from django.db import connections, transaction

from tests.support import ROOT, agent
from tests.support import customer as customer_session

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.browser]

TIMEOUT_MS = 20_000  # generous: a dropped live event still arrives by the next heartbeat's catch-up
PWNED = "<img src=x onerror=window.__pwned=1>"
CARD = (
    "Here is your order:\n"
    "[PRODUCT]|Fiido D11 Folding E-bike|1|£999.00|In Transit|DPD|15501234567890|"
    "https://track.dpd.co.uk/parcels/15501234567890[/PRODUCT]"
    "[PRODUCT]|Fiido Rear Rack|1|£39.00|Shipped|Evil Post|666|javascript:window.__pwned=1[/PRODUCT]"
)

# How many bubbles show exactly this text (pending ones included).
COUNT_JS = """text => [...document.querySelectorAll('#messages .bubble')]
  .filter(b => { const body = b.querySelector('.bubble__body'); return body && body.innerText.trim() === text; })
  .length"""


def start_workers(workers, count: int, **env: str):
    # The test process may run async-unsafe ORM calls; the workers must not.
    return workers(count, DJANGO_ALLOW_ASYNC_UNSAFE="", **env)


# Records the desktop notifications a page raises, as if the agent had allowed them.
NOTIFICATION_SPY = """
window.__notifications = [];
window.Notification = class {
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.__notifications.push({ title, body: (options || {}).body }); }
  addEventListener() {}
};
"""


def open_page(browser, url: str, init_script: str | None = None, **context_options):
    context = browser.new_context(**context_options)
    context.set_default_timeout(TIMEOUT_MS)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A page that breaks the Content-Security-Policy (inline script, style or handler) fails the test.
    page.on(
        "console",
        lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.errors = errors
    page.goto(url)
    return page


def wait_live(page, selector: str) -> None:
    page.wait_for_selector(f'{selector}[data-stream="live"]')


# What an agent's page knows about its alerts, for a wait that timed out.
ALERT_STATE_JS = """() => ({
  alerts: document.querySelector("main")?.dataset.alerts,
  title: document.title,
  stream: document.body.dataset.desk,
  claimed: localStorage.getItem("fiido-alerted"),
  notifications: window.__notifications,
  visibility: document.visibilityState,
})"""


def wait_explained(page, expression: str, explain: str = ALERT_STATE_JS) -> None:
    """``page.wait_for_function``, failing with what the page showed (and
    the errors it raised), so that a rare failure says why."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_function(expression)
    except PlaywrightTimeoutError:
        state = page.evaluate(explain)
        raise AssertionError(f"{expression} never held; page: {state}; errors: {page.errors}") from None


def count(page, text: str) -> int:
    return page.evaluate(COUNT_JS, text)


def wait_count(page, text: str, expected: int = 1) -> None:
    page.wait_for_function(f"text => ({COUNT_JS})(text) === {expected}", arg=text)


def assert_once(page, *texts: str) -> None:
    for text in texts:
        wait_count(page, text, 1)
    page.wait_for_function("() => !document.querySelector('.bubble--pending')")
    for text in texts:
        assert count(page, text) == 1, text
    ids = page.eval_on_selector_all("[data-message-id]", "els => els.map(e => e.dataset.messageId)")
    assert len(ids) == len(set(ids)), f"a message id is shown twice: {ids}"
    seqs = page.eval_on_selector_all("[data-message-id]", "els => els.map(e => Number(e.dataset.seq))")
    assert seqs == sorted(seqs), f"bubbles out of order: {seqs}"


def send(page, text: str) -> None:
    page.fill("#composer-input", text)
    page.press("#composer-input", "Enter")


def ask_for_a_person(page, name: str = "", email: str = "") -> None:
    """*Talk to a person*: the page first asks who the customer is (both
    optional; skipped when the shop already said), then escalates."""
    page.click("#escalate")
    page.wait_for_function(
        "() => !document.getElementById('identify').hidden"
        " || document.querySelector('[data-chat]').dataset.status !== 'bot_active'"
    )
    if page.locator("#identify").is_visible():
        page.fill("#identify-name", name)
        page.fill("#identify-email", email)
        page.click("#identify button[type=submit]")


def log_in(browser, base_url: str, username: str, password: str, **context_options):
    page = open_page(browser, f"{base_url}/workbench/login/", init_script=NOTIFICATION_SPY, **context_options)
    page.fill("#id_username", username)  # by id: the labels are in the browser's language
    page.fill("#id_password", password)
    page.click(".login__form button[type=submit]")
    page.wait_for_url(f"{base_url}/workbench/")
    wait_live(page, "[data-queue]")
    return page


def off_thread(work) -> None:
    """Run ``work`` (ORM calls that publish) in a thread of its own: Playwright's
    sync API keeps an event loop in this one, where ``async_to_sync`` cannot publish."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            failures.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    if failures:
        raise failures[0]


def bot_says(name: str, text: str) -> None:
    """Store a bot message in session ``name`` the way the state machine does, and publish it."""
    from chatbot import conversations
    from chatbot.models import ChatSession, Message

    def write() -> None:
        session = ChatSession.objects.get(name=name)
        with transaction.atomic(durable=True):
            changes = conversations._Changes(conversations._lock(session))
            changes.message(Message.Role.BOT, text)
            changes.save()

    off_thread(write)


def use_redis_layer(settings, redis_url: str) -> None:
    """This process publishes too (tests that write through the state machine), over the
    workers' Redis and under their prefix, so its events reach them live, not by catch-up."""
    from fiido.redis_config import default_prefix, redis_hosts

    hosts = redis_hosts(url=redis_url)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": hosts, "prefix": default_prefix(settings.SECRET_KEY, hosts)},
        }
    }


def session_name(page) -> str:
    return page.get_attribute("[data-chat]", "data-session")


def not_pwned(*pages) -> None:
    for page in pages:
        assert page.evaluate("() => window.__pwned") is None, "user text ran as script"
        assert not page.errors, page.errors


def screenshot(page, filename: str) -> None:
    target = os.environ.get("FIIDO_SCREENSHOTS")
    if target:
        directory = Path(target) if Path(target).is_absolute() else ROOT / target
        directory.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(directory / filename))


def test_customer_and_agent_hold_a_conversation_across_workers(browser, workers, redis_url, settings):
    """Customer on worker 1, agent on worker 2: escalation, takeover, messages
    both ways once each (fast sends and reloads included), product cards."""
    from workbench.management.commands.create_agent import ensure_agent

    use_redis_layer(settings, redis_url)  # this process publishes the card message below
    ensure_agent("alice", "alice-password", first_name="Alice")
    first, second = start_workers(workers, 2, REDIS_URL=redis_url)

    customer = open_page(browser, f"{first.url}/", viewport={"width": 420, "height": 860})
    customer.wait_for_selector(".bubble--bot")  # the greeting, shown before anything is stored
    assert session_name(customer) == ""

    send(customer, "Hello, can you help me?")  # the first message starts the conversation
    wait_live(customer, "[data-chat]")
    name = session_name(customer)
    assert name
    assert_once(customer, "Hello, can you help me?")
    assert customer.locator(".bubble--bot").count() >= 1
    customer.wait_for_selector(".bubble--bot >> nth=1")  # the bot answered
    customer.get_by_text("The assistant is answering.").wait_for()

    # Two more visitors, still with the assistant: the queue lists them apart.
    others = []
    for question in ("Do you ship to Ireland?", "How long is the warranty on the C11?"):
        visitor, other = customer_session(first.url)
        others.append(other)
        assert visitor.post(f"/api/sessions/{other}/messages", {"content": question}).status_code == 201
        visitor.close()

    desk = log_in(browser, second.url, "alice", "alice-password", viewport={"width": 1100, "height": 760})
    desk.evaluate("() => { window.__sameDocument = true; }")
    assert desk.title() == "Queue · Fiido workbench"
    for other in others:
        desk.locator(f'#bot [data-session="{other}"]').wait_for()
    assert desk.locator(f'#bot [data-session="{name}"]').count() == 1

    ask_for_a_person(customer)
    customer.get_by_text(re.compile(r"Waiting for an agent\. You are number 1 in the queue\.")).wait_for()
    customer.wait_for_selector("#waited:has-text('Waiting 0:')")

    # The queue updates live: the row appears, the title counts it, an alert fires.
    row = desk.locator(f'#waiting [data-session="{name}"]')
    row.wait_for()
    assert desk.locator(f'#bot [data-session="{name}"]').count() == 0
    desk.wait_for_function("() => document.title.startsWith('(1) ')")
    assert desk.evaluate("() => window.__sameDocument") is True, "the queue page reloaded"
    wait_explained(desk, "() => document.querySelector('[data-queue]').dataset.alerts === '1'")  # chimed once
    notifications = desk.evaluate("() => window.__notifications")
    assert [n["title"] for n in notifications] == ["A customer is waiting"]
    row.locator(".row__wait").filter(has_text=re.compile(r"waiting \d+:\d\d")).wait_for()
    screenshot(desk, "queue.png")

    row.locator("a").click()
    desk.wait_for_url(f"{second.url}/workbench/sessions/{name}")
    wait_live(desk, "[data-conversation]")
    assert desk.is_disabled("#composer-input")
    desk.get_by_role("button", name="Take over").click()
    desk.get_by_text("You are in this conversation.").wait_for()
    assert desk.is_enabled("#composer-input")
    assert desk.get_by_role("button", name="Take over").is_hidden()

    customer.get_by_text("Alice has joined the chat.").wait_for()
    assert_once(customer, "Alice has joined the chat")
    assert customer.locator("#escalate").is_hidden()

    # Messages both ways, once each on both pages.
    send(customer, "My D11 has not arrived yet.")
    assert_once(desk, "My D11 has not arrived yet.")
    send(desk, "Let me look that up for you.")
    assert_once(customer, "Let me look that up for you.")
    assert_once(customer, "My D11 has not arrived yet.")

    quick = [f"Quick reply number {i}." for i in range(1, 6)]
    for text in quick:
        send(desk, text)
    assert_once(desk, *quick)
    assert_once(customer, *quick)

    # Shift+Enter starts a new line; Enter sends the two lines as one message.
    desk.fill("#composer-input", "First line")
    desk.press("#composer-input", "Shift+Enter")
    desk.type("#composer-input", "second line")
    assert desk.input_value("#composer-input") == "First line\nsecond line"
    desk.press("#composer-input", "Enter")
    assert_once(customer, "First line\nsecond line")
    assert desk.input_value("#composer-input") == ""

    # A product card, live on both pages: the tracking link works, javascript: never becomes a link.
    bot_says(name, CARD)
    for page in (customer, desk):
        track = page.locator(".card__track")
        track.wait_for()
        assert track.count() == 1
        assert track.get_attribute("href") == "https://track.dpd.co.uk/parcels/15501234567890"
        assert page.locator(".card", has_text="Fiido Rear Rack").count() == 1
        assert page.locator("a[href^='javascript:' i]").count() == 0
        assert page.locator(".card .badge", has_text="In Transit").count() == 1

    send(customer, "Thanks, that's the one.")
    assert_once(desk, "Thanks, that's the one.")

    # A reload shows the same conversation, each message once, and stays live.
    everything = ["Hello, can you help me?", "My D11 has not arrived yet.", "Let me look that up for you.", *quick]
    for page, selector in ((customer, "[data-chat]"), (desk, "[data-conversation]")):
        page.reload()
        wait_live(page, selector)
        assert_once(page, *everything, "Thanks, that's the one.")
        assert page.locator(".card__track").count() == 1
    assert session_name(customer) == name
    customer.get_by_text("Alice has joined the chat.").wait_for()
    send(desk, "Your parcel is out for delivery today.")
    assert_once(customer, "Your parcel is out for delivery today.")
    assert_once(desk, "Your parcel is out for delivery today.")
    screenshot(customer, "chat.png")
    screenshot(desk, "workbench.png")

    # Release: the customer is told the bot is back; close: input disabled.
    desk.get_by_role("button", name="Release to the assistant").click()
    customer.get_by_text("Alice left; the assistant is back.").wait_for()
    assert desk.is_disabled("#composer-input")
    customer.get_by_role("button", name="End chat").click()
    customer.locator("#status", has_text="This chat is closed.").wait_for()
    assert customer.is_disabled("#composer-input")
    desk.get_by_text("This conversation is closed.").wait_for()
    not_pwned(customer, desk)


def test_connection_cut_resumes_without_losses_or_duplicates(browser, workers, redis_url):
    """The customer's worker stops; the agent's messages sent meanwhile appear
    once after the page reconnects."""
    from workbench.management.commands.create_agent import ensure_agent

    ensure_agent("alice", "alice-password", first_name="Alice")
    first, second = start_workers(workers, 2, REDIS_URL=redis_url)
    customer = open_page(browser, f"{first.url}/")
    ask_for_a_person(customer)  # starts the conversation and asks
    wait_live(customer, "[data-chat]")
    name = session_name(customer)
    customer.get_by_text(re.compile("Waiting for an agent")).wait_for()

    desk = agent(second.url, "alice", "alice-password")
    try:
        assert desk.post(f"/workbench/api/sessions/{name}/takeover").status_code == 200
        customer.get_by_text("Alice has joined the chat.").wait_for()
        assert desk.post(f"/workbench/api/sessions/{name}/messages", {"content": "Before the cut."}).status_code == 201
        assert_once(customer, "Before the cut.")

        first.stop()
        customer.wait_for_selector('[data-chat][data-stream="reconnecting"]')
        assert customer.locator("#connection").is_visible()
        missed = [f"Sent while you were away ({i})." for i in range(1, 4)]
        for text in missed:
            assert desk.post(f"/workbench/api/sessions/{name}/messages", {"content": text}).status_code == 201
        first.start()  # same port: the page's EventSource comes back with Last-Event-ID

        wait_live(customer, "[data-chat]")
        assert customer.locator("#connection").is_hidden()
        assert_once(customer, "Before the cut.", *missed)
        send(customer, "Got them, thanks.")
        assert_once(customer, "Got them, thanks.")
        body = desk.client.get(f"/workbench/api/sessions/{name}").json()
        assert [m["content"] for m in body["messages"]].count("Got them, thanks.") == 1
        not_pwned(customer)
    finally:
        desk.close()


def test_markup_in_names_and_messages_never_runs(browser, workers):
    """Agent names and messages with HTML are shown as text on both pages."""
    from workbench.management.commands.create_agent import ensure_agent

    ensure_agent("mallory", "mallory-password", first_name=f"Mal {PWNED}")
    (worker,) = start_workers(workers, 1)
    customer = open_page(browser, f"{worker.url}/")
    send(customer, PWNED)
    wait_live(customer, "[data-chat]")
    name = session_name(customer)
    assert_once(customer, PWNED)
    ask_for_a_person(customer)

    desk = log_in(browser, worker.url, "mallory", "mallory-password")
    desk.locator(f'#waiting [data-session="{name}"]').wait_for()
    desk.goto(f"{worker.url}/workbench/sessions/{name}")
    wait_live(desk, "[data-conversation]")
    assert_once(desk, PWNED)
    desk.get_by_role("button", name="Take over").click()
    desk.get_by_text("You are in this conversation.").wait_for()
    script = "<script>window.__pwned=1</script>"
    send(desk, script)
    assert_once(customer, script)
    assert_once(desk, script)
    customer.get_by_text(f"Mal {PWNED} has joined the chat.").wait_for()
    assert customer.locator("img[src=x]").count() == 0
    assert desk.locator("img[src=x]").count() == 0
    not_pwned(customer, desk)


def test_a_second_agent_sees_why_takeover_failed(browser, workers, redis_url):
    """Two agents on two workers: the loser's page says who took the conversation."""
    from workbench.management.commands.create_agent import ensure_agent

    ensure_agent("alice", "alice-password", first_name="Alice")
    ensure_agent("bob", "bob-password", first_name="Bob")
    first, second = start_workers(workers, 2, REDIS_URL=redis_url)
    customer = open_page(browser, f"{first.url}/")
    ask_for_a_person(customer)
    wait_live(customer, "[data-chat]")
    name = session_name(customer)

    alice = log_in(browser, first.url, "alice", "alice-password")
    bob = log_in(browser, second.url, "bob", "bob-password")
    for page, worker in ((alice, first), (bob, second)):
        page.goto(f"{worker.url}/workbench/sessions/{name}")
        wait_live(page, "[data-conversation]")
        page.get_by_role("button", name="Take over").wait_for()
    # Bob's page has not heard yet when he clicks: hold his stream back by clicking at once.
    bob.evaluate("() => { window.__click = document.getElementById('take-over'); }")
    alice.get_by_role("button", name="Take over").click()
    alice.get_by_text("You are in this conversation.").wait_for()
    bob.evaluate("() => { window.__click.hidden = false; window.__click.click(); }")
    bob.get_by_role("alert").filter(has_text="Alice took this conversation.").wait_for()
    bob.get_by_text("Alice is in this conversation.").wait_for()
    assert bob.is_disabled("#composer-input")
    not_pwned(alice, bob, customer)


def test_an_erased_conversation_ends_both_pages_without_reconnecting(browser, workers, redis_url, settings):
    """Erasure (the admin's, the retention command's) tells every open page,
    across workers; neither page knocks again on a stream that is gone."""
    from chatbot import conversations
    from chatbot.models import ChatSession
    from workbench.management.commands.create_agent import ensure_agent

    use_redis_layer(settings, redis_url)
    ensure_agent("alice", "alice-password", first_name="Alice")
    first, second = start_workers(workers, 2, REDIS_URL=redis_url)
    customer = open_page(browser, f"{first.url}/")
    send(customer, "Please forget me.")
    wait_live(customer, "[data-chat]")
    name = session_name(customer)
    desk = log_in(browser, second.url, "alice", "alice-password")
    desk.goto(f"{second.url}/workbench/sessions/{name}")
    wait_live(desk, "[data-conversation]")
    stream_requests: list[str] = []  # stream (re)connections made from now on
    for page in (customer, desk):
        page.on("request", lambda request: "/events" in request.url and stream_requests.append(request.url))

    off_thread(lambda: conversations.purge(ChatSession.objects.get(name=name)))

    customer.get_by_text("This conversation was deleted.").wait_for()
    desk.get_by_text("This conversation was deleted.").wait_for()
    assert customer.is_disabled("#composer-input")
    assert desk.is_disabled("#composer-input")
    assert customer.locator("#escalate").is_hidden()
    # Twice the page's 3 s reconnect delay: a page that knocked again would have by now.
    customer.wait_for_timeout(7000)
    assert stream_requests == []
    not_pwned(customer, desk)


def test_logging_out_in_one_tab_stops_the_workbench_in_the_others(browser, workers, redis_url):
    """The queue and a conversation open in other tabs (other workers) say the
    agent is signed out, at once, and stop listening."""
    from workbench.management.commands.create_agent import ensure_agent

    ensure_agent("alice", "alice-password", first_name="Alice")
    first, second = start_workers(workers, 2, REDIS_URL=redis_url, SSE_HEARTBEAT_SECONDS="60")
    _, name = customer_session(first.url)
    queue = log_in(browser, first.url, "alice", "alice-password")
    conversation = queue.context.new_page()
    conversation.goto(f"{second.url}/workbench/sessions/{name}")
    wait_live(conversation, "[data-conversation]")
    other_tab = queue.context.new_page()
    other_tab.goto(f"{first.url}/workbench/")
    other_tab.get_by_role("button", name="Log out").click()
    other_tab.wait_for_url(re.compile(r".*/workbench/login/.*"))

    queue.get_by_text("You are signed out.").wait_for()
    assert queue.get_by_role("link", name="Log in again").is_visible()
    conversation.get_by_text("You are signed out. Log in again to go on.").wait_for()
    assert conversation.is_disabled("#composer-input")
    not_pwned(queue)


def test_a_long_conversation_opens_on_its_latest_page_and_loads_earlier_ones(browser, workers, redis_url):
    """Both pages show the latest 50 messages; "Load earlier messages" brings the
    rest above them, once each, in order."""
    from chatbot import conversations, selectors
    from chatbot.models import ChatSession
    from workbench.management.commands.create_agent import ensure_agent

    ensure_agent("alice", "alice-password", first_name="Alice")
    (worker,) = start_workers(workers, 1, REDIS_URL=redis_url)
    customer = open_page(browser, f"{worker.url}/")
    ask_for_a_person(customer)
    wait_live(customer, "[data-chat]")
    name = session_name(customer)
    texts = [f"Line {i:02d} of a long story." for i in range(60)]

    def write() -> None:
        session = ChatSession.objects.get(name=name)
        for text in texts:
            conversations.post_customer_message(session, content=text)

    off_thread(write)
    customer.reload()
    desk = log_in(browser, worker.url, "alice", "alice-password")
    desk.goto(f"{worker.url}/workbench/sessions/{name}")
    for page, live in ((customer, "[data-chat]"), (desk, "[data-conversation]")):
        wait_live(page, live)
        assert page.locator("#messages [data-message-id]").count() == selectors.HISTORY_PAGE
        assert count(page, texts[0]) == 0 and count(page, texts[-1]) == 1
        page.get_by_role("button", name="Load earlier messages").click()
        page.locator("#load-earlier").wait_for(state="hidden")
        assert_once(page, *texts)
    not_pwned(customer, desk)
