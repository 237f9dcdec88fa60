"""Two deployments on one Redis server: each has its own channel and cache
prefix (REDIS_PREFIX, derived from SECRET_KEY), so neither sees the other's
events or counts the other's requests."""

from __future__ import annotations

import uuid

import pytest

from tests.support import SSEReader, agent, customer, holds_for

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def test_two_deployments_sharing_a_redis_never_see_each_others_queues_or_counters(workers, redis_url, agent_user):
    env = {"REDIS_URL": redis_url, "SSE_HEARTBEAT_SECONDS": "30", "RATE_LIMIT_SESSIONS": "2/h"}
    # Fresh keys per run, so no counter of an earlier run (same hour, same Redis) meets this one.
    (shop_a,) = workers(1, SECRET_KEY=f"deployment-a-{uuid.uuid4().hex}", **env)
    (shop_b,) = workers(1, SECRET_KEY=f"deployment-b-{uuid.uuid4().hex}", **env)
    queues = {}
    for label, worker in (("a", shop_a), ("b", shop_b)):
        desk = agent(worker.url, "alice", "alice-password")
        queues[label] = SSEReader(f"{worker.url}/workbench/api/events", cookies=desk.client.cookies).wait_connected()
        queues[label].wait_for(lambda r: r.of_type("queue"), what="the queue snapshot")

    def saw(reader: SSEReader, name: str) -> bool:
        return any(event["session_name"] == name for event in reader.of_type("status"))

    try:
        visitor, name = customer(shop_a.url)
        assert visitor.post(f"/api/sessions/{name}/escalate", {"reason": "help"}).status_code == 200
        queues["a"].wait_for(lambda r: saw(r, name), what="A's queue to show the escalation live")
        # B shares the database in this test (its next snapshot would list the
        # conversation) but must not get A's live events.
        holds_for(lambda: not saw(queues["b"], name), seconds=3, what="B never hears A's event")
    finally:
        for reader in queues.values():
            reader.close()
    # A's allowance of new conversations (2/h from this address) is spent; B's is whole.
    customer(shop_a.url)
    assert customer(shop_b.url)[1]
    with pytest.raises(AssertionError, match="Too many new conversations"):
        customer(shop_a.url)
