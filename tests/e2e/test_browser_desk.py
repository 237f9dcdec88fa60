"""The desk in Chromium on two workers: the team's presence follows an
agent's last tab, automatic assignment within capacity, typing shown on both
sides and gone again, and a waiting customer's place moving by itself.
``FIIDO_SCREENSHOTS=docs/screenshots`` saves the README's screenshots."""

from __future__ import annotations

import re

import pytest

from chatbot import payloads
from tests.e2e.test_browser import (
    ask_for_a_person,
    assert_once,
    log_in,
    not_pwned,
    open_page,
    screenshot,
    send,
    start_workers,
    wait_live,
)

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.browser]

WIDE = {"viewport": {"width": 1100, "height": 800}}


def customer_waiting(browser, base_url: str):
    """A customer who asked for a person (waiting, or already given to an agent under AUTO_ASSIGN)."""
    page = open_page(browser, f"{base_url}/", **WIDE)
    ask_for_a_person(page)
    page.wait_for_selector('[data-chat][data-status="pending_manual"], [data-chat][data-status="manual_live"]')
    wait_live(page, "[data-chat]")
    return page


def member(page, username: str):
    return page.locator(f'#team-list [data-username="{username}"]')


def test_presence_follows_the_last_tab_and_typing_shows_both_ways(browser, workers, redis_url, agent_user, other_agent):
    first, second = start_workers(workers, 2, REDIS_URL=redis_url, SSE_HEARTBEAT_SECONDS="2")
    alice = log_in(browser, first.url, "alice", "alice-password", **WIDE)
    bob = log_in(browser, second.url, "bob", "bob-password", **WIDE)
    member(alice, "bob").and_(alice.locator('[data-presence="online"]')).wait_for(state="attached")

    # Bob says he is away, then opens a second tab and closes both: offline for everyone.
    bob.select_option("#my-presence", "away")
    member(alice, "bob").and_(alice.locator('[data-presence="away"]')).wait_for(state="attached")
    alice.click("#team-summary")
    screenshot(alice, "workbench-team.png")
    second_tab = bob.context.new_page()
    second_tab.goto(f"{second.url}/workbench/")
    wait_live(second_tab, "[data-queue]")
    bob.close()
    member(alice, "bob").and_(alice.locator('[data-presence="away"]')).wait_for(state="attached")  # one tab left
    second_tab.close()
    member(alice, "bob").and_(alice.locator('[data-presence="offline"]')).wait_for(state="attached")

    # Typing: the customer (second worker) sees Alice typing, Alice (first) sees the customer.
    customer = customer_waiting(browser, second.url)
    customer.get_by_text(re.compile("Waiting for an agent")).first.wait_for()
    name = customer.get_attribute("[data-chat]", "data-session")
    alice.goto(f"{first.url}/workbench/sessions/{name}")
    wait_live(alice, "[data-conversation]")
    alice.click("#take-over")
    alice.wait_for_selector('[data-conversation][data-status="manual_live"]')
    customer.locator("#composer-input").press_sequentially("Where is my", delay=30)
    alice.locator("#typing", has_text="The customer is typing…").wait_for()
    alice.locator("#composer-input").press_sequentially("Let me", delay=30)
    customer.locator("#typing", has_text="Alice is typing…").wait_for()
    screenshot(customer, "chat-typing.png")
    assert alice.locator("#typing", has_text="Alice").count() == 0  # never one's own
    # Gone when the message arrives, and gone by itself after a pause.
    customer.locator("#composer-input").press_sequentially(" parcel?", delay=30)
    customer.press("#composer-input", "Enter")
    assert_once(alice, "Where is my parcel?")
    alice.locator("#typing").wait_for(state="hidden")
    customer.locator("#typing").wait_for(state="hidden", timeout=10_000)  # Alice stopped typing
    send(alice, "Let me check.")
    assert_once(customer, "Where is my parcel?", "Let me check.")
    not_pwned(customer, alice)


def test_auto_assignment_within_capacity_and_a_place_in_the_queue_that_moves(
    browser, workers, redis_url, agent_user, other_agent
):
    from workbench.models import AgentPreferences

    for agent in (agent_user, other_agent):
        AgentPreferences.objects.update_or_create(user=agent, defaults={"max_live": 1})
    first, second = start_workers(workers, 2, REDIS_URL=redis_url, AUTO_ASSIGN="true")
    alice = log_in(browser, first.url, "alice", "alice-password", **WIDE)
    bob = log_in(browser, second.url, "bob", "bob-password", **WIDE)
    member(alice, "bob").and_(alice.locator('[data-presence="online"]')).wait_for(state="attached")

    ann = customer_waiting(browser, first.url)
    bea = customer_waiting(browser, second.url)
    cid = customer_waiting(browser, first.url)
    joined = [payloads.system_text("agent_joined", {"agent": who}) for who in ("Alice", "Bob")]
    for page in (ann, bea):
        page.locator(".bubble--system", has_text=re.compile("|".join(joined))).wait_for()
    cid.get_by_text("You are number 1 in the queue.", exact=False).wait_for()
    assert cid.locator(".bubble--system").count() == 0
    mine = alice.locator("#mine [data-session]")
    mine.wait_for()
    bob.locator("#mine [data-session]").wait_for()
    assert mine.count() == 1 and bob.locator("#mine [data-session]").count() == 1
    assert alice.locator("#waiting [data-session]").count() == 1

    # Alice closes hers: the waiting customer is hers at once, without anyone clicking.
    held = mine.get_attribute("data-session")
    alice.goto(f"{first.url}/workbench/sessions/{held}")
    wait_live(alice, "[data-conversation]")
    alice.click("#close")
    cid.locator(".bubble--system", has_text=payloads.system_text("agent_joined", {"agent": "Alice"})).wait_for()
    cid.wait_for_selector('[data-chat][data-status="manual_live"]')
    not_pwned(ann, bea, cid, alice, bob)


def test_a_waiting_customer_moves_up_by_itself(browser, workers, redis_url, agent_user):
    first, second = start_workers(workers, 2, REDIS_URL=redis_url)
    ahead = customer_waiting(browser, first.url)
    behind = customer_waiting(browser, second.url)
    behind.get_by_text("You are number 2 in the queue.", exact=False).wait_for()
    screenshot(behind, "chat-queue-position.png")
    ahead.get_by_role("button", name="Stop waiting").click()  # on the other worker
    behind.get_by_text("You are number 1 in the queue.", exact=False).wait_for()
    requests = []
    behind.on("request", lambda request: requests.append(request.url))
    behind.wait_for_timeout(1500)
    assert not [url for url in requests if "/api/sessions/" in url and not url.endswith("/events")], requests
    not_pwned(ahead, behind)
