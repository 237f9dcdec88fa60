"""A German customer and a Chinese agent, on two workers, in Chromium: every
fixed text each sees is in their own language, the join/leave/close notices
arrive live in both, times show in each one's own zone, and nothing shows
twice after a reload. ``FIIDO_SCREENSHOTS=docs/screenshots`` saves the
README's screenshots of both pages in both languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import translation

from chatbot import payloads
from tests.e2e.test_browser import (
    ask_for_a_person,
    assert_once,
    log_in,
    not_pwned,
    open_page,
    screenshot,
    send,
    session_name,
    wait_live,
)

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.browser]

GERMAN = {"locale": "de-DE", "timezone_id": "Europe/Berlin"}
CHINESE = {"locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


def said(language: str, code: str, **params: str) -> str:
    """A system notice as the server renders it for ``language``."""
    with translation.override(language):
        return payloads.system_text(code, params)


def tr(language: str, text: str, context: str | None = None) -> str:
    """A template's or bot's text in ``language`` (the django catalog)."""
    with translation.override(language):
        return translation.pgettext(context, text) if context else translation.gettext(text)


def js(page, text: str) -> str:
    """A page script's text as the page's own catalog translates it."""
    return page.evaluate("text => window.gettext(text)", text)


def bubble_time(page, text: str) -> tuple[str, str]:
    """(the UTC datetime, the time shown) of the bubble saying ``text``."""
    return page.evaluate(
        """text => {
            const bubble = [...document.querySelectorAll('#messages .bubble')]
              .find(b => b.querySelector('.bubble__body')?.innerText.trim() === text);
            const time = bubble.querySelector('time');
            return [time.getAttribute('datetime'), time.textContent.trim()];
        }""",
        text,
    )


def local(iso: str, hours: int) -> str:
    at = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC) + timedelta(hours=hours)
    return at.strftime("%H:%M")


def test_a_german_customer_and_a_chinese_agent_each_read_their_own_language(browser, workers, redis_url):
    from workbench.management.commands.create_agent import ensure_agent

    ensure_agent("alice", "alice-password", first_name="Alice")
    first, second = workers(2, REDIS_URL=redis_url, DJANGO_ALLOW_ASYNC_UNSAFE="")

    customer = open_page(browser, f"{first.url}/", viewport={"width": 420, "height": 860}, **GERMAN)
    assert customer.get_attribute("html", "lang") == "de"
    talk = tr("de", "Talk to a person")
    assert talk != "Talk to a person"
    customer.get_by_role("button", name=talk).wait_for()
    send(customer, "Hallo, mein Fahrrad ist noch nicht da.")
    wait_live(customer, "[data-chat]")
    name = session_name(customer)
    ask_for_a_person(customer)
    customer.get_by_text(js(customer, "Waiting for an agent.")).wait_for()
    assert js(customer, "Waiting for an agent.") != "Waiting for an agent."

    desk = log_in(browser, second.url, "alice", "alice-password", **CHINESE)
    assert desk.get_attribute("html", "lang") == "zh-hans"
    desk.get_by_role("heading", name=tr("zh-hans", "Queue")).wait_for()
    desk.locator(f'#waiting [data-session="{name}"]').wait_for()
    assert desk.locator(f'#waiting [data-session="{name}"] .row__language').inner_text() == "DE"
    desk.goto(f"{second.url}/workbench/sessions/{name}")
    wait_live(desk, "[data-conversation]")
    desk.get_by_role("button", name=tr("zh-hans", "Take over")).click()
    desk.get_by_text(js(desk, "You are in this conversation.")).wait_for()

    # The same event, live, in each reader's language.
    joined_de, joined_zh = said("de", "agent_joined", agent="Alice"), said("zh-hans", "agent_joined", agent="Alice")
    assert joined_de != joined_zh
    assert_once(customer, joined_de)
    assert_once(desk, joined_zh)
    screenshot(customer, "chat-de.png")

    send(desk, "您好！我来帮您查一下。")
    send(customer, "Danke schön!")
    assert_once(customer, "您好！我来帮您查一下。", "Danke schön!")
    assert_once(desk, "您好！我来帮您查一下。", "Danke schön!")
    # Times in each one's own zone (Berlin is UTC+1, Shanghai UTC+8, in winter).
    iso, shown_de = bubble_time(customer, "Danke schön!")
    assert shown_de == local(iso, 1)
    assert bubble_time(desk, "Danke schön!") == [iso, local(iso, 8)]
    screenshot(desk, "workbench-zh.png")

    # A reload: the same, once each, in the same languages.
    for page, selector in ((customer, "[data-chat]"), (desk, "[data-conversation]")):
        page.reload()
        wait_live(page, selector)
    assert_once(customer, joined_de, "您好！我来帮您查一下。", "Danke schön!")
    assert_once(desk, joined_zh, "您好！我来帮您查一下。", "Danke schön!")

    desk.get_by_role("button", name=tr("zh-hans", "Release to the assistant")).click()
    assert_once(customer, said("de", "agent_left", agent="Alice"))
    assert_once(desk, said("zh-hans", "agent_left", agent="Alice"))
    customer.get_by_role("button", name=tr("de", "End chat")).click()
    assert_once(customer, said("de", "customer_closed"))
    assert_once(desk, said("zh-hans", "customer_closed"))
    customer.locator("#status", has_text=js(customer, "This chat is closed.")).wait_for()
    not_pwned(customer, desk)


def test_the_screenshots_in_english_too(browser, workers, redis_url):
    """The English pages, for the README beside the German and Chinese ones."""
    from workbench.management.commands.create_agent import ensure_agent

    ensure_agent("alice", "alice-password", first_name="Alice")
    (worker,) = workers(1, REDIS_URL=redis_url, DJANGO_ALLOW_ASYNC_UNSAFE="")
    english = {"locale": "en-GB", "timezone_id": "Europe/London"}
    customer = open_page(browser, f"{worker.url}/", viewport={"width": 420, "height": 860}, **english)
    assert customer.get_attribute("html", "lang") == "en"
    send(customer, "Hello, my bike has not arrived yet.")
    wait_live(customer, "[data-chat]")
    name = session_name(customer)
    ask_for_a_person(customer)
    desk = log_in(browser, worker.url, "alice", "alice-password", **english)
    desk.goto(f"{worker.url}/workbench/sessions/{name}")
    wait_live(desk, "[data-conversation]")
    desk.get_by_role("button", name="Take over").click()
    assert_once(customer, said("en", "agent_joined", agent="Alice"))
    send(desk, "Hello! Let me look that up for you.")
    assert_once(customer, "Hello! Let me look that up for you.")
    screenshot(customer, "chat-en.png")
    screenshot(desk, "workbench-en.png")
    not_pwned(customer, desk)
