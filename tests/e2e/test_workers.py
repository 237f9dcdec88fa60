"""Real daphne workers sharing one Redis: events cross processes, streams resume
on another worker, and nothing is lost or repeated when Redis goes away."""

from __future__ import annotations

import httpx
import pytest

from tests.support import SSEReader, agent, customer, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def contents(reader: SSEReader) -> list[str]:
    return [m["content"] for m in reader.messages()]


def assert_clean(reader: SSEReader) -> None:
    """Ids strictly increase on a stream, and no message shows twice."""
    ids = reader.ids()
    assert ids == sorted(set(ids)), ids
    shown = [m["id"] for m in reader.messages()]
    assert len(shown) == len(set(shown)), shown


def wait_for_layer(workers, state: str, timeout: float) -> None:
    """Wait until every worker's /healthz reports the channel layer as ``state``."""
    for worker in workers:
        wait_until(
            lambda w=worker: httpx.get(f"{w.url}/healthz").json()["channel_layer"] == state,
            timeout=timeout,
            what=f"healthz to report {state}",
        )


def stream(worker, name: str, visitor, **headers) -> SSEReader:
    return SSEReader(f"{worker.url}/api/sessions/{name}/events", cookies=visitor.client.cookies, headers=headers)


def test_message_posted_on_one_worker_reaches_a_stream_on_the_other(workers, redis_url):
    first, second = workers(2, REDIS_URL=redis_url)
    visitor, name = customer(first.url)
    reader = stream(second, name, visitor).wait_connected()
    try:
        history = reader.wait_for(lambda r: r.of_type("history"))[0]
        assert [m["role"] for m in history["messages"]] == ["bot"]
        assert reader.events[1]["id"] == "1"
        response = visitor.post(f"/api/sessions/{name}/messages", {"content": "Hello from worker one"})
        assert response.status_code == 201
        reply = response.json()["reply"]
        reader.wait_for(lambda r: reply["id"] in [m["id"] for m in r.messages()], what="the bot's reply")
        assert contents(reader) == [history["messages"][0]["content"], "Hello from worker one", reply["content"]]
        assert reader.ids() == [1, 2, 3]
        assert_clean(reader)
    finally:
        reader.close()


def test_a_status_change_reaches_the_queue_stream_on_the_other_worker(workers, redis_url, agent_user):
    first, second = workers(2, REDIS_URL=redis_url)
    desk = agent(second.url, "alice", "alice-password")
    queue = SSEReader(f"{second.url}/workbench/api/events", cookies=desk.client.cookies).wait_connected()
    try:
        assert queue.wait_for(lambda r: r.of_type("queue"), what="the queue snapshot")
        visitor, name = customer(first.url)
        visitor.post(f"/api/sessions/{name}/escalate", {"reason": "A person, please"})
        change = queue.wait_for(
            lambda r: [s for s in r.of_type("status") if s["session_name"] == name], what="the escalation"
        )[0]
        assert change["status"] == "pending_manual" and change["previous"] == "bot_active"
        visitor.post(f"/api/sessions/{name}/messages", {"content": "Anyone there?"})
        message = queue.wait_for(
            lambda r: [m for m in r.of_type("message") if m["session_name"] == name], what="the customer message"
        )[0]
        assert message["message"]["content"] == "Anyone there?"
        assert all(e["id"] is None for e in queue.events)  # the queue stream is state, not a log
    finally:
        queue.close()


def test_resume_on_the_other_worker_sends_exactly_the_missed_events(workers, redis_url, agent_user):
    first, second = workers(2, REDIS_URL=redis_url)
    visitor, name = customer(first.url)
    visitor.post(f"/api/sessions/{name}/escalate")
    desk = agent(first.url, "alice", "alice-password")
    desk.post(f"/workbench/api/sessions/{name}/takeover")
    reader = stream(first, name, visitor).wait_connected()
    last_seen = reader.wait_for(lambda r: r.of_type("history"))[0]["session"]["last_event_id"]
    reader.close()
    sent = [
        desk.post(f"/workbench/api/sessions/{name}/messages", {"content": f"missed {i}"}).json()["message"]
        for i in range(3)
    ]
    resumed = stream(second, name, visitor, **{"Last-Event-ID": str(last_seen)}).wait_connected()
    try:
        resumed.wait_for(lambda r: len(r.of_type("message")) >= 3, what="the three missed messages")
        assert not resumed.of_type("history")
        assert [m["content"] for m in resumed.messages()] == ["missed 0", "missed 1", "missed 2"]
        assert resumed.ids() == [m["seq"] for m in sent] == [last_seen + 1, last_seen + 2, last_seen + 3]
        live = desk.post(f"/workbench/api/sessions/{name}/messages", {"content": "live again"}).json()["message"]
        resumed.wait_for(lambda r: live["id"] in [m["id"] for m in r.messages()], what="the live message")
        assert_clean(resumed)
    finally:
        resumed.close()


