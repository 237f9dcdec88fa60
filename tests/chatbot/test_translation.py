"""Machine translation against a real OpenAI-compatible server on loopback:
stored once per message and language, shown to the side it is for, and every
failure (time-out, 429, malformed or wrong-language answers) leaves the
original standing and the row empty for a retry."""

from __future__ import annotations

import json
import re

import pytest

from chatbot import conversations, selectors, translation
from chatbot.models import ChatSession, Message, MessageTranslation
from tests.chatbot.test_llm import ChatServer, completion

pytestmark = pytest.mark.django_db

Status = ChatSession.Status


def answer(text: str, language: str) -> dict:
    return completion(json.dumps({"language": language, "translation": text}, ensure_ascii=False))


@pytest.fixture
def llm(settings):
    """A loopback chat server, with translation switched on and pointed at it."""
    with ChatServer() as server:
        settings.LLM_BASE_URL = server.url
        settings.LLM_API_KEY = "test-key"
        settings.LLM_MODEL = "fiido-test-model"
        settings.TRANSLATION = True
        settings.AGENT_LANGUAGES = ["en", "zh-hans"]
        settings.COPILOT_TIMEOUT_SECONDS = 2
        translation.resume()
        yield server
        translation.resume()


@pytest.fixture
def live(agent_user):
    """A German customer's conversation that Alice (who writes Chinese) holds."""
    session = conversations.start(language="de")
    conversations.escalate(session, reason="Mensch bitte")
    conversations.take_over(session, agent=agent_user)
    return session


def customer_says(session: ChatSession, text: str) -> Message:
    posted = conversations.post_customer_message(session, content=text)
    return Message.objects.get(pk=posted.message["id"])


def agent_says(session: ChatSession, agent, text: str, language: str = "zh-hans") -> Message:
    posted = conversations.post_agent_message(session, agent=agent, content=text, language=language)
    return Message.objects.get(pk=posted.message["id"])


def translations_of(message: Message) -> dict[str, str]:
    return dict(MessageTranslation.objects.filter(message=message).values_list("language", "text"))


def test_who_reads_which_language(live, agent_user):
    """Customers' messages go into every agent language but the customer's; an
    agent's into the customer's, and not at all when the agent wrote in it."""
    question = customer_says(live, "Wo ist mein Fahrrad?")
    assert translation.targets(question, live, source_language="de") == ["en", "zh-hans"]
    reply = agent_says(live, agent_user, "您的自行车明天到。")
    assert translation.targets(reply, live, source_language="zh-hans") == ["de"]
    assert translation.targets(reply, live, source_language="de") == []


def test_a_translation_is_stored_once_and_not_asked_for_again(llm, live):
    llm.script = [answer("我的自行车在哪里？", "zh-hans")]
    question = customer_says(live, "Wo ist mein Fahrrad?")
    assert translation.translate(question.pk, "zh-hans", "de")
    assert translation.translate(question.pk, "zh-hans", "de")  # stored: no second request
    assert translations_of(question) == {"zh-hans": "我的自行车在哪里？"}
    (request,) = llm.requests
    body = request["body"]
    assert body["messages"][-1] == {"role": "user", "content": "Wo ist mein Fahrrad?"}
    assert "Deutsch (de)" in body["messages"][0]["content"] and "简体中文 (zh-hans)" in body["messages"][0]["content"]
    assert "tools" not in body
    # Only the message's own words leave the machine: not the customer's name, email or earlier messages.
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_history_shows_each_side_only_its_own_translations(llm, live, agent_user):
    llm.script = [answer("我的自行车在哪里？", "zh-hans"), answer("Ihr Fahrrad kommt morgen.", "de")]
    question = customer_says(live, "Wo ist mein Fahrrad?")
    reply = agent_says(live, agent_user, "您的自行车明天到。")
    assert translation.translate(question.pk, "zh-hans", "de")
    assert translation.translate(reply.pk, "de", "zh-hans")
    live.refresh_from_db()

    with_language = {}
    for language, for_agents in (("zh-hans", True), ("de", False)):
        from django.utils import translation as django_translation

        with django_translation.override(language):
            with_language[for_agents] = selectors.session_with_history(live, for_agents=for_agents)["messages"]
    by_id = {True: {m["id"]: m for m in with_language[True]}, False: {m["id"]: m for m in with_language[False]}}

    agent_view = by_id[True][question.pk]
    assert agent_view["translation"]["text"] == "我的自行车在哪里？" and not agent_view["translation"]["replaces"]
    assert "Wo ist mein Fahrrad?" in agent_view["html"] and "我的自行车在哪里？" in agent_view["html"]
    assert by_id[True][reply.pk]["translation"]["text"] == "Ihr Fahrrad kommt morgen."  # what the customer got

    customer_view = by_id[False][reply.pk]
    assert customer_view["translation"]["replaces"] and customer_view["translation"]["source_language"] == "zh-hans"
    assert "Ihr Fahrrad kommt morgen." in customer_view["html"]
    assert "<details" in customer_view["html"] and "您的自行车明天到。" in customer_view["html"]  # the original
    customer_bytes = json.dumps(with_language[False], ensure_ascii=False)
    assert "我的自行车在哪里" not in customer_bytes  # the agents' translation of the customer's own words
    assert "translation" not in by_id[False][question.pk]


