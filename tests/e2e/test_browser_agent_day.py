"""The agent's working day in Chromium, two agents and customers on two
workers: a canned reply filled in with the customer's name, a private note the
customer never sees, a transfer that alerts the other agent on another page,
unread counts that clear on every tab, a return to the queue that keeps the
customer's place, joining a conversation still with the assistant, keyboard
shortcuts, and a worker restart with nothing lost or shown twice.
``FIIDO_SCREENSHOTS=docs/screenshots`` saves the README's screenshots."""

from __future__ import annotations

import re
import time

import pytest

from chatbot import payloads
from tests.e2e.test_browser import (
    ask_for_a_person,
    assert_once,
    count,
    log_in,
    not_pwned,
    open_page,
    screenshot,
    send,
    start_workers,
    wait_live,
)

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.browser]

NOTE = "Ann may be reselling, check with @bob before any refund"
WIDE = {"viewport": {"width": 1100, "height": 800}}


def said(code: str, **params: str) -> str:
    return payloads.system_text(code, params)


def start_as(page, customer_name: str) -> str:
    """Start the page's conversation with a name, as a shop that knows its customer does, and reload."""
    name = page.evaluate(
        """async (customerName) => {
            const token = document.cookie.split("; ").find((c) => c.startsWith("csrftoken=")).split("=")[1];
            const response = await fetch("/api/sessions", {
                method: "POST", credentials: "same-origin",
                headers: {"Content-Type": "application/json", "X-CSRFToken": token},
                body: JSON.stringify({customer_name: customerName}),
            });
            return (await response.json()).session_name;
        }""",
        customer_name,
    )
    page.reload()
    wait_live(page, "[data-chat]")
    return name


def notifications(page) -> list[str]:
    """The notifications raised in any tab of this page's browser (one agent's tabs)."""
    return [n["title"] for tab in page.context.pages for n in tab.evaluate("() => window.__notifications || []")]


def wait_notification(page, title: str) -> None:
    """Wait until one of the agent's tabs raised ``title``; it must be the only one that did."""
    deadline = time.monotonic() + 20
    while title not in notifications(page):
        assert time.monotonic() < deadline, f"no {title!r} notification: {notifications(page)}"
        page.wait_for_timeout(100)
    page.wait_for_timeout(600)  # a second tab that (wrongly) raised it too would have by now
    assert notifications(page).count(title) == 1, notifications(page)


def escalate(page) -> None:
    ask_for_a_person(page)
    page.get_by_text(re.compile(r"Waiting for an agent")).first.wait_for()


def new_tab(page, url: str):
    """Another tab of the same browser (same login, same storage), watched for script errors."""
    tab = page.context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    tab.goto(url)
    return tab


def open_conversation(page, base_url: str, name: str) -> None:
    page.goto(f"{base_url}/workbench/sessions/{name}")
    wait_live(page, "[data-conversation]")


