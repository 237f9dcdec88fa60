"""The customer's side in Chromium on two workers: who they are (asked before
a person joins, shown to the agent live), their earlier conversations on the
agent's page. ``FIIDO_SCREENSHOTS=docs/screenshots`` saves the screenshots."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_browser import assert_once, log_in, not_pwned, open_page, screenshot, send, start_workers, wait_live

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.browser]

WIDE = {"viewport": {"width": 1100, "height": 800}}


def test_the_customer_says_who_they_are_and_the_agent_sees_it_live(browser, workers, redis_url, agent_user):
    first, second = start_workers(workers, 2, REDIS_URL=redis_url)
    customer = open_page(browser, f"{first.url}/", **WIDE)
    send(customer, "My first question, last week")
    wait_live(customer, "[data-chat]")
    earlier = customer.get_attribute("[data-chat]", "data-session")
    customer.get_by_role("button", name="End chat").click()
    customer.get_by_role("link", name="Start a new chat").click()
    send(customer, "Hello again, my bike has a flat battery")
    wait_live(customer, "[data-chat]")
    name = customer.get_attribute("[data-chat]", "data-session")
    assert name != earlier

    desk = log_in(browser, second.url, "alice", "alice-password", **WIDE)
    customer.click("#escalate")
    form = customer.locator("#identify")
    form.wait_for()
    screenshot(customer, "chat-identify.png")
    customer.fill("#identify-name", "Ann Example")
    customer.fill("#identify-email", "not an email")
    customer.click("#identify button[type=submit]")
    customer.get_by_text("customer_email is not an email address.").wait_for()  # the API's words
    assert customer.get_attribute("[data-chat]", "data-status") == "bot_active"
    customer.fill("#identify-email", "ann@example.com")
    customer.click("#identify button[type=submit]")
    customer.get_by_text(re.compile("Waiting for an agent")).first.wait_for()

    row = desk.locator(f'#waiting [data-session="{name}"]')
    row.locator(".row__who", has_text="Ann Example").wait_for()
    assert row.locator(".row__email").inner_text() == "ann@example.com"
    row.locator("a").click()
    wait_live(desk, "[data-conversation]")
    assert desk.locator("#title-name").inner_text() == "Ann Example"
    desk.locator("#context summary").click()
    assert desk.locator("#customer-email").inner_text() == "ann@example.com"
    earlier_link = desk.locator(f'#earlier a[href="/workbench/sessions/{earlier}"]')
    assert earlier_link.count() == 1  # same browser
    screenshot(desk, "workbench-customer.png")
    desk.click("#take-over")
    send(desk, "Hello Ann, let us look at that battery.")
    assert_once(customer, "Hello again, my bike has a flat battery", "Hello Ann, let us look at that battery.")

    # The earlier conversation opens read-only.
    earlier_link.click()
    wait_live(desk, "[data-conversation]")
    assert_once(desk, "My first question, last week")
    assert desk.locator("#composer-input").is_disabled()
    assert desk.locator("#take-over").is_hidden() and desk.locator("#join").is_hidden()
    not_pwned(customer, desk)
