"""Translation and the copilot on real workers, real Redis and a loopback LLM server: the
original arrives at once and its translation follows on the streams of the
side it is for; the customer never receives the agents' translation; with the
LLM server stopped the conversation goes on untranslated, nothing lost or
doubled, and the periodic retry fills the gaps once it is back. The take-over
summary and suggested replies reach agents' streams only."""

from __future__ import annotations

import json
import re

import pytest

from tests.chatbot.test_llm import ChatServer, completion
from tests.support import Browserless, SSEReader, agent

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

# What the loopback "LLM" knows: (original, target language) -> translation.
DICTIONARY = {
    ("Wo ist mein Fahrrad? Bestellung UK22080", "zh-hans"): "我的自行车在哪里？订单 UK22080",
    ("Wo ist mein Fahrrad? Bestellung UK22080", "en"): "Where is my bike? Order UK22080",
    ("您的自行车明天送到。", "de"): "Ihr Fahrrad wird morgen geliefert.",
    ("Danke, und der Akku?", "zh-hans"): "谢谢，那电池呢？",
    ("Danke, und der Akku?", "en"): "Thanks, and the battery?",
}
AGENTS_ONLY = [
    "我的自行车在哪里",
    "Where is my bike",
    "谢谢，那电池呢",
    "Thanks, and the battery",
    "客户想知道自行车在哪里",  # the summary
    "我马上为您查一下订单",  # the suggestion
]


SUMMARY = ["客户想知道自行车在哪里。", "订单 UK22080", "助手还没有回答。"]
SUGGESTION = "您好，我马上为您查一下订单。"


def translator(body: dict) -> dict:
    """Answer a translation request from the dictionary (the target is named in the
    instructions), and the copilot's summary and suggestion requests."""
    instructions = body["messages"][0]["content"]
    if "Summarise" in instructions:
        return completion(json.dumps({"lines": SUMMARY}, ensure_ascii=False))
    if "Suggest" in instructions:
        return completion(json.dumps({"suggestions": [SUGGESTION]}, ensure_ascii=False))
    target = re.search(r'"language": "([^"]+)"', body["messages"][0]["content"]).group(1)
    text = DICTIONARY[(body["messages"][-1]["content"], target)]
    return completion(json.dumps({"language": target, "translation": text}, ensure_ascii=False))


def translations(reader: SSEReader) -> dict[tuple[int, str], dict]:
    return {(e["message"]["id"], e["language"]): e["message"] for e in reader.of_type("translation")}


