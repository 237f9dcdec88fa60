"""Languages: each reader's own, for pages, API answers and streams; what is
stored is language-neutral (fiido/i18n.py, chatbot/payloads.py)."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from chatbot import conversations, payloads, selectors
from chatbot.models import ChatSession, Event
from fiido.realtime.hub import current_hub
from workbench.models import AgentPreferences

pytestmark = pytest.mark.django_db


def page(client: Client, path: str, **headers) -> tuple[str, str]:
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    html = response.content.decode()
    return response["Content-Language"], html[html.index("<html lang=") : html.index(">", html.index("<html lang="))]


def test_the_chat_page_speaks_the_customers_language():
    assert page(Client(), "/", Accept_Language="de-AT,de;q=0.9,en;q=0.5") == ("de", '<html lang="de"')
    assert page(Client(), "/", Accept_Language="zh-CN,zh")[0] == "en"  # not a shop language: English
    assert page(Client(), "/", Accept_Language="pl")[0] == "pl"
    visitor = Client()
    response = visitor.get("/?lang=fr", headers={"Accept-Language": "de"})
    assert response["Content-Language"] == "fr" and response.cookies["fiido_lang"].value == "fr"
    assert page(visitor, "/", Accept_Language="de")[0] == "fr"  # the choice outlives the page
    assert page(Client(), "/?lang=xx", Accept_Language="it")[0] == "it"  # an unknown ?lang= is ignored


def test_the_workbench_speaks_the_agents_language(agent_user):
    agent = Client()
    agent.force_login(agent_user)
    assert page(agent, "/workbench/", Accept_Language="zh-CN,zh;q=0.9") == ("zh-hans", '<html lang="zh-hans"')
    assert page(agent, "/workbench/", Accept_Language="de")[0] == "en"  # not an agent language
    response = agent.post("/workbench/language", {"language": "zh-hans", "next": "/workbench/"})
    assert response.status_code == 302 and response["Location"] == "/workbench/"
    assert AgentPreferences.objects.get(user=agent_user).language == "zh-hans"
    assert page(agent, "/workbench/", Accept_Language="en")[0] == "zh-hans"
    # A new login brings the choice along, whatever the browser says.
    fresh = Client()
    fresh.post("/workbench/login/", {"username": "alice", "password": "alice-password"})
    assert page(fresh, "/workbench/", Accept_Language="en")[0] == "zh-hans"
    assert agent.post("/workbench/language", {"language": "de"}).status_code == 400
    assert agent.post("/workbench/language", {"language": "en", "next": "https://evil.example/"})["Location"] == (
        "/workbench/"
    )


def test_a_conversation_keeps_the_language_it_started_in_and_the_bot_answers_in_it():
    visitor = Client(headers={"Accept-Language": "de"})
    name = visitor.post("/api/sessions", content_type="application/json").json()["session_name"]
    session = ChatSession.objects.get(name=name)
    assert session.language == "de"
    greeting = session.messages.get()
    with payloads.translation.override("de"):
        assert greeting.content == str(conversations.get_bot().greeting())


def test_system_messages_are_stored_as_codes_and_rendered_for_each_reader(agent_user):
    session = conversations.start(language="de")
    conversations.escalate(session)
    conversations.take_over(session, agent=agent_user)
    stored = json.loads(Event.objects.get(session=session, seq=session.last_seq).payload)["message"]
    assert (stored["code"], stored["params"], stored["content"]) == (
        "agent_joined",
        {"agent": "Alice"},
        "Alice has joined the chat",
    )
    german = payloads.localized_message(stored, "de")
    chinese = payloads.localized_message(stored, "zh-hans")
    with payloads.translation.override("de"):
        assert german["content"] == payloads.system_text("agent_joined", {"agent": "Alice"})
    with payloads.translation.override("zh-hans"):
        assert chinese["content"] == payloads.system_text("agent_joined", {"agent": "Alice"})
    assert len({german["content"], chinese["content"], stored["content"]}) == 3  # three languages, three texts
    assert german["content"] in german["html"] and chinese["content"] in chinese["html"]
    # Everything but the rendered text is the same in every language.
    rendered = {"html", "content", "parts"}
    assert {k: v for k, v in german.items() if k not in rendered} == {
        k: v for k, v in chinese.items() if k not in rendered
    }


def test_the_api_answers_in_the_callers_language(agent_user):
    session = conversations.start(language="de")
    conversations.escalate(session)
    conversations.take_over(session, agent=agent_user)
    agent = Client(headers={"Accept-Language": "zh-CN"})
    agent.force_login(agent_user)
    messages = agent.get(f"/workbench/api/sessions/{session.name}").json()["messages"]
    with payloads.translation.override("zh-hans"):
        assert messages[-1]["content"] == payloads.system_text("agent_joined", {"agent": "Alice"})
    with payloads.translation.override("zh-hans"):
        page = selectors.history(session)
    assert page["messages"][-1]["content"] == messages[-1]["content"]


@pytest.mark.django_db(transaction=True)
async def test_one_event_reaches_a_german_and_a_chinese_stream_each_in_its_language(agent_user, settings):
    """The contract: the html of a system message on a German customer's stream
    is German, on a Chinese agent's stream Chinese, for the same seq; the other
    JSON fields are the same."""
    from tests.realtime.test_stream import Stream, agent_cookie, owner_cookie

    settings.REDIS_URL = ""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    session = await sync_to_async(conversations.start)(language="de")
    await sync_to_async(conversations.escalate)(session)
    customer = await Stream(
        f"/api/sessions/{session.name}/events", await owner_cookie(session.name), headers=[(b"accept-language", b"de")]
    ).open()
    desk = await Stream(
        f"/workbench/api/sessions/{session.name}/events",
        await agent_cookie(agent_user),
        headers=[(b"accept-language", b"zh-CN,zh")],
    ).open()
    for stream in (customer, desk):
        await stream.read_until(lambda s: s.of_type("history"))
    await sync_to_async(conversations.take_over)(session, agent=agent_user)
    for stream in (customer, desk):
        await stream.read_until(lambda s: [d for _, d in s.events if d.get("type") == "message"])
    (seq_de, german), (seq_zh, chinese) = [
        next((i, d) for i, d in s.events if d.get("type") == "message") for s in (customer, desk)
    ]
    assert seq_de == seq_zh
    assert german["message"]["html"] != chinese["message"]["html"]
    with payloads.translation.override("de"):
        expected_de = payloads.system_text("agent_joined", {"agent": "Alice"})
    with payloads.translation.override("zh-hans"):
        expected_zh = payloads.system_text("agent_joined", {"agent": "Alice"})
    assert expected_de in german["message"]["html"] and expected_zh in chinese["message"]["html"]
    assert german["message"]["content"] == expected_de and chinese["message"]["content"] == expected_zh
    rendered = {"html", "content", "parts"}
    assert {k: v for k, v in german["message"].items() if k not in rendered} == {
        k: v for k, v in chinese["message"].items() if k not in rendered
    }
    for stream in (customer, desk):
        await stream.disconnect()
    current_hub().stop()
