"""Stream caps (fiido/realtime/caps.py) on a real worker: a visitor may hold a
few streams of a conversation, an address a bounded number in all; over a cap
a new stream is refused with 429 before it reads anything."""

from __future__ import annotations

import httpx
import pytest

from tests.support import SSEReader, agent, customer, wait_until

pytestmark = [pytest.mark.e2e]


def open_stream(worker, visitor, name: str, address: str | None = None) -> SSEReader:
    headers = {"X-Forwarded-For": address} if address else None
    return SSEReader(f"{worker.url}/api/sessions/{name}/events", cookies=visitor.client.cookies, headers=headers)


def refused(reader: SSEReader) -> bool:
    reader.wait_for(lambda r: r.status is not None, what="the response")
    return reader.status == 429


def test_one_visitor_gets_a_few_streams_of_a_conversation_and_an_address_a_few_in_all(workers, record):
    (worker,) = workers(
        1, SSE_MAX_STREAMS_PER_CONVERSATION="2", SSE_MAX_STREAMS_PER_ADDRESS="3", TRUSTED_PROXIES="127.0.0.1"
    )
    visitor, name = customer(worker.url)
    opened = [open_stream(worker, visitor, name, "203.0.113.1").wait_connected() for _ in range(2)]
    try:
        third = open_stream(worker, visitor, name, "203.0.113.1")
        assert refused(third)
        answer = httpx.get(
            f"{worker.url}/api/sessions/{name}/events",
            cookies=visitor.client.cookies,
            headers={"X-Forwarded-For": "203.0.113.1"},
        )
        assert answer.status_code == 429 and answer.json() == {"error": answer.json()["error"]}
        assert int(answer.headers["Retry-After"]) >= 1
        opened[0].close()
        # The lease is given back when the stream ends: a new one fits again.

        def reopened() -> SSEReader | None:
            reader = open_stream(worker, visitor, name, "203.0.113.1")
            if refused(reader):
                reader.close()
                return None
            return reader

        opened[0] = wait_until(reopened, timeout=15, what="the closed stream's lease to be given back")
        # The address's third stream (another conversation) fits; its fourth does not.
        other_visitor, other = customer(worker.url)
        opened.append(open_stream(worker, other_visitor, other, "203.0.113.1").wait_connected())
        assert refused(open_stream(worker, other_visitor, other, "203.0.113.1"))
        # Another address is counted apart.
        opened.append(open_stream(worker, other_visitor, other, "198.51.100.2").wait_connected())
        record(
            "stream-caps",
            per_conversation_default=5,
            per_address_default=20,
            per_login_default=30,
            tested_per_conversation=2,
            tested_per_address=3,
            refusal="429 JSON with Retry-After, before any database read",
        )
    finally:
        for reader in opened:
            reader.close()


def test_an_agents_streams_are_capped_per_login_not_per_office_address(workers, agent_user):
    (worker,) = workers(1, SSE_MAX_STREAMS_PER_CONVERSATION="1", SSE_MAX_STREAMS_PER_LOGIN="2")
    desk = agent(worker.url, "alice", "alice-password")
    _, name = customer(worker.url)
    queue = SSEReader(f"{worker.url}/workbench/api/events", cookies=desk.client.cookies).wait_connected()
    streams = [queue]
    try:
        assert refused(SSEReader(f"{worker.url}/workbench/api/events", cookies=desk.client.cookies))
        streams.append(
            SSEReader(
                f"{worker.url}/workbench/api/sessions/{name}/events", cookies=desk.client.cookies
            ).wait_connected()
        )
        _, another = customer(worker.url)
        assert refused(SSEReader(f"{worker.url}/workbench/api/sessions/{another}/events", cookies=desk.client.cookies))
        # Another agent on the same address has an allowance of their own.
        colleague = agent(worker.url, "alice", "alice-password")
        streams.append(
            SSEReader(f"{worker.url}/workbench/api/events", cookies=colleague.client.cookies).wait_connected()
        )
    finally:
        for reader in streams:
            reader.close()