def test_canned_reply_note_transfer_and_unread_across_workers(browser, workers, redis_url, agent_user, other_agent):
    first, second = start_workers(workers, 2, REDIS_URL=redis_url)
    customer = open_page(browser, f"{first.url}/", **WIDE)
    name = start_as(customer, "Ann")
    send(customer, "My order UK22080 has not arrived")
    customer.locator(".bubble--bot").nth(1).wait_for()  # the assistant looked it up
    escalate(customer)

    alice = log_in(browser, second.url, "alice", "alice-password", **WIDE)
    bob = log_in(browser, first.url, "bob", "bob-password", **WIDE)

    # Alice keeps a reply of her own on the canned replies page.
    alice.goto(f"{second.url}/workbench/canned-replies")
    alice.fill("#new-shortcut", "late")
    alice.fill("#new-title-input", "Late parcel")
    alice.fill("#new-body", "Sorry {customer_name}, I am checking order {order_number} now. {agent_name}")
    alice.click("#new-reply button[type=submit]")
    alice.locator('#replies [data-shortcut="late"]').wait_for()
    screenshot(alice, "workbench-canned-replies.png")

    # Bob is elsewhere: on the canned replies page, not the queue.
    bob.goto(f"{first.url}/workbench/canned-replies")
    bob.wait_for_selector('body[data-desk="live"]')

    # Keyboard: j opens the next waiting conversation, t takes it over.
    alice.goto(f"{second.url}/workbench/")
    wait_live(alice, "[data-queue]")
    alice.locator(f'#waiting [data-session="{name}"] .row__unread').wait_for()  # Ann's messages, unread
    alice.keyboard.press("j")
    alice.wait_for_url(f"{second.url}/workbench/sessions/{name}")
    wait_live(alice, "[data-conversation]")
    alice.keyboard.press("t")
    alice.wait_for_selector('[data-conversation][data-status="manual_live"]')
    assert_once(customer, said("agent_joined", agent="Alice"))

    # "/" and letters: the combobox lists the reply; Tab inserts it filled in.
    alice.keyboard.press("r")
    alice.keyboard.type("/la")
    option = alice.locator('#canned-list [role="option"][data-shortcut="late"]')
    option.wait_for()
    assert alice.get_attribute("#composer-input", "aria-expanded") == "true"
    assert option.get_attribute("aria-selected") == "true"
    screenshot(alice, "workbench-canned-combobox.png")
    alice.keyboard.press("Tab")
    filled = "Sorry Ann, I am checking order UK22080 now. Alice"
    alice.wait_for_function("text => document.getElementById('composer-input').value === text", arg=filled)
    assert alice.get_attribute("#composer-input", "aria-expanded") == "false"
    assert count(customer, filled) == 0  # inserting sends nothing
    alice.keyboard.press("Enter")
    assert_once(customer, filled)
    assert_once(alice, filled)

    # A note: toggled with n, live on Bob's screen of the conversation (other
    # worker), alerting him (@bob) while he is on another page.
    bob_conversation = new_tab(bob, f"{first.url}/workbench/sessions/{name}")
    wait_live(bob_conversation, "[data-conversation]")
    alice.keyboard.press("Escape")
    alice.keyboard.press("n")
    alice.wait_for_selector('[data-conversation][data-mode="note"]')
    send(alice, NOTE)
    assert_once(alice, NOTE)
    assert_once(bob_conversation, NOTE)
    assert "bubble--note" in bob_conversation.locator(".bubble", has_text=NOTE).get_attribute("class")
    wait_notification(bob, "You were mentioned in a note")
    screenshot(alice, "workbench-note.png")
    bob_conversation.close()

    # Transfer to Bob: the customer and both agents see it once; Bob is alerted
    # on the canned replies page.
    alice.keyboard.press("Escape")
    alice.keyboard.press("n")
    alice.click("#transfer")
    alice.locator('#transfer-agents [data-username="bob"]').wait_for()
    screenshot(alice, "workbench-transfer.png")
    alice.click('#transfer-agents [data-username="bob"]')
    transferred = said("transferred", agent="Alice", to="Bob")
    assert_once(customer, transferred)
    assert_once(alice, transferred)
    alice.get_by_text("Bob is in this conversation.").wait_for()
    wait_notification(bob, "A chat was transferred to you")

    # A customer message in Bob's conversation while he is not looking: an
    # alert, and an unread count in the title and on his queue's row.
    bob_queue = new_tab(bob, f"{first.url}/workbench/")
    wait_live(bob_queue, "[data-queue]")
    send(customer, "Any news?")
    wait_notification(bob, "New message from a customer")
    badge = bob_queue.locator(f'#mine [data-session="{name}"] .row__unread')
    badge.wait_for()
    bob_queue.wait_for_function("() => /^\\(\\d+\\) /.test(document.title)")
    screenshot(bob_queue, "workbench-unread.png")

    # A worker restart: Alice's page on the second worker misses a message
    # while it is down and gets it once when it reconnects.
    second.stop()
    alice.wait_for_selector('[data-conversation][data-stream="reconnecting"]')
    send(customer, "Hello?")
    assert_once(customer, "Hello?")
    second.start()
    wait_live(alice, "[data-conversation]")
    assert_once(alice, filled, NOTE, transferred, "Any news?", "Hello?")

    # Bob opens it, visible and at the end: read on every tab of his, live.
    bob.goto(f"{first.url}/workbench/sessions/{name}")
    wait_live(bob, "[data-conversation]")
    assert_once(bob, filled, NOTE, transferred, "Any news?", "Hello?")
    badge.wait_for(state="detached")
    bob_queue.wait_for_function("() => !/^\\(\\d+\\) /.test(document.title)")
    send(bob, "Bob here, I have your order open.")
    assert_once(customer, filled, transferred, "Any news?", "Hello?", "Bob here, I have your order open.")
    assert_once(alice, "Bob here, I have your order open.", NOTE)

    # The customer never received a byte of the note: not live, not after a reload.
    assert "reselling" not in customer.content()
    customer.reload()
    wait_live(customer, "[data-chat]")
    assert_once(customer, filled, "Bob here, I have your order open.")
    assert "reselling" not in customer.content()
    not_pwned(customer, alice, bob, bob_queue)


