"""Typing traffic on the delivery path: ``bench/typing_load.py [--conversations N] [--typing-rate T]``.

Run with the project's Python (``.venv/bin/python bench/typing_load.py``); it needs
a Redis (``REDIS_URL``, default redis://127.0.0.1:6379/0). It prepares N live
conversations (``bench/prepare.py``) in a scratch SQLite database, starts two
daphne workers, opens every conversation's customer stream on worker B and
posts on worker A, in four phases of ``--seconds`` each:

1. idle: streams open, nothing sent (the workers' CPU floor);
2. messages: agent messages at ``--message-rate`` per second, round robin;
3. messages + typing: the same, plus typing signals at ``--typing-rate`` per
   second, customers' and agents' in turn (an agent's reaches its customer's
   stream; a customer's goes to the agents' group);
4. typing only: typing signals alone.

It reports message delivery p50/p99 (post -> the customer's stream) in
phases 2 and 3, the workers' CPU per typing signal (phase 4 over phase 1),
how many typing events the streams received, and the database's row counts
before and after phase 4 (a typing signal writes nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
IN_FLIGHT: set[asyncio.Task] = set()  # posts sent without waiting (the rate is the sender's, not the server's)


def fire(coroutine) -> None:
    task = asyncio.ensure_future(coroutine)
    IN_FLIGHT.add(task)
    task.add_done_callback(IN_FLIGHT.discard)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def row_counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        tables = [row[0] for row in db.execute("select name from sqlite_master where type='table'")]
        return {table: db.execute(f'select count(*) from "{table}"').fetchone()[0] for table in tables}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Streams:
    """Every conversation's customer stream; records message latencies and typing events."""

    def __init__(self, base: str, lines: list[dict]) -> None:
        self.base = base
        self.lines = lines
        self.latencies: list[float] = []
        self.typing = 0
        self.phase = ""
        self.connected = 0
        self.tasks: list[asyncio.Task] = []

    async def start(self, client: httpx.AsyncClient) -> None:
        for line in self.lines:
            self.tasks.append(asyncio.ensure_future(self._read(client, line)))
            await asyncio.sleep(0.002)
        while self.connected < len(self.lines):
            await asyncio.sleep(0.2)

    async def _read(self, client: httpx.AsyncClient, line: dict) -> None:
        url = f"{self.base}/api/sessions/{line['session']}/events"
        async with client.stream("GET", url, headers={"Cookie": line["cookie"]}) as response:
            async for text in response.aiter_lines():
                if not text.startswith("data:"):
                    continue
                data = json.loads(text[5:])
                kind = data.get("type")
                if kind == "connected":
                    self.connected += 1
                elif kind == "message" and data["message"]["content"].startswith("bench "):
                    sent = float(data["message"]["content"].split()[2])
                    if self.phase:
                        self.latencies.append(time.time() - sent)
                elif kind == "typing":
                    self.typing += 1

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()


async def post_messages(client, base, lines, rate: float, seconds: float) -> int:
    sent, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        line = lines[sent % len(lines)]
        url = f"{base}/workbench/api/sessions/{line['session']}/messages"
        headers = {"Cookie": line["agent_cookie"], "X-CSRFToken": line["csrf"], "Content-Type": "application/json"}
        body = json.dumps({"content": f"bench {sent} {time.time()}"})
        fire(client.post(url, content=body, headers=headers))
        sent += 1
        await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
    return sent