def test_switched_off_nothing_is_sent_and_nothing_shown(llm, live, settings):
    settings.TRANSLATION = False
    question = customer_says(live, "Wo ist mein Fahrrad?")
    assert not translation.translate(question.pk, "zh-hans", "de")
    assert translation.fill_missing() == 0
    assert llm.requests == []
    assert not MessageTranslation.objects.exists()


@pytest.mark.parametrize(
    "step",
    [
        "hang",  # no answer within COPILOT_TIMEOUT_SECONDS
        "trickle",
        (500, {"error": "boom"}),
        (200, b"not json at all"),
        completion("Ich bin kein JSON"),  # a chat completion, but not the JSON asked for
        completion(json.dumps({"language": "zh-hans"})),  # no translation in it
        completion(json.dumps({"language": "de", "translation": "Wo ist mein Fahrrad?"})),  # said another language
        completion(json.dumps({"language": "zh-hans", "translation": "Where is my bike?"})),  # claims zh, no Han
    ],
    ids=["timeout", "trickle", "500", "not-json", "prose", "no-translation", "wrong-language", "wrong-script"],
)
def test_a_failure_leaves_the_original_and_a_missing_mark_then_a_retry_fills_it(llm, live, settings, step):
    settings.AGENT_LANGUAGES = ["en", "zh-hans"]
    llm.script = [step]
    question = customer_says(live, "Wo ist mein Fahrrad?")
    assert not translation.translate(question.pk, "zh-hans", "de")
    assert translations_of(question) == {"zh-hans": ""}  # missing, for agents and the retry to see
    llm.release.set()  # let a held request go before the retry

    llm.script = [answer("我的自行车在哪里？", "zh-hans"), answer("Where is my bike?", "en")]
    assert translation.fill_missing() == 2  # the empty row, then the English one never asked for
    assert translations_of(question) == {"zh-hans": "我的自行车在哪里？", "en": "Where is my bike?"}
    assert Message.objects.filter(session=live, role=Message.Role.USER).count() == 1  # nothing doubled
    assert translation.fill_missing() == 0


def test_a_429_pauses_every_call_until_retry_after(llm, live):
    llm.script = [(429, {"error": "slow down"}, {"Retry-After": "120"})]
    question = customer_says(live, "Wo ist mein Fahrrad?")
    assert not translation.translate(question.pk, "zh-hans", "de")
    assert translation.paused()
    assert not translation.translate(question.pk, "en", "de")
    assert translation.fill_missing() == 0
    assert len(llm.requests) == 1  # nothing was asked while paused
    assert translations_of(question) == {"zh-hans": "", "en": ""}  # kept for the retry, source language and all
    translation.resume()  # as when the time has passed
    words = {"zh-hans": "我的自行车在哪里？", "en": "Where is my bike?"}

    def answering(body: dict) -> dict:  # the two rows are tried in either order
        target = re.search(r'"language": "([^"]+)"', body["messages"][0]["content"]).group(1)
        return answer(words[target], target)

    llm.responder = answering
    assert translation.fill_missing() == 2
    assert translations_of(question) == {"zh-hans": "我的自行车在哪里？", "en": "Where is my bike?"}


def test_two_jobs_for_one_translation_store_it_once(llm, live):
    """The row is filled by a conditional update: a second result does nothing."""
    llm.script = [answer("我的自行车在哪里？", "zh-hans")]
    question = customer_says(live, "Wo ist mein Fahrrad?")
    assert translation.translate(question.pk, "zh-hans", "de")
    row = MessageTranslation.objects.get(message=question)
    assert not conversations.add_translation(question, MessageTranslation(pk=row.pk, message=question), text="其他")
    assert translations_of(question) == {"zh-hans": "我的自行车在哪里？"}


@pytest.mark.parametrize(
    "text, language, expected",
    [
        ("我的自行车在哪里？", "zh-hans", True),
        ("Where is my bike?", "zh-hans", False),
        ("我的自行车在哪里？", "de", False),
        ("Wo ist mein Fahrrad? UK22080", "de", True),
        ("OK", "zh-hans", True),  # too short to tell
    ],
)
def test_the_script_check(text, language, expected):
    assert translation.in_script_of(text, language) is expected


def test_code_fenced_json_is_accepted():
    fenced = '```json\n{"language": "de", "translation": "Hallo"}\n```'
    assert translation.checked_translation(fenced, "de") == "Hallo"