def test_return_to_queue_keeps_the_place_and_an_agent_joins_a_bot_conversation(browser, workers, redis_url, agent_user):
    first, second = start_workers(workers, 2, REDIS_URL=redis_url)
    ann = open_page(browser, f"{first.url}/", **WIDE)
    ann_name = start_as(ann, "Ann")
    escalate(ann)
    cid = open_page(browser, f"{second.url}/", **WIDE)
    cid_name = start_as(cid, "Cid")
    escalate(cid)
    dee = open_page(browser, f"{first.url}/", **WIDE)
    dee_name = start_as(dee, "Dee")
    send(dee, "Do you ship to Norway?")
    dee.locator(".bubble--bot").nth(1).wait_for()

    alice = log_in(browser, second.url, "alice", "alice-password", **WIDE)
    waiting = alice.locator("#waiting [data-session]")
    assert [waiting.nth(i).get_attribute("data-session") for i in range(2)] == [ann_name, cid_name]
    open_conversation(alice, second.url, ann_name)
    alice.click("#take-over")
    alice.wait_for_selector('[data-conversation][data-status="manual_live"]')
    send(alice, "Hello Ann")
    assert_once(ann, "Hello Ann")

    # Back to the queue: Ann is waiting again, ahead of Cid who asked later.
    alice.click("#return-to-queue")
    alice.wait_for_selector('[data-conversation][data-status="pending_manual"]')
    returned = said("returned_to_queue", agent="Alice")
    assert_once(ann, "Hello Ann", returned)
    ann.get_by_text(re.compile(r"You are number 1 in the queue")).wait_for()
    alice.goto(f"{second.url}/workbench/")
    wait_live(alice, "[data-queue]")
    alice.locator(f'#waiting [data-session="{ann_name}"]').wait_for()
    assert [waiting.nth(i).get_attribute("data-session") for i in range(2)] == [ann_name, cid_name]

    # Join a conversation still with the assistant: read-only until Join.
    row = alice.locator(f'#bot [data-session="{dee_name}"]')
    row.wait_for()
    row.locator("a").click()
    wait_live(alice, "[data-conversation]")
    assert alice.locator("#composer-input").is_disabled()
    assert alice.locator("#take-over").is_hidden()
    screenshot(alice, "workbench-join.png")
    alice.click("#join")
    alice.wait_for_selector('[data-conversation][data-status="manual_live"]')
    joined = said("agent_joined", agent="Alice")
    assert_once(dee, "Do you ship to Norway?", joined)
    assert_once(alice, joined)
    send(alice, "Yes, we do. Alice here.")
    assert_once(dee, "Yes, we do. Alice here.")
    bot_before = dee.locator(".bubble--bot").count()
    send(dee, "Great, and how long does it take?")
    assert_once(alice, "Great, and how long does it take?")
    assert dee.locator(".bubble--bot").count() == bot_before  # the assistant stopped answering

    # The help overlay on "?" (once out of the composer: there "?" is just text).
    alice.keyboard.press("Escape")
    alice.keyboard.press("?")
    alice.locator("#shortcuts[open]").wait_for()
    screenshot(alice, "workbench-shortcuts.png")
    alice.keyboard.press("Escape")
    alice.locator("#shortcuts[open]").wait_for(state="detached")
    not_pwned(ann, cid, dee, alice)
