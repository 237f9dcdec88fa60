"""Two machines, simulated: two supervisor groups, each with its own socket,
run directory and worker metrics ports, sharing one database and one Redis
Sentinel set. A customer on one machine and an agent on the other hold a
whole conversation while a worker is killed on each side and the Redis master
is killed too: nothing is lost or shown twice, and each worker answers its
own ``/metrics``."""

from __future__ import annotations

import os
import signal
import socket
import tempfile
import uuid

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import SSEReader, Supervisor, agent, customer, wait_until
from tests.support_redis import SentinelSet

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

TOKEN = "machines-metrics-token"


def two_free_ports() -> int:
    """A port p with p and p + 1 free (worker 0 and worker 1 of a machine)."""
    while True:
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port


class Following:
    """A stream that reconnects with Last-Event-ID when its worker dies, as a browser does."""

    def __init__(self, url: str, cookies) -> None:
        self.url, self.cookies = url, cookies
        self.readers = [SSEReader(url, cookies=cookies).wait_connected()]

    def keep_up(self) -> None:
        current = self.readers[-1]
        if current.error is not None or current.finished:
            ids = [i for reader in self.readers for i in reader.ids()]
            headers = {"Last-Event-ID": str(ids[-1])} if ids else {}
            self.readers.append(SSEReader(self.url, cookies=self.cookies, headers=headers))
            self.readers[-1].wait_for(lambda r: r.status is not None, what="the stream to reopen")

    def messages(self) -> list[dict]:
        self.keep_up()
        return [message for reader in self.readers for message in reader.messages()]

    def ids(self) -> list[int]:
        return [i for reader in self.readers for i in reader.ids()]

    def close(self) -> None:
        for reader in self.readers:
            reader.close()


def post(person, path: str, body: dict) -> dict:
    """Post as a client would: a connection that drops is retried with the same client_id."""
    body = {**body, "client_id": str(uuid.uuid4())} if "content" in body else body
    for _ in range(5):
        try:
            response = person.post(path, body)
        except httpx.TransportError:
            continue
        if response.status_code < 500:
            assert response.status_code in (200, 201), response.text
            return response.json()
    raise AssertionError(f"could not post to {path}")


def kill_a_streaming_worker(machine: Supervisor) -> None:
    pids = machine.pids()
    load = {
        pid: sum(1 for c in psutil.Process(pid).net_connections(kind="tcp") if c.laddr.port == machine.port and c.raddr)
        for pid in pids.values()
    }
    os.kill(max(load, key=load.get), signal.SIGKILL)


@pytest.fixture
def sentinels():
    started = SentinelSet().start()
    try:
        yield started
    finally:
        started.stop()


def test_a_conversation_across_two_machines_survives_worker_kills_and_a_redis_failover(
    transactional_db, sentinels, agent_user, record
):
    prefix = f"machines-{uuid.uuid4().hex[:8]}"
    machines = {}
    try:
        for label in ("a", "b"):
            machines[label] = Supervisor(
                2,
                "",
                run_dir=tempfile.mkdtemp(prefix=f"fiido-machine-{label}-"),
                **sentinels.env,
                REDIS_PREFIX=prefix,
                METRICS_PORT=str(two_free_ports()),
                METRICS_TOKEN=TOKEN,
            )
        for machine in machines.values():
            wait_until(lambda m=machine: len(m.pids()) == 2, timeout=60, what="two workers RUNNING")
            wait_until(
                lambda m=machine: on_redis(m),
                timeout=60,
                what="the machine to answer on Redis",
            )
        shop, desk_machine = machines["a"], machines["b"]

        visitor, name = customer(shop.url)
        desk = agent(desk_machine.url, "alice", "alice-password")
        customer_view = Following(f"{shop.url}/api/sessions/{name}/events", visitor.client.cookies)
        agent_view = Following(f"{desk_machine.url}/workbench/api/sessions/{name}/events", desk.client.cookies)
        views = (customer_view, agent_view)
        for view in views:
            view.readers[-1].wait_for(lambda r: r.of_type("history"), what="the opening history")

        posted: list[int] = []

        def customer_says(text: str) -> None:
            sent = post(visitor, f"/api/sessions/{name}/messages", {"content": text})
            posted.append(sent["message"]["id"])

        def agent_says(text: str) -> None:
            posted.append(post(desk, f"/workbench/api/sessions/{name}/messages", {"content": text})["message"]["id"])

        def everyone_has_everything() -> None:
            for view in views:
                wait_until(
                    lambda v=view: set(posted) <= {m["id"] for m in v.messages()}, timeout=60, what="every message"
                )

        customer_says("Where is my order UK22080?")
        post(visitor, f"/api/sessions/{name}/escalate", {"reason": "a person, please"})
        post(desk, f"/workbench/api/sessions/{name}/takeover", {})
        agent_says("Hello, Alice here")
        customer_says("Hi Alice")
        everyone_has_everything()

        kill_a_streaming_worker(shop)
        customer_says("after the shop's worker died")
        agent_says("still here")
        everyone_has_everything()

        kill_a_streaming_worker(desk_machine)
        agent_says("after the desk's worker died")
        customer_says("me too")
        everyone_has_everything()

        old = sentinels.kill_master()
        agent_says("while Redis fails over")
        customer_says("no problem")
        sentinels.wait_promoted(old)
        for machine in machines.values():
            wait_until(
                lambda m=machine: on_redis(m),
                timeout=60,
                what="the machine back on Redis",
            )
        agent_says("Redis is back")
        closed = post(desk, f"/workbench/api/sessions/{name}/close", {})
        everyone_has_everything()
        for view in views:
            wait_until(lambda v=view: v.ids() and v.ids()[-1] >= closed["last_event_id"], timeout=60, what="the close")

        for view in views:
            shown = [m["id"] for m in view.messages()]
            assert len(shown) == len(set(shown)), "a message was shown twice"
            assert view.ids() == sorted(set(view.ids())), view.ids()
            assert [m for m in view.messages() if m["role"] == "system"][-1]["content"].endswith("closed the chat")
        reconnects = {label: len(view.readers) - 1 for label, view in zip(("customer", "agent"), views, strict=True)}

        # Every worker, restarted ones included, answers its own /metrics on its own port.
        workers_seen = set()
        for machine in machines.values():
            wait_until(lambda m=machine: len(m.pids()) == 2, timeout=60, what="the killed worker restarted")
            base = int(machine.env["METRICS_PORT"])
            for number in range(2):
                url = f"http://127.0.0.1:{base + number}/metrics"
                text = wait_until(lambda u=url: _scrape(u), timeout=30, what=f"worker {number}'s metrics port")
                labels = {
                    sample.labels["worker"]
                    for family in text_string_to_metric_families(text)
                    for sample in family.samples
                }
                assert len(labels) == 1 and labels.pop().endswith(f"/worker{number}")
                workers_seen.add((machine.port, number))
        assert len(workers_seen) == 4
        record(
            "two-machines",
            machines=2,
            workers_per_machine=2,
            messages=len(posted),
            worker_kills=2,
            redis_failovers=1,
            stream_reconnects=reconnects,
            lost=0,
            duplicated=0,
        )
    finally:
        for machine in machines.values():
            machine.stop()
        for view in locals().get("views", ()):
            view.close()


def on_redis(machine: Supervisor) -> bool:
    try:
        return httpx.get(machine.url + "/healthz", timeout=5).json()["channel_layer"] == "redis"
    except httpx.HTTPError:
        return False


def _scrape(url: str) -> str | None:
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    except httpx.HTTPError:
        return None
    return response.text if response.status_code == 200 else None