async def post_typing(client, base, lines, rate: float, seconds: float) -> int:
    sent, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        line = lines[(sent // 2) % len(lines)]
        if sent % 2:
            url = f"{base}/workbench/api/sessions/{line['session']}/typing"
            cookie = line["agent_cookie"]
        else:
            url = f"{base}/api/sessions/{line['session']}/typing"
            cookie = f"{line['cookie']}; csrftoken={line['csrf']}"
        headers = {"Cookie": cookie, "X-CSRFToken": line["csrf"], "Content-Type": "application/json"}
        fire(client.post(url, content="{}", headers=headers))
        sent += 1
        await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
    return sent


async def measure(args, ports, pids, lines, database: Path) -> dict:
    a, b = (f"http://127.0.0.1:{port}" for port in ports)
    limits = httpx.Limits(max_connections=len(lines) + 200, max_keepalive_connections=200)
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(30, read=None), limits=limits) as readers,
        httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=100)) as writers,
    ):
        streams = Streams(b, lines)
        await streams.start(readers)
        results: dict = {"conversations": len(lines)}

        cpu = [cpu_seconds(pid) for pid in pids]
        await asyncio.sleep(args.seconds)
        idle = sum(cpu_seconds(pid) for pid in pids) - sum(cpu)

        streams.phase = "messages"
        sent = await post_messages(writers, a, lines, args.message_rate, args.seconds)
        await asyncio.sleep(2)
        plain = streams.latencies
        results["messages"] = {"sent": sent, "delivered": len(plain)}
        results["messages"] |= {"p50_ms": percentile(plain, 0.5) * 1000, "p99_ms": percentile(plain, 0.99) * 1000}

        streams.latencies = []
        messages, typing = await asyncio.gather(
            post_messages(writers, a, lines, args.message_rate, args.seconds),
            post_typing(writers, a, lines, args.typing_rate, args.seconds),
        )
        await asyncio.sleep(2)
        mixed = streams.latencies
        results["messages+typing"] = {"sent": messages, "typing_sent": typing, "delivered": len(mixed)}
        results["messages+typing"] |= {
            "p50_ms": percentile(mixed, 0.5) * 1000,
            "p99_ms": percentile(mixed, 0.99) * 1000,
        }

        streams.phase = ""
        before_rows = row_counts(database)
        typing_events = streams.typing
        cpu = [cpu_seconds(pid) for pid in pids]
        signals = await post_typing(writers, a, lines, args.typing_rate, args.seconds)
        await asyncio.sleep(1)
        busy = sum(cpu_seconds(pid) for pid in pids) - sum(cpu)
        after_rows = row_counts(database)
        results["typing_only"] = {
            "signals": signals,
            "cpu_ms_per_signal": (busy - idle) / signals * 1000,
            "typing_events_received": streams.typing - typing_events,
            "rows_changed": {t: after_rows[t] - before_rows[t] for t in after_rows if after_rows[t] != before_rows[t]},
        }
        results["idle_cpu_s"] = idle
        streams.stop()
        return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--message-rate", type=float, default=20.0)
    parser.add_argument("--typing-rate", type=float, default=200.0, help="signals per second, both sides")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="fiido-typing-"))
    database = work / "db.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "REDIS_PREFIX": f"bench-typing-{os.getpid()}",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "SECRET_KEY": "bench-only-not-secret",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "SSE_MAX_STREAMS_PER_CONVERSATION": "1000000",
        "SSE_MAX_STREAMS_PER_ADDRESS": "1000000",
        "SSE_MAX_STREAMS_PER_LOGIN": "1000000",
        "RATE_LIMIT_TYPING": "1000000/m",
    }
    python = sys.executable
    processes = []
    try:
        subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        out = work / "sessions.jsonl"
        command = [python, "bench/prepare.py", str(out), "--sessions", str(args.conversations)]
        subprocess.run(command, cwd=ROOT, env=env, check=True)
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        ports = (free_port(), free_port())
        for port in ports:
            log = open(work / f"daphne-{port}.log", "w")
            command = [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--access-log", "/dev/null"]
            processes.append(
                subprocess.Popen([*command, "fiido.asgi:application"], cwd=ROOT, env=env, stdout=log, stderr=log)
            )
        for port in ports:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"daphne :{port} did not start")
                time.sleep(0.2)
        results = asyncio.run(measure(args, ports, [p.pid for p in processes], lines, database))
        print(json.dumps(results, indent=2))
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
