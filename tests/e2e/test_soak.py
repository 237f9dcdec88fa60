"""A seeded soak: 50 customers and 5 agents act at random on two workers,
legal and illegal actions mixed, and the invariants hold throughout."""

from __future__ import annotations

import concurrent.futures
import json
import os
import random
import threading
import uuid

import pytest

from chatbot.models import ChatSession, Event, Message
from tests.support import SSEReader, agent, customer

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

CUSTOMERS = 50
AGENTS = 5
ACTIONS = int(os.environ.get("FIIDO_SOAK_ACTIONS", "600"))
SEED = int(os.environ.get("FIIDO_SOAK_SEED", "20261125"))
ALLOWED_STATUSES = {200, 201, 400, 403, 404, 409}

# Legal transitions of DESIGN §2 (previous, new), with the agent's day's:
# joining a bot conversation, a transfer, a return to the queue.
TRANSITIONS = {
    ("bot_active", "pending_manual"),
    ("pending_manual", "manual_live"),
    ("manual_live", "bot_active"),
    ("pending_manual", "bot_active"),
    ("bot_active", "closed"),
    ("pending_manual", "closed"),
    ("manual_live", "closed"),
    ("bot_active", "manual_live"),
    ("manual_live", "manual_live"),
    ("manual_live", "pending_manual"),
}


def test_random_customers_and_agents_keep_every_invariant(workers, redis_url, django_user_model, record):
    from workbench.management.commands.create_agent import ensure_agent

    first, second = workers(2, REDIS_URL=redis_url, SSE_HEARTBEAT_SECONDS="5")
    for index in range(AGENTS):
        ensure_agent(f"agent{index}", f"agent{index}-password", first_name=f"Agent {index}")
    desks = [agent((first, second)[i % 2].url, f"agent{i}", f"agent{i}-password") for i in range(AGENTS)]
    people = [customer((first, second)[i % 2].url) for i in range(CUSTOMERS)]
    names = [name for _, name in people]
    streams = [
        SSEReader(
            f"{(second, first)[i % 2].url}/api/sessions/{name}/events", cookies=visitor.client.cookies
        ).wait_connected()
        for i, (visitor, name) in enumerate(people)
    ]
    agent_views = [
        SSEReader(
            f"{first.url}/workbench/api/sessions/{names[i]}/events", cookies=desks[i % AGENTS].client.cookies
        ).wait_connected()
        for i in range(10)
    ]

    rng = random.Random(SEED)
    plan = []
    for _ in range(ACTIONS):
        index = rng.randrange(CUSTOMERS)
        if rng.random() < 0.5:
            plan.append(("customer", index, rng.choice(["message", "message", "escalate", "cancel", "close"])))
        else:
            plan.append((rng.randrange(AGENTS), index, rng.choice(["takeover", "message", "release", "close"])))
    outcomes: list[tuple[str, int]] = []
    lock = threading.Lock()

    def act(step) -> None:
        who, index, action = step
        visitor, name = people[index]
        if who == "customer":
            path = {
                "message": f"/api/sessions/{name}/messages",
                "escalate": f"/api/sessions/{name}/escalate",
                "cancel": f"/api/sessions/{name}/cancel-escalation",
                "close": f"/api/sessions/{name}/close",
            }[action]
            client = visitor
        else:
            path = f"/workbench/api/sessions/{name}/{'messages' if action == 'message' else action}"
            client = desks[who]
        body = {"content": f"{who} says {uuid.uuid4().hex[:8]}", "client_id": str(uuid.uuid4())}
        response = client.post(path, body if action == "message" else {})
        with lock:
            outcomes.append((action, response.status_code))

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(act, plan))

    statuses = [status for _, status in outcomes]
    assert set(statuses) <= ALLOWED_STATUSES, sorted(set(statuses))
    assert 500 not in statuses

    for name in names:
        session = ChatSession.objects.get(name=name)
        # At most one agent at a time: the status log only ever makes legal moves.
        current = "bot_active"
        for payload in (
            Event.objects.filter(session=session, kind="status").order_by("seq").values_list("payload", flat=True)
        ):
            change = json.loads(payload)
            assert change["previous"] == current, (name, change)
            assert (change["previous"], change["status"]) in TRANSITIONS, change
            current = change["status"]
        assert current == session.status
        seqs = list(Event.objects.filter(session=session).order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))

    def check(reader: SSEReader, name: str) -> int:
        stored = set(Message.objects.filter(session__name=name).values_list("id", flat=True))
        reader.wait_for(lambda r: stored <= {m["id"] for m in r.messages()}, timeout=30, what=f"all of {name}")
        shown = [m["id"] for m in reader.messages()]
        assert len(shown) == len(set(shown)), f"a message shown twice on {name}"
        assert set(shown) == stored
        ids = reader.ids()
        assert ids == sorted(set(ids)), ids
        return len(shown)

    deliveries = sum(check(reader, name) for reader, name in zip(streams, names, strict=True))
    deliveries += sum(check(reader, names[i]) for i, reader in enumerate(agent_views))
    for reader in [*streams, *agent_views]:
        reader.close()
    record(
        "soak",
        customers=CUSTOMERS,
        agents=AGENTS,
        actions=len(outcomes),
        seed=SEED,
        refused=sum(1 for s in statuses if s >= 400),
        by_status={str(s): statuses.count(s) for s in sorted(set(statuses))},
        streams=len(streams) + len(agent_views),
        deliveries_checked=deliveries,
        lost=0,
        duplicated=0,
        server_errors=0,
    )
