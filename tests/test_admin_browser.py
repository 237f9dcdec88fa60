"""Django's admin still works under the Content-Security-Policy, in a real Chromium.

The policy allows no inline script or style. The admin of Django 5.2 needs
none; this proves it in a browser: a superuser logs in through the admin's
form, opens the index, the session list and a session's change page; the
browser reports no policy violation and no script error, and the admin's
scripts ran (``django.jQuery`` exists; "select all" selects the rows).
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_the_admin_runs_under_the_policy(workers, browser, django_user_model):
    from chatbot import conversations

    (worker,) = workers(1, DJANGO_ALLOW_ASYNC_UNSAFE="")
    django_user_model.objects.create_superuser("root", "root@example.com", "root-password")
    session = conversations.start(customer_name="<b>Bold</b> customer")
    conversations.post_customer_message(session, content="Where is my order?")

    page = browser.new_context().new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "console",
        lambda message: problems.append(message.text) if "Content Security Policy" in message.text else None,
    )

    response = page.goto(f"{worker.url}/admin/login/?next=/admin/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.fill("#id_username", "root")
    page.fill("#id_password", "root-password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{worker.url}/admin/")

    admin_js_loaded = "() => typeof window.django === 'object' && typeof django.jQuery === 'function'"
    assert page.goto(f"{worker.url}/admin/").status == 200

    # The list's "select all" box is wired up by the admin's actions.js.
    assert page.goto(f"{worker.url}/admin/chatbot/chatsession/").status == 200
    assert page.evaluate(admin_js_loaded)
    page.check("#action-toggle")
    assert page.is_checked("input.action-select")

    assert page.goto(f"{worker.url}/admin/chatbot/chatsession/{session.pk}/change/").status == 200
    assert page.evaluate(admin_js_loaded)
    assert session.name in page.content()
    assert problems == []
