"""The Reports page in Chromium: a team lead sees the charts and the table of
the last week, counted in the browser's time zone, and the "now" strip follows
the queue live. ``FIIDO_SCREENSHOTS=docs/screenshots`` saves reports.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.e2e.test_browser import (
    log_in,
    not_pwned,
    off_thread,
    open_page,
    screenshot,
    send,
    start_workers,
    use_redis_layer,
    wait_live,
)

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.browser]


def a_week_of_conversations(monkeypatch, alice, bob) -> None:
    """Five days of conversations on the test's clock: the bot alone, waits of
    one to nine minutes, replies after half a minute to four, ratings."""
    from chatbot import conversations

    real_now = timezone.now
    clock = {"now": real_now()}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    for day in range(5):
        for index in range(3 + day % 3):
            clock["now"] = real_now() - timedelta(days=day, hours=2 + index)
            session = conversations.start()
            conversations.post_customer_message(session, content="Where is my parcel?")
            if index % 3 != 0:
                agent = alice if index % 2 else bob
                conversations.escalate(session, reason="help")
                clock["now"] += timedelta(minutes=1 + (day * 3 + index) % 9)
                conversations.take_over(session, agent=agent)
                clock["now"] += timedelta(seconds=30 + 40 * index)
                conversations.post_agent_message(session, agent=agent, content="Happy to help")
                clock["now"] += timedelta(minutes=5)
                conversations.close(session, by=agent)
            else:
                conversations.close(session)
            conversations.rate(session, score=1 + (day + index * 2) % 5)
    monkeypatch.setattr(timezone, "now", real_now)


def test_a_team_lead_sees_the_charts_and_the_live_now_strip(browser, workers, redis_url, settings, monkeypatch):
    from django.contrib.auth import get_user_model

    from chatbot import conversations
    from workbench.management.commands.create_agent import ensure_agent

    use_redis_layer(settings, redis_url)
    alice, _ = ensure_agent("alice", "alice-password", first_name="Alice")
    bob, _ = ensure_agent("bob", "bob-password", first_name="Bob")
    lead, _ = ensure_agent("lena", "lena-password", first_name="Lena")
    get_user_model().objects.filter(pk=lead.pk).update(is_staff=True)
    a_week_of_conversations(monkeypatch, alice, bob)
    (worker,) = start_workers(workers, 1, REDIS_URL=redis_url)

    page = log_in(
        browser, worker.url, "lena", "lena-password", viewport={"width": 1280, "height": 1400}, timezone_id="Asia/Tokyo"
    )
    page.click("text=Reports")
    page.wait_for_url("**/workbench/reports?tz=Asia%2FTokyo")  # asked again in the browser's zone
    page.wait_for_selector("body[data-desk=live]")
    assert page.locator("[data-chart=volume] rect").count() >= 5
    assert page.locator("[data-chart=times] polyline").count() >= 2
    assert page.locator("[data-chart=ratings] rect").count() == 5
    assert page.locator("#report-table tbody tr").count() == 7
    assert page.locator("#report-table tfoot td").first.inner_text() == "19"  # 3+4+5+3+4 conversations

    # A customer asks for a person: the strip counts them without a reload.
    assert page.inner_text("#now-waiting") == "0"
    off_thread(lambda: conversations.escalate(conversations.start(), reason="help"))
    page.wait_for_function("() => document.getElementById('now-waiting').textContent === '1'")
    page.wait_for_function("() => document.getElementById('now-oldest').textContent !== '–'")
    assert int(page.inner_text("#now-online")) >= 1  # Lena, on this page (Redis may remember others a while)

    page.select_option("#group", "agent")
    page.click("#report-form button[type=submit]")
    page.wait_for_selector("#report-table tbody tr >> text=alice")
    screenshot(page, "reports.png")
    not_pwned(page)


def test_a_customer_rates_the_closed_chat_and_the_agent_sees_it_live(browser, workers, redis_url, agent_user):
    """Five stars as a radio group, chosen by keyboard; the agent's page shows the score and the comment."""
    (worker,) = start_workers(workers, 1, REDIS_URL=redis_url)
    customer = open_page(browser, f"{worker.url}/", viewport={"width": 420, "height": 860})
    send(customer, "Where is my parcel?")
    wait_live(customer, "[data-chat]")
    name = customer.get_attribute("[data-chat]", "data-session")
    desk = log_in(browser, worker.url, "alice", "alice-password")
    desk.goto(f"{worker.url}/workbench/sessions/{name}")
    desk.wait_for_selector("[data-conversation][data-stream=live]")

    assert not customer.locator("#rating").is_visible()
    customer.get_by_role("button", name="End chat").click()
    customer.locator("#rating").wait_for()
    customer.get_by_role("button", name="Send rating").click()
    customer.get_by_text("Choose from one to five stars.").wait_for()
    customer.get_by_role("radio", name="3 stars").focus()
    customer.keyboard.press("ArrowRight")  # a radio group: the arrows choose
    assert customer.get_by_role("radio", name="4 stars").is_checked()
    customer.fill("#rating-comment", "Quick answer, thanks")
    screenshot(customer, "chat-rating.png")
    customer.get_by_role("button", name="Send rating").click()
    customer.get_by_text("Thank you for your rating.").wait_for()
    assert not customer.locator("#rating").is_visible()

    desk.wait_for_function("() => document.getElementById('rating-score').textContent === '4/5'")
    assert desk.inner_text("#rating-comment") == "Quick answer, thanks"
    customer.reload()
    customer.wait_for_selector("[data-chat]")
    assert not customer.locator("#rating").is_visible()  # rated once: not asked again
    not_pwned(customer, desk)