def test_translations_follow_the_originals_to_their_readers_only(workers, redis_server, agent_user):
    with ChatServer() as llm:
        llm.responder = translator
        first, second = workers(
            2,
            REDIS_URL=redis_server.url,
            SSE_HEARTBEAT_SECONDS="1",
            TRANSLATION="on",
            COPILOT="on",
            LLM_BASE_URL=llm.url,
            LLM_MODEL="fiido-test-model",
            COPILOT_TIMEOUT_SECONDS="2",
            TRANSLATION_RETRY_SECONDS="1",
        )
        alice = agent(first.url, "alice", "alice-password")
        alice.client.headers["Accept-Language"] = "zh-CN"
        visitor = Browserless(second.url)
        visitor.client.headers["Accept-Language"] = "de-DE"
        started = visitor.post("/api/sessions")
        assert started.status_code == 201, started.text
        name = started.json()["session_name"]
        assert visitor.post(f"/api/sessions/{name}/escalate", {"reason": "Mensch"}).status_code == 200

        customer_live = SSEReader(
            f"{second.url}/api/sessions/{name}/events",
            cookies=visitor.client.cookies,
            headers={"Accept-Language": "de-DE"},
        )
        alice_screen = SSEReader(
            f"{first.url}/workbench/api/sessions/{name}/events",
            cookies=alice.client.cookies,
            headers={"Accept-Language": "zh-CN"},
        )
        readers = [customer_live, alice_screen]
        try:
            for reader in readers:
                reader.wait_connected()

            # The take-over brings Alice a summary in Chinese, on her stream only.
            assert alice.post(f"/workbench/api/sessions/{name}/takeover").status_code == 200
            summary = alice_screen.wait_for(lambda r: r.of_type("summary"), what="the summary")[0]
            assert summary["summary"]["text"] == "\n".join(SUMMARY)
            assert alice.client.get(f"/workbench/api/sessions/{name}/summary").json()["summary"]["text"]

            # The customer's German: at once for Alice, its Chinese translation after it.
            sent = visitor.post(
                f"/api/sessions/{name}/messages", {"content": "Wo ist mein Fahrrad? Bestellung UK22080"}
            )
            assert sent.status_code == 201, sent.text
            question = sent.json()["message"]["id"]
            assert "translation" not in sent.json()["message"]
            alice_screen.wait_for(lambda r: (question, "zh-hans") in translations(r), what="the Chinese translation")
            shown = translations(alice_screen)[(question, "zh-hans")]
            assert "我的自行车在哪里？订单 UK22080" in shown["html"] and "Wo ist mein Fahrrad?" in shown["html"]
            # English-reading agents' copy rides the same agents' stream; the page shows its own language's only.
            alice_screen.wait_for(lambda r: (question, "en") in translations(r), what="the English translation")
            order = [
                e["data"]["type"]
                for e in alice_screen.events
                if e["data"]["type"] in {"message", "translation"} and e["data"]["message"]["id"] == question
            ]
            assert order[0] == "message"  # the original first

            # Alice's Chinese reaches the customer in German, marked, with the original behind it.
            reply = alice.post(f"/workbench/api/sessions/{name}/messages", {"content": "您的自行车明天送到。"})
            assert reply.status_code == 201, reply.text
            answer = reply.json()["message"]["id"]
            customer_live.wait_for(lambda r: (answer, "de") in translations(r), what="the German translation")
            german = translations(customer_live)[(answer, "de")]
            assert german["translation"]["replaces"] and "Ihr Fahrrad wird morgen geliefert." in german["html"]
            assert "<details" in german["html"] and "您的自行车明天送到。" in german["html"]
            alice_screen.wait_for(lambda r: (answer, "zh-hans") in translations(r), what="what the customer got")

            # Suggested replies reach the asking page (by request id); nothing is sent.
            asked = alice.post(f"/workbench/api/sessions/{name}/suggestions")
            assert asked.status_code == 202, asked.text
            request_id = asked.json()["request_id"]
            offered = alice_screen.wait_for(
                lambda r: [e for e in r.of_type("suggestions") if e["request_id"] == request_id], what="suggestions"
            )
            assert offered[0]["suggestions"] == [SUGGESTION]

            # The LLM server stops: the conversation goes on, untranslated; agents see it missing.
            llm.stop()
            sent = visitor.post(f"/api/sessions/{name}/messages", {"content": "Danke, und der Akku?"})
            assert sent.status_code == 201, sent.text
            later = sent.json()["message"]["id"]
            alice_screen.wait_for(lambda r: later in [m["id"] for m in r.messages()], what="the untranslated message")
            missing = alice_screen.wait_for(
                lambda r: translations(r).get((later, "zh-hans")), what="the missing mark", timeout=30
            )
            assert missing["translation"]["missing"]
            assert alice.post(f"/workbench/api/sessions/{name}/messages", {"content": "OK"}).status_code == 201
            customer_live.wait_for(lambda r: "OK" in [m["content"] for m in r.messages()], what="the reply")

            # Back: the periodic retry fills the gap in, live.
            llm.restart()
            alice_screen.wait_for(
                lambda r: not translations(r)[(later, "zh-hans")]["translation"]["missing"],
                what="the retried translation",
                timeout=30,
            )
            assert "谢谢，那电池呢？" in translations(alice_screen)[(later, "zh-hans")]["html"]

            # A fresh agent page and history carry the stored translations; the customer's carry none of the agents'.
            history = alice.client.get(f"/workbench/api/sessions/{name}").json()["messages"]
            by_id = {m["id"]: m for m in history}
            assert by_id[question]["translation"]["text"] == "我的自行车在哪里？订单 UK22080"
            assert by_id[later]["translation"]["text"] == "谢谢，那电池呢？"
            customer_history = visitor.client.get(f"/api/sessions/{name}", params={"history": "1"})
            assert "Ihr Fahrrad wird morgen geliefert." in customer_history.text
            page = visitor.client.get("/")

            # Nothing lost or doubled on either side.
            for reader in readers:
                contents = [m["content"] for m in reader.messages()]
                for text in (
                    "Wo ist mein Fahrrad? Bestellung UK22080",
                    "您的自行车明天送到。",
                    "Danke, und der Akku?",
                    "OK",
                ):
                    assert contents.count(text) == 1, (text, contents)
            # Not one byte of the agents' translations on any customer path.
            for body in (customer_live.received(), customer_history.text, page.text):
                for text in AGENTS_ONLY:
                    assert text not in body and json.dumps(text)[1:-1] not in body
        finally:
            for reader in readers:
                reader.close()
