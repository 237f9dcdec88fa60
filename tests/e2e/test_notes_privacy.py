"""Private notes on real workers: every agent's screen of the conversation gets
them live, across workers and through a Redis outage, and not one byte of a
note reaches the customer along any path a customer can read."""

from __future__ import annotations

import httpx
import pytest

from tests.support import SSEReader, agent, customer

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

SECRET = "zebra-7731 customer seems to be reselling"
OUTAGE_SECRET = "okapi-5120 written while Redis was down"


def notes(reader: SSEReader) -> list[str]:
    return [e["note"]["content"] for e in reader.of_type("note")]


def contents(reader: SSEReader) -> list[str]:
    return [m["content"] for m in reader.messages()]


def assert_never_shown(text: str, *received: str) -> None:
    for index, body in enumerate(received):
        assert body, f"customer path {index} received nothing: the check would prove nothing"
        # Any part of the note, in any encoding the page or stream might use.
        for fragment in (text, text.split()[0], text.encode("unicode_escape").decode()):
            assert fragment not in body, f"customer path {index} carried a note: {fragment!r}"


def test_notes_reach_every_agent_screen_and_no_customer_byte(workers, redis_server, agent_user, other_agent):
    first, second = workers(2, REDIS_URL=redis_server.url, SSE_HEARTBEAT_SECONDS="1")
    alice = agent(first.url, "alice", "alice-password")
    bob = agent(second.url, "bob", "bob-password")
    visitor, name = customer(first.url)
    assert visitor.post(f"/api/sessions/{name}/escalate", {"reason": "a person please"}).status_code == 200
    assert alice.post(f"/workbench/api/sessions/{name}/takeover").status_code == 200

    customer_live = SSEReader(f"{second.url}/api/sessions/{name}/events", cookies=visitor.client.cookies)
    alice_screen = SSEReader(f"{first.url}/workbench/api/sessions/{name}/events", cookies=alice.client.cookies)
    bob_screen = SSEReader(f"{second.url}/workbench/api/sessions/{name}/events", cookies=bob.client.cookies)
    bob_queue = SSEReader(f"{second.url}/workbench/api/events", cookies=bob.client.cookies)
    readers = [customer_live, alice_screen, bob_screen, bob_queue]
    try:
        for reader in readers:
            reader.wait_connected()

        # Live, across workers: written on the first, read on both.
        response = alice.post(f"/workbench/api/sessions/{name}/notes", {"content": f"{SECRET} @bob"})
        assert response.status_code == 201, response.text
        assert alice.post(f"/workbench/api/sessions/{name}/messages", {"content": "Let me check"}).status_code == 201
        customer_live.wait_for(lambda r: "Let me check" in contents(r), what="the reply after the note")
        for screen in (alice_screen, bob_screen):
            screen.wait_for(lambda r: notes(r) == [f"{SECRET} @bob"], what="the note on an agent's screen")
        mention = bob_queue.wait_for(lambda r: [a for a in r.of_type("alert") if a["kind"] == "mention"])
        assert mention[0]["session_name"] == name and mention[0]["by"] == "Alice"

        # Redis gone: the writes still land, the streams catch up from the
        # database at their heartbeats, and that catch-up is just as blind to notes.
        redis_server.stop()
        response = alice.post(f"/workbench/api/sessions/{name}/notes", {"content": OUTAGE_SECRET})
        assert response.status_code == 201, response.text
        assert alice.post(f"/workbench/api/sessions/{name}/messages", {"content": "Still here"}).status_code == 201
        customer_live.wait_for(lambda r: "Still here" in contents(r), timeout=30, what="the catch-up reply")
        for screen in (alice_screen, bob_screen):
            screen.wait_for(lambda r: OUTAGE_SECRET in notes(r), timeout=30, what="the note written in the outage")
        redis_server.start()

        # Resumed with Last-Event-ID from before both notes, on either worker.
        resumed = [
            SSEReader(
                f"{worker.url}/api/sessions/{name}/events",
                cookies=visitor.client.cookies,
                headers={"Last-Event-ID": "1"},
            )
            for worker in (first, second)
        ]
        readers += resumed
        for reader in resumed:
            reader.wait_for(lambda r: "Still here" in contents(r), what="the resumed stream to replay")
            assert contents(reader).count("Let me check") == 1

        # Every other door a customer has: the API with history, the chat page.
        with_history = visitor.client.get(f"/api/sessions/{name}", params={"history": "1"})
        assert with_history.status_code == 200 and "Still here" in with_history.text
        page = visitor.client.get("/")
        assert page.status_code == 200
        no_route = visitor.client.get(f"/api/sessions/{name}/notes")
        assert no_route.status_code == 404

        for secret in (SECRET, OUTAGE_SECRET):
            assert_never_shown(
                secret,
                customer_live.received(),
                *(reader.received() for reader in resumed),
                with_history.text,
                page.text,
                no_route.text,
            )
        # The agents saw each note once, in order, on both workers.
        for screen in (alice_screen, bob_screen):
            assert notes(screen) == [f"{SECRET} @bob", OUTAGE_SECRET]
        assert httpx.get(f"{first.url}/healthz").status_code == 200
    finally:
        for reader in readers:
            reader.close()