def test_a_full_background_pool_turns_jobs_away_and_the_retry_makes_them_up(llm, live, monkeypatch):
    """A slow LLM cannot grow the queue without bound: past MAX_PENDING_JOBS a job is
    skipped (the message is untouched), and the periodic retry translates it later."""
    from fiido import background

    monkeypatch.setattr(background, "MAX_PENDING_JOBS", 0)
    assert background.submit(print, "never") is None
    question = customer_says(live, "Wo ist mein Fahrrad?")
    assert not MessageTranslation.objects.filter(message=question).exists()
    llm.script = [answer("Where is my bike?", "en"), answer("我的自行车在哪里？", "zh-hans")]
    assert translation.fill_missing() == 2


def test_a_resumed_stream_is_sent_the_translations_it_may_have_missed(llm, live, agent_user):
    """Notices are not in the log: a stream resuming with Last-Event-ID gets the
    stored translations of the last messages again, each side only its own."""
    llm.script = [answer("我的自行车在哪里？", "zh-hans"), answer("Ihr Fahrrad kommt morgen.", "de")]
    question = customer_says(live, "Wo ist mein Fahrrad?")
    reply = agent_says(live, agent_user, "您的自行车明天到。")
    assert translation.translate(question.pk, "zh-hans", "de")
    assert translation.translate(reply.pk, "de", "zh-hans")
    live.refresh_from_db()

    def notices(language: str, for_agents: bool) -> list[tuple[int, str]]:
        frames, _, _ = selectors.stream_opening(live.pk, live.last_seq, language, for_agents=for_agents)
        events = [json.loads(frame.decode().split("data: ", 1)[1]) for frame in frames]
        return [(e["message"]["id"], e["message"]["translation"]["text"]) for e in events if e["type"] == "translation"]

    assert notices("zh-hans", True) == [(question.pk, "我的自行车在哪里？"), (reply.pk, "Ihr Fahrrad kommt morgen.")]
    assert notices("de", False) == [(reply.pk, "Ihr Fahrrad kommt morgen.")]


def test_erasing_a_conversation_erases_its_translations_and_summary(llm, live, agent_user):
    from chatbot.models import ConversationSummary

    llm.script = [answer("我的自行车在哪里？", "zh-hans")]
    question = customer_says(live, "Wo ist mein Fahrrad?")
    assert translation.translate(question.pk, "zh-hans", "de")
    ConversationSummary.objects.create(session=live, text="x", upto_seq=1)
    conversations.purge(live)
    assert not MessageTranslation.objects.exists() and not ConversationSummary.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_sending_returns_before_the_llm_answers_and_the_pool_stores_the_translations(llm, agent_user):
    """The send commits (and publishes) and returns; the pool's threads ask the
    LLM afterwards. The server holds every request until the test lets it
    answer, so the send cannot have waited for one."""
    import threading

    from fiido import background

    session = conversations.start(language="de")
    conversations.escalate(session, reason="Mensch bitte")
    conversations.take_over(session, agent=agent_user)
    go = threading.Event()
    words = {"zh-hans": "我的自行车在哪里？", "en": "Where is my bike?"}

    def slow(body: dict) -> dict:
        go.wait(10)
        target = re.search(r'"language": "([^"]+)"', body["messages"][0]["content"]).group(1)
        return answer(words[target], target)

    llm.responder = slow
    question = customer_says(session, "Wo ist mein Fahrrad?")  # returns while the LLM holds its answers
    assert translations_of(question) in ({}, {"en": ""}, {"zh-hans": ""}, {"en": "", "zh-hans": ""})
    go.set()
    assert background.wait_idle()
    assert translations_of(question) == words


@pytest.mark.django_db(transaction=True)
def test_the_periodic_retry_runs_its_round_on_the_background_pool_one_at_a_time(llm, agent_user, monkeypatch):
    """Periodic jobs run on the threads streams use: the retry only hands its
    round to the background pool, and skips while a round is still running."""
    import threading

    from fiido import background

    session = conversations.start(language="de")
    conversations.escalate(session, reason="Mensch bitte")
    conversations.take_over(session, agent=agent_user)
    llm.script = [(500, {"error": "boom"}), (500, {"error": "boom"})]
    question = customer_says(session, "Wo ist mein Fahrrad?")
    assert background.wait_idle()
    assert translations_of(question) == {"en": "", "zh-hans": ""}

    asked_from: list[str] = []  # the threads that called the LLM
    ask = translation.ask

    def ask_and_note_the_thread(*args, **kwargs):
        asked_from.append(threading.current_thread().name)
        return ask(*args, **kwargs)

    monkeypatch.setattr(translation, "ask", ask_and_note_the_thread)
    words = {"zh-hans": "我的自行车在哪里？", "en": "Where is my bike?"}

    def answering(body: dict) -> dict:  # the two rows are tried in either order
        target = re.search(r'"language": "([^"]+)"', body["messages"][0]["content"]).group(1)
        return answer(words[target], target)

    llm.responder = answering
    with translation._filling:  # a round is running: the next one skips
        translation.retry_missing()
        assert background.wait_idle()
    assert asked_from == []
    translation.retry_missing()
    assert background.wait_idle()
    assert translations_of(question) == words
    assert asked_from and all(name.startswith("fiido-background") for name in asked_from)
