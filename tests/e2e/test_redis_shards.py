"""Two Redis servers for fan-out: the workers' channel layer spreads the
conversations' groups over both (``REDIS_URL`` as a comma list). Every message
reaches every stream once; while one server is down, only the conversations
it carries fall back to the database (the workers' ``/metrics`` count their
catch-ups), and the others stay live."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fiido.realtime.groups import session_group
from fiido.realtime.shards import shard_of
from tests.support import RedisServer, SSEReader, agent, customer, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

TOKEN = "shard-test-token"


def metric(worker, name: str) -> float:
    """The sum of a metric's samples on one worker."""
    text = httpx.get(f"{worker.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


def shards_of(urls: list[str], prefix: str, names: list[str]) -> dict[str, int]:
    """Where the workers' layer puts each conversation's group: the same layer, asked here."""
    from channels_redis.pubsub import RedisPubSubChannelLayer

    async def ask() -> dict[str, int]:
        layer = RedisPubSubChannelLayer(hosts=[{"address": url} for url in urls], prefix=prefix)
        return {name: shard_of(layer, session_group(name)) for name in names}

    return asyncio.run(ask())


@pytest.fixture
def two_redis():
    servers = [RedisServer().start(), RedisServer().start()]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_two_redis_servers_share_the_groups_and_losing_one_degrades_only_its_own(
    workers, two_redis, agent_user, record
):
    prefix = f"shards-{uuid.uuid4().hex[:8]}"
    urls = [server.url for server in two_redis]
    first, second = workers(
        2, REDIS_URL=",".join(urls), REDIS_PREFIX=prefix, SSE_HEARTBEAT_SECONDS="600", METRICS_TOKEN=TOKEN
    )
    desk = agent(first.url, "alice", "alice-password")
    sessions: list[tuple[object, str]] = []
    placed: dict[str, int] = {}
    while sorted(placed.values()).count(0) < 2 or sorted(placed.values()).count(1) < 2:
        visitor, name = customer(first.url)
        visitor.post(f"/api/sessions/{name}/escalate")
        assert desk.post(f"/workbench/api/sessions/{name}/takeover").status_code == 200
        sessions.append((visitor, name))
        placed.update(shards_of(urls, prefix, [name]))
    readers = [
        (name, SSEReader(f"{worker.url}/api/sessions/{name}/events", cookies=visitor.client.cookies))
        for visitor, name in sessions
        for worker in (first, second)
    ]
    for _, reader in readers:
        reader.wait_connected(timeout=30)
        reader.wait_for(lambda r: r.of_type("history"), what="the opening history")

    sent: dict[str, list[tuple[int, float, str]]] = {name: [] for _, name in sessions}
    count = [0]

    def say(name: str, phase: str) -> None:
        worker = (first, second)[count[0] % 2]
        count[0] += 1
        at = time.time()
        response = desk.post(
            f"/workbench/api/sessions/{name}/messages", {"content": f"{phase} {count[0]}"}, desk.at(worker.url)
        )
        assert response.status_code == 201, response.text
        sent[name].append((response.json()["message"]["id"], at, phase))

    def arrived(names) -> None:
        for name, reader in readers:
            if name in names:
                expected = {message_id for message_id, _, _ in sent[name]}
                reader.wait_for(lambda r, e=expected: e <= {m["id"] for m in r.messages()}, timeout=30)

    def catch_ups() -> float:
        return metric(first, "fiido_catch_ups_total") + metric(second, "fiido_catch_ups_total")

    on = {shard: [name for name, where in placed.items() if where == shard] for shard in (0, 1)}
    try:
        for name in placed:
            say(name, "both-up")
        arrived(placed)

        two_redis[1].stop()
        for worker in (first, second):
            wait_until(
                lambda w=worker: httpx.get(f"{w.url}/healthz").json()["channel_layer"] == "degraded",
                timeout=15,
                what="the hub to see the second server gone",
            )
        wait_until(lambda: metric(first, "fiido_layer_shard_up") == 1, timeout=15, what="shard 1 down in /metrics")
        before = catch_ups()
        for name in on[0]:
            say(name, "live-while-other-down")
        arrived(on[0])
        assert catch_ups() == before, "the conversations on the server that is up stayed live"
        for name in on[1]:
            say(name, "polled-while-down")
        arrived(on[1])
        assert catch_ups() > before, "the conversations on the lost server caught up from the database"

        two_redis[1].start()
        for worker in (first, second):
            wait_until(
                lambda w=worker: httpx.get(f"{w.url}/healthz").json()["channel_layer"] == "redis",
                timeout=20,
                what="the hub back on both servers",
            )
        for name in placed:
            say(name, "both-up-again")
        arrived(placed)

        worst: dict[str, float] = {}
        for name, reader in readers:
            shown = [m["id"] for m in reader.messages()]
            assert len(shown) == len(set(shown)), "a message was shown twice"
            assert reader.ids() == sorted(set(reader.ids()))
            arrivals = reader.arrivals()
            for message_id, at, phase in sent[name]:
                worst[phase] = max(worst.get(phase, 0.0), arrivals[message_id] - at)
        published = metric(first, "fiido_events_published_total") + metric(second, "fiido_events_published_total")
        delivered = metric(first, "fiido_events_delivered_total") + metric(second, "fiido_events_delivered_total")
    finally:
        for _, reader in readers:
            reader.close()
    record(
        "redis-shard-lost",
        workers=2,
        redis_servers=2,
        conversations={"on server 0": len(on[0]), "on server 1": len(on[1])},
        streams=len(readers),
        messages_sent=sum(len(v) for v in sent.values()),
        lost=0,
        duplicated=0,
        worst_delay_seconds={phase: round(seconds, 2) for phase, seconds in worst.items()},
        events_published=int(published),
        live_deliveries=int(delivered),
    )
