"""Signals that are not events, on real workers sharing Redis: someone typing,
and a waiting customer's place in the queue. Neither is stored, numbered or
replayed; both reach the right streams, and only those, across workers."""

from __future__ import annotations

import pytest

from chatbot.models import ChatSession
from tests.support import SSEReader, agent, customer, holds_for

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def typing(reader: SSEReader, role: str) -> list[dict]:
    return [e for e in reader.of_type("typing") if e["role"] == role]


def positions(reader: SSEReader) -> list[int]:
    return [e["position"] for e in reader.of_type("queue_position")]


def unnumbered(reader: SSEReader, kind: str) -> bool:
    return all(e["id"] is None for e in reader.events if e["data"]["type"] == kind)


def test_typing_reaches_the_other_side_only_and_is_never_replayed(workers, redis_url, agent_user):
    first, second = workers(2, REDIS_URL=redis_url)
    visitor, name = customer(first.url)
    desk = agent(second.url, "alice", "alice-password")
    customer_stream = SSEReader(f"{second.url}/api/sessions/{name}/events", cookies=visitor.client.cookies)
    agent_stream = SSEReader(f"{first.url}/workbench/api/sessions/{name}/events", cookies=desk.client.cookies)
    readers = [customer_stream, agent_stream]
    try:
        for reader in readers:
            reader.wait_connected()
        assert visitor.post(f"/api/sessions/{name}/typing").status_code == 204
        signal = agent_stream.wait_for(lambda r: typing(r, "user"), what="the customer's typing")[0]
        assert signal == {"type": "typing", "session_name": name, "role": "user", "name": ""}

        visitor.post(f"/api/sessions/{name}/escalate", {"reason": "a person"})
        assert desk.post(f"/workbench/api/sessions/{name}/takeover").status_code == 200
        assert desk.post(f"/workbench/api/sessions/{name}/typing", {"text": "not for the customer"}).status_code == 204
        signal = customer_stream.wait_for(lambda r: typing(r, "agent"), what="the agent's typing")[0]
        assert signal == {"type": "typing", "session_name": name, "role": "agent", "name": "Alice"}
        # A fence: the agent's next message reaches both; by then neither side got its own signal.
        assert desk.post(f"/workbench/api/sessions/{name}/messages", {"content": "Hello"}).status_code == 201
        for reader in readers:
            reader.wait_for(lambda r: "Hello" in [m["content"] for m in r.messages()])
        assert typing(agent_stream, "agent") == [] and typing(customer_stream, "user") == []
        assert "not for the customer" not in customer_stream.received()
        assert unnumbered(customer_stream, "typing") and unnumbered(agent_stream, "typing")

        # Resumed from the start: every event again, and no typing.
        resumed = SSEReader(
            f"{first.url}/api/sessions/{name}/events", cookies=visitor.client.cookies, headers={"Last-Event-ID": "0"}
        )
        readers.append(resumed)
        resumed.wait_for(lambda r: "Hello" in [m["content"] for m in r.messages()])
        assert resumed.of_type("typing") == []
    finally:
        for reader in readers:
            reader.close()


def test_typing_refusals(workers, redis_url, agent_user, other_agent):
    (worker,) = workers(1, REDIS_URL=redis_url)
    visitor, name = customer(worker.url)
    stranger, _ = customer(worker.url)
    alice = agent(worker.url, "alice", "alice-password")
    bob = agent(worker.url, "bob", "bob-password")
    assert stranger.post(f"/api/sessions/{name}/typing").status_code == 404
    assert visitor.post(f"/api/sessions/{name}/typing", {"text": 5}).status_code == 400
    assert alice.post(f"/workbench/api/sessions/{name}/typing").status_code == 409  # still with the bot
    visitor.post(f"/api/sessions/{name}/escalate")
    alice.post(f"/workbench/api/sessions/{name}/takeover")
    refused = bob.post(f"/workbench/api/sessions/{name}/typing")
    assert refused.status_code == 403 and "error" in refused.json()
    assert alice.post("/workbench/api/sessions/nobody-here-123/typing").status_code == 404
    visitor.post(f"/api/sessions/{name}/close")
    closed = visitor.post(f"/api/sessions/{name}/typing")
    assert closed.status_code == 409 and "closed" in closed.json()["error"]
    assert alice.post(f"/workbench/api/sessions/{name}/typing").status_code == 409


def test_a_waiting_customer_is_told_their_place_as_it_moves(workers, redis_url, agent_user):
    first, second = workers(2, REDIS_URL=redis_url)
    waiting = [customer((first, second)[i % 2].url) for i in range(3)]
    for visitor, name in waiting:
        assert visitor.post(f"/api/sessions/{name}/escalate").status_code == 200
    (ann, ann_name), (_bea, bea_name), (cid, cid_name) = waiting
    # Cid's stream is on the first worker; every change below is made on the second.
    cid_stream = SSEReader(f"{first.url}/api/sessions/{cid_name}/events", cookies=cid.client.cookies)
    try:
        cid_stream.wait_for(lambda r: positions(r) == [3], what="the first position")
        assert cid.client.get(f"{first.url}/api/sessions/{cid_name}").json()["queue_position"] == 3
        desk = agent(second.url, "alice", "alice-password")
        assert ann.post(f"/api/sessions/{ann_name}/cancel-escalation", client=ann.at(second.url)).status_code == 200
        cid_stream.wait_for(lambda r: positions(r) == [3, 2], what="moving up when Ann cancels")
        assert desk.post(f"/workbench/api/sessions/{bea_name}/takeover").status_code == 200
        cid_stream.wait_for(lambda r: positions(r) == [3, 2, 1], what="first when Bea is taken")
        # Changes behind Cid do not move Cid, and tell Cid nothing.
        late, late_name = customer(second.url)
        assert late.post(f"/api/sessions/{late_name}/escalate").status_code == 200
        holds_for(lambda: positions(cid_stream) == [3, 2, 1], seconds=1.5, what="no news for Cid")
        assert unnumbered(cid_stream, "queue_position")
        assert ChatSession.objects.get(name=cid_name).status == ChatSession.Status.PENDING_MANUAL
    finally:
        cid_stream.close()
