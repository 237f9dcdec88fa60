"""Redis Sentinel: a master, a replica and three Sentinels (Debian's
redis-server and redis-sentinel). The master is killed with ``kill -9`` under
traffic from two workers; Sentinel promotes the replica, the workers follow it
without a restart, and every message reaches every stream exactly once (the
layer's gap is made up from the database)."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest

from tests.support import SSEReader, agent, customer, wait_until
from tests.support_redis import SentinelSet

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


@pytest.fixture
def sentinels():
    started = SentinelSet().start()
    try:
        yield started
    finally:
        started.stop()


def layer_state(worker) -> str:
    try:
        return httpx.get(f"{worker.url}/healthz", timeout=5).json()["channel_layer"]
    except httpx.HTTPError:
        return "unreachable"


def test_the_master_dies_under_traffic_and_every_message_reaches_every_stream_once(
    workers, sentinels, agent_user, record
):
    first, second = workers(2, **sentinels.env, SSE_HEARTBEAT_SECONDS="30", REDIS_PREFIX=f"s-{uuid.uuid4().hex}")
    pids = [first.process.pid, second.process.pid]
    assert [layer_state(w) for w in (first, second)] == ["redis", "redis"]
    desk = agent(first.url, "alice", "alice-password")
    sessions = []
    for _ in range(6):
        visitor, name = customer(first.url)
        visitor.post(f"/api/sessions/{name}/escalate")
        assert desk.post(f"/workbench/api/sessions/{name}/takeover").status_code == 200
        sessions.append((visitor, name))
    readers = [
        (name, SSEReader(f"{worker.url}/api/sessions/{name}/events", cookies=visitor.client.cookies))
        for visitor, name in sessions
        for worker in (first, second)
    ]
    for _, reader in readers:
        reader.wait_connected(timeout=30)
        reader.wait_for(lambda r: r.of_type("history"), what="the opening history")

    sent: dict[str, list[tuple[int, float]]] = {name: [] for _, name in sessions}
    failures: list[str] = []
    stop = threading.Event()

    def publish() -> None:
        i = 0
        while not stop.is_set():
            _, name = sessions[i % len(sessions)]
            worker = (first, second)[i % 2]
            started = time.time()
            response = desk.post(
                f"/workbench/api/sessions/{name}/messages", {"content": f"load {i}"}, desk.at(worker.url)
            )
            if response.status_code == 201:
                sent[name].append((response.json()["message"]["id"], started))
            else:
                failures.append(f"{response.status_code} {response.text[:200]}")
            i += 1
            time.sleep(0.05)

    writer = threading.Thread(target=publish)
    writer.start()
    try:
        time.sleep(3)
        killed_at = time.monotonic()
        old = sentinels.kill_master()
        new = sentinels.wait_promoted(old)
        promoted_after = time.monotonic() - killed_at
        # The workers follow the new master by themselves.
        for worker in (first, second):
            wait_until(lambda w=worker: layer_state(w) == "redis", timeout=30, what="the worker back on Redis")
        time.sleep(3)
    finally:
        stop.set()
        writer.join()

    worst = 0.0
    try:
        for name, reader in readers:
            expected = {message_id for message_id, _ in sent[name]}
            reader.wait_for(lambda r, e=expected: e <= {m["id"] for m in r.messages()}, timeout=60, what="all")
            shown = [m["id"] for m in reader.messages()]
            assert len(shown) == len(set(shown)), "a message was shown twice"
            assert reader.ids() == sorted(set(reader.ids()))
            arrivals = reader.arrivals()
            worst = max([worst, *(arrivals[message_id] - at for message_id, at in sent[name])])
    finally:
        for _, reader in readers:
            reader.close()
    assert failures == []
    assert [first.process.pid, second.process.pid] == pids, "no worker was restarted"
    assert sentinels.master() == new

    record(
        "sentinel-failover",
        workers=2,
        streams=len(readers),
        messages_sent=sum(len(v) for v in sent.values()),
        deliveries=sum(len(sent[name]) for name, _ in readers),
        down_after_ms=sentinels.down_after_ms,
        kill_to_promotion_seconds=round(promoted_after, 2),
        lost=0,
        duplicated=0,
        failed_writes=len(failures),
        worst_delay_seconds=round(worst, 2),
    )
