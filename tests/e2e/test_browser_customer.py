"""The customer's side in Chromium on two workers: who they are (asked before
a person joins, shown to the agent live), their earlier conversations on the
agent's page. ``FIIDO_SCREENSHOTS=docs/screenshots`` saves the screenshots."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.e2e.test_browser import (
    assert_once,
    log_in,
    not_pwned,
    open_page,
    screenshot,
    send,
    session_name,
    start_workers,
    wait_live,
)
from tests.support import wait_until

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
    assert desk.locator("#orders").count() == 0  # no order was placed with ann@example.com
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


def test_after_hours_a_message_is_answered_by_email_with_a_link_back(browser, workers, redis_url, agent_user, tmp_path):
    today = datetime.now(UTC).date().isoformat()
    outbox = tmp_path / "mail"
    first, second = start_workers(
        workers,
        2,
        REDIS_URL=redis_url,
        SUPPORT_HOURS="Mon-Sun 08:00-20:00",
        SUPPORT_HOLIDAYS=today,  # closed all day, whatever the time the test runs
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(outbox),
        MAIL_SWEEP_SECONDS="1",
    )
    customer = open_page(browser, f"{first.url}/", **WIDE)
    customer.locator("#support-status", has_text="Support is closed. We are back").wait_for()
    send(customer, "My bike's display stays dark")
    wait_live(customer, "[data-chat]")
    name = customer.get_attribute("[data-chat]", "data-session")
    customer.click("#escalate")
    customer.locator("#identify-offline").wait_for()
    customer.fill("#identify-name", "Dee")
    customer.click("#identify button[type=submit]")  # no email: asked for it
    customer.get_by_text("Please give your email, so an agent can answer you.").wait_for()
    customer.fill("#identify-email", "dee@example.com")
    customer.click("#identify button[type=submit]")
    customer.get_by_text("Your message is saved. An agent will answer you by email.").wait_for()
    screenshot(customer, "chat-after-hours.png")

    desk = log_in(browser, second.url, "alice", "alice-password", **WIDE)
    row = desk.locator(f'#offline [data-session="{name}"]')
    row.wait_for()
    assert desk.locator(f'#waiting [data-session="{name}"]').count() == 0
    screenshot(desk, "workbench-offline-requests.png")
    row.locator("a").click()
    wait_live(desk, "[data-conversation]")
    desk.click("#take-over")
    send(desk, "Hold the power button for ten seconds, Dee.")
    assert_once(desk, "Hold the power button for ten seconds, Dee.")

    # The backend creates the file, then writes it: wait for the whole message.
    wait_until(
        lambda: outbox.exists() and any("Hold the power button" in f.read_text() for f in outbox.iterdir()),
        timeout=30,
        what="the email",
    )
    (email,) = list(outbox.iterdir())
    text = email.read_text()
    assert "To: dee@example.com" in text and "Hold the power button for ten seconds, Dee." in text
    link = re.search(r"(/resume/\S+)", text).group(1)

    # Later, in another browser (the customer's phone): the link opens the same conversation.
    phone = open_page(browser, f"{second.url}{link}", **WIDE)
    wait_live(phone, "[data-chat]")
    assert phone.get_attribute("[data-chat]", "data-session") == name
    assert_once(phone, "My bike's display stays dark", "Hold the power button for ten seconds, Dee.")
    send(phone, "That worked, thank you!")
    assert_once(desk, "That worked, thank you!")
    not_pwned(customer, desk, phone)


def test_an_agent_finds_a_conversation_by_a_word_on_the_history_page(browser, workers, redis_url, agent_user):
    (worker,) = start_workers(workers, 1, REDIS_URL=redis_url)
    customer = open_page(browser, f"{worker.url}/", **WIDE)
    send(customer, "The kickstand squeaks on my C11")
    wait_live(customer, "[data-chat]")
    name = customer.get_attribute("[data-chat]", "data-session")
    other = open_page(browser, f"{worker.url}/", **WIDE)
    send(other, "Where is my parcel?")
    wait_live(other, "[data-chat]")

    desk = log_in(browser, worker.url, "alice", "alice-password", **WIDE)
    desk.get_by_role("link", name="History").click()
    desk.fill("#q", "kickstand")
    desk.get_by_role("button", name="Search").click()
    rows = desk.locator("#results [data-session]")
    rows.first.wait_for()
    assert [rows.nth(i).get_attribute("data-session") for i in range(rows.count())] == [name]
    screenshot(desk, "workbench-history.png")
    desk.fill("#since", "2026-05-02")
    desk.fill("#until", "2026-05-01")
    desk.get_by_role("button", name="Search").click()
    desk.get_by_text("since is after until.").wait_for()
    desk.fill("#since", "")
    desk.fill("#until", "")
    desk.fill("#q", "kickstand")
    desk.get_by_role("button", name="Search").click()
    desk.locator(f'#results [data-session="{name}"] a').click()
    wait_live(desk, "[data-conversation]")
    assert_once(desk, "The kickstand squeaks on my C11")
    not_pwned(customer, other, desk)


def test_a_message_the_server_did_not_answer_is_sent_again_by_itself(browser, workers, redis_url, transactional_db):
    """A worker killed behind nginx answers a message's POST with a 502, or with
    nothing: the page posts it again by itself, with the same client_id, so it
    is stored once and shown once, never left for the customer to retry. The
    first try here reaches the server and is stored; only its answer is lost."""
    from chatbot.models import Message

    (worker,) = start_workers(workers, 1, REDIS_URL=redis_url)
    customer = open_page(browser, f"{worker.url}/", **WIDE)
    send(customer, "Hello")  # starts the conversation
    wait_live(customer, "[data-chat]")
    assert_once(customer, "Hello")
    tries: list[str] = []
    messages_url = re.compile(r"/api/sessions/[^/]+/messages$")

    def lose_the_first_answers(route) -> None:
        tries.append(route.request.post_data_json["client_id"])
        if len(tries) == 1:
            route.fetch()  # the server stores it...
            route.fulfill(status=502, body="<html>502 Bad Gateway</html>")  # ...the gateway loses the answer
        elif len(tries) == 2:
            route.abort("connectionreset")  # no answer at all
        else:
            route.continue_()

    customer.route(messages_url, lose_the_first_answers)
    # The third try is answered 200 with the message the first one stored.
    with customer.expect_response(lambda r: messages_url.search(r.url) and r.ok, timeout=60_000):
        send(customer, "Sent while a worker restarts")  # the stream may show it before the third answer
    assert len(tries) == 3 and len(set(tries)) == 1, tries  # three tries, one client_id
    assert_once(customer, "Hello", "Sent while a worker restarts")
    assert customer.locator(".bubble--failed").count() == 0
    assert customer.locator("#error").is_hidden()
    stored = Message.objects.filter(session__name=session_name(customer), content="Sent while a worker restarts")
    assert stored.count() == 1
    not_pwned(customer)
