"""The agents' copilot against a real OpenAI-compatible server on loopback: the
take-over summary (stored once, agents only) and suggested replies (never
stored, never sent), with their failures."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from chatbot import conversations, copilot
from chatbot.models import ChatSession, ConversationSummary, Message
from fiido import background
from tests.chatbot.test_llm import ChatServer, completion

pytestmark = pytest.mark.django_db

SUMMARY = ["Will wissen, wo ihr Fahrrad ist.", "UK22080", "Der Assistent bat um die E-Mail-Adresse."]


def post(client: Client, path: str, body=None):
    return client.post(path, body or {}, content_type="application/json")


@pytest.fixture
def llm(settings):
    with ChatServer() as server:
        settings.LLM_BASE_URL = server.url
        settings.LLM_MODEL = "fiido-test-model"
        settings.COPILOT = True
        settings.COPILOT_TIMEOUT_SECONDS = 2
        yield server


@pytest.fixture
def waiting() -> ChatSession:
    session = conversations.start(language="de", customer_name="Greta", customer_email="greta@example.com")
    conversations.post_customer_message(session, content="Wo ist mein Fahrrad? UK22080")
    conversations.escalate(session, reason="Mensch bitte")
    return session


@pytest.fixture
def alice(agent_user) -> Client:
    client = Client()
    client.force_login(agent_user)
    return client


def test_the_summary_is_three_lines_stored_once_without_names_or_emails(llm, waiting):
    llm.script = [completion(json.dumps({"lines": SUMMARY}, ensure_ascii=False))]
    stored = copilot.summarise(waiting.pk, "de")
    assert stored["text"] == "\n".join(SUMMARY)
    assert copilot.stored_summary(waiting)["text"] == "\n".join(SUMMARY)
    (request,) = llm.requests
    sent = json.dumps(request["body"], ensure_ascii=False)
    assert "Customer: Wo ist mein Fahrrad? UK22080" in sent
    assert "Greta" not in sent and "greta@example.com" not in sent  # what leaves the machine: words only
    assert "Deutsch (de)" in request["body"]["messages"][0]["content"]


def test_take_over_asks_for_the_summary_once(llm, waiting, agent_user, django_capture_on_commit_callbacks):
    llm.script = [completion(json.dumps({"lines": SUMMARY}, ensure_ascii=False))]
    ConversationSummary.objects.create(session=waiting, text="earlier", upto_seq=1)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        conversations.take_over(waiting, agent=agent_user, language="zh-hans")
    assert background.wait_idle()
    assert llm.requests == []  # one existed: generated once
    assert callbacks  # the publish ran, and nothing else was queued


@pytest.mark.parametrize(
    "step",
    ["hang", (429, {"error": "busy"}, {"Retry-After": "5"}), completion("three lines of prose"), completion("{}")],
    ids=["timeout", "429", "prose", "no-lines"],
)
def test_a_failed_summary_stores_nothing(llm, waiting, step):
    llm.script = [step]
    assert copilot.summarise(waiting.pk, "de") is None
    assert not ConversationSummary.objects.exists()


def test_suggestions_are_at_most_three_and_nothing_is_sent(llm, waiting):
    answer = {"suggestions": ["Eins", "Zwei", "Drei", "Vier"]}
    llm.script = [completion(json.dumps(answer))]
    before = Message.objects.count()
    assert copilot.suggest(waiting.pk, "req-1", "de", ["Your order {order} ships soon."]) == ["Eins", "Zwei", "Drei"]
    assert Message.objects.count() == before
    prompt = llm.requests[0]["body"]["messages"][0]["content"]
    assert "Your order {order} ships soon." in prompt and "Canned replies" in prompt


def test_the_endpoints_answer_agents_only_and_refuse_while_off(llm, waiting, alice, settings, django_user_model):
    base = f"/workbench/api/sessions/{waiting.name}"
    assert alice.get(f"{base}/summary").json() == {"summary": None}
    assert Client().get(f"{base}/summary").status_code == 401
    assert post(Client(), f"{base}/suggestions").status_code == 401
    customer = Client()
    customer.force_login(django_user_model.objects.create_user("carol", password="pw-carol-123"))
    assert post(customer, f"{base}/suggestions").status_code == 403
    assert post(Client(), f"/workbench/api/sessions/{'x' * 22}/summary").status_code == 401

    llm.responder = lambda body: completion(json.dumps({"suggestions": ["Hallo"]}))
    answer = post(alice, f"{base}/suggestions")
    assert answer.status_code == 202 and answer.json()["request_id"]
    assert post(alice, f"{base}/summary").status_code == 202
    assert background.wait_idle()

    settings.COPILOT = False
    refused = post(alice, f"{base}/suggestions")
    assert refused.status_code == 409 and "copilot is off" in refused.json()["error"]
    assert post(alice, f"{base}/summary").status_code == 409


def test_the_copilot_and_translation_notices_match_their_declared_shapes(
    llm, waiting, agent_user, settings, published_events
):
    """Each goes to the session's agents' group (``agents.<name>``), never to the
    customer's (``session.<name>``), except an agent's message in the customer's language."""
    from fiido.realtime.events import EVENT_TYPES
    from tests.realtime.test_sse import assert_shape

    settings.TRANSLATION = True
    settings.AGENT_LANGUAGES = ["en", "zh-hans"]
    conversations.take_over(waiting, agent=agent_user)
    question = Message.objects.filter(session=waiting, role=Message.Role.USER).first()
    posted = conversations.post_agent_message(waiting, agent=agent_user, content="您好", language="zh-hans")
    reply = Message.objects.get(pk=posted.message["id"])
    llm.script = [
        completion(json.dumps({"lines": SUMMARY}, ensure_ascii=False)),
        completion(json.dumps({"suggestions": ["Hallo"]})),
        completion(json.dumps({"language": "zh-hans", "translation": "我的自行车在哪里？"}, ensure_ascii=False)),
        completion(json.dumps({"language": "de", "translation": "Hallo"})),
    ]
    from chatbot import translation

    translation.resume()
    with published_events() as sent:
        copilot.summarise(waiting.pk, "zh-hans")
        copilot.suggest(waiting.pk, "req-1", "de", [])
        translation.translate(question.pk, "zh-hans", "de")
        translation.translate(reply.pk, "de", "zh-hans")
    notices = [(group, json.loads(message["data"])) for group, message in sent]
    for _, notice in notices:
        assert notice["type"] in EVENT_TYPES
        assert_shape(notice)
    to_customer = [n for g, n in notices if g.startswith("session.")]
    assert [(n["type"], n["message"]["id"], n["language"]) for n in to_customer] == [("translation", reply.pk, "de")]
    kinds = [(n["type"], n.get("language")) for g, n in notices if g.startswith("agents.")]
    assert kinds == [("summary", None), ("suggestions", None), ("translation", "zh-hans"), ("translation", "zh-hans")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["take_over", "assign"])
def test_the_summary_is_made_on_the_background_pool_after_the_take_over_commits(llm, agent_user, how):
    """The take-over (or the desk's own assignment) returns before the LLM is
    asked; a pool thread then stores the summary, in the agent's language."""
    session = conversations.start(language="de")
    conversations.post_customer_message(session, content="Wo ist mein Fahrrad? UK22080")
    conversations.escalate(session, reason="Mensch bitte")
    llm.script = [completion(json.dumps({"lines": SUMMARY}, ensure_ascii=False))]
    if how == "take_over":
        conversations.take_over(session, agent=agent_user, language="zh-hans")
    else:
        conversations.assign(session, agent=agent_user, max_live=5, language="zh-hans")
    assert background.wait_idle()
    assert ConversationSummary.objects.get(session=session).text == "\n".join(SUMMARY)
    assert "简体中文 (zh-hans)" in llm.requests[0]["body"]["messages"][0]["content"]