def test_last_event_id_in_the_query_and_bad_ids_get_a_fresh_history(workers, redis_url):
    (worker,) = workers(1, REDIS_URL=redis_url)
    visitor, name = customer(worker.url)
    visitor.post(f"/api/sessions/{name}/messages", {"content": "one"})
    by_query = SSEReader(
        f"{worker.url}/api/sessions/{name}/events?last_event_id=1", cookies=visitor.client.cookies
    ).wait_connected()
    try:
        by_query.wait_for(lambda r: len(r.of_type("message")) == 2)
        assert by_query.ids() == [2, 3]
        assert not by_query.of_type("history")
    finally:
        by_query.close()
    for bad in ("abc", "99999", "-1"):
        fresh = stream(worker, name, visitor, **{"Last-Event-ID": bad}).wait_connected()
        try:
            history = fresh.wait_for(lambda r: r.of_type("history"))[0]
            assert [m["seq"] for m in history["messages"]] == [1, 2, 3]
            assert fresh.ids() == [3]
        finally:
            fresh.close()


def test_a_stream_for_someone_elses_session_is_refused(workers, redis_url):
    (worker,) = workers(1, REDIS_URL=redis_url)
    _, name = customer(worker.url)
    stranger, _ = customer(worker.url)
    refused = httpx.get(f"{worker.url}/api/sessions/{name}/events", cookies=stranger.client.cookies)
    assert refused.status_code == 404
    assert refused.json() == {"error": "Session not found."}
    anonymous = httpx.get(f"{worker.url}/workbench/api/sessions/{name}/events")
    assert anonymous.status_code == 401
    assert httpx.get(f"{worker.url}/workbench/api/events").status_code == 401
    customer_on_agent_stream = httpx.get(f"{worker.url}/workbench/api/events", cookies=stranger.client.cookies)
    assert customer_on_agent_stream.status_code == 401


def test_heartbeats_arrive_at_the_configured_interval(workers, redis_url):
    (worker,) = workers(1, REDIS_URL=redis_url, SSE_HEARTBEAT_SECONDS="1")
    visitor, name = customer(worker.url)
    reader = stream(worker, name, visitor).wait_connected()
    try:
        reader.wait_for(lambda r: len(r.of_type("heartbeat")) >= 3, timeout=20, what="three heartbeats")
        assert all(e["id"] is None for e in reader.events if e["data"]["type"] == "heartbeat")
        assert reader.of_type("heartbeat")[0]["at"].endswith("Z")
    finally:
        reader.close()


def test_without_redis_one_process_holds_the_whole_conversation(workers, agent_user):
    (worker,) = workers(1)
    health = httpx.get(f"{worker.url}/healthz").json()
    assert health == {"database": "ok", "channel_layer": "in-memory"}
    visitor, name = customer(worker.url)
    desk = agent(worker.url, "alice", "alice-password")
    customer_view = stream(worker, name, visitor).wait_connected()
    agent_view = SSEReader(
        f"{worker.url}/workbench/api/sessions/{name}/events", cookies=desk.client.cookies
    ).wait_connected()
    try:
        visitor.post(f"/api/sessions/{name}/escalate")
        desk.post(f"/workbench/api/sessions/{name}/takeover")
        desk.post(f"/workbench/api/sessions/{name}/messages", {"content": "Alice here"})
        visitor.post(f"/api/sessions/{name}/messages", {"content": "Thanks Alice"})
        for view in (customer_view, agent_view):
            view.wait_for(lambda r: "Thanks Alice" in contents(r), what="the whole conversation")
            assert contents(view)[-3:] == ["Alice has joined the chat", "Alice here", "Thanks Alice"]
            assert [s["status"] for s in view.of_type("status")] == ["pending_manual", "manual_live"]
            assert_clean(view)
    finally:
        customer_view.close()
        agent_view.close()


def test_redis_outage_loses_nothing_and_live_delivery_comes_back(workers, redis_server, agent_user):
    """Writes succeed while Redis is down, streams catch up from the database,
    and live delivery returns by itself when Redis does."""
    first, second = workers(2, REDIS_URL=redis_server.url, SSE_HEARTBEAT_SECONDS="60")
    visitor, name = customer(first.url)
    visitor.post(f"/api/sessions/{name}/escalate")
    desk = agent(first.url, "alice", "alice-password")
    desk.post(f"/workbench/api/sessions/{name}/takeover")
    reader = stream(second, name, visitor).wait_connected()
    try:
        say = lambda text: desk.post(f"/workbench/api/sessions/{name}/messages", {"content": text})  # noqa: E731
        assert say("before").status_code == 201
        reader.wait_for(lambda r: "before" in contents(r))

        redis_server.stop()
        wait_for_layer((first, second), "degraded", timeout=15)
        during = [say(f"during {i}") for i in range(3)]
        assert [r.status_code for r in during] == [201, 201, 201]
        reader.wait_for(lambda r: "during 2" in contents(r), timeout=15, what="catch-up from the database")

        redis_server.start()
        wait_for_layer((first, second), "redis", timeout=20)
        after = [say(f"after {i}") for i in range(3)]
        assert [r.status_code for r in after] == [201, 201, 201]
        reader.wait_for(lambda r: "after 2" in contents(r), timeout=15, what="live delivery after recovery")
        tail = contents(reader)[-7:]
        assert tail == ["before", "during 0", "during 1", "during 2", "after 0", "after 1", "after 2"]
        assert_clean(reader)
        assert reader.ids() == list(range(reader.ids()[0], reader.ids()[-1] + 1))
    finally:
        reader.close()
    warnings = first.output().count("Channel layer unreachable")
    assert warnings == 1, first.output()[-3000:]
