"""S5, resume under load: streams drop mid-run and come back with ``Last-Event-ID``.

``resume.py --url TEMPLATE --publish-url TEMPLATE --vars sessions.jsonl ...``

Opens ``--streams`` SSE streams (stream ``i`` uses line ``i % len(vars)`` of
the JSON-lines file for its placeholders, so ``{session}`` and ``{cookie}``),
publishes ``--events`` messages round-robin over the distinct sessions at
``--rate``/s, and after ``--drop-after`` events closes a ``--drop-fraction``
of the streams. Each dropped stream waits ``--gap`` seconds (events keep
flowing meanwhile) and reconnects with the ``Last-Event-ID`` it last saw, as
a browser does. At the end every stream must hold every event of its session
exactly once.

Reported (one JSON line on stdout, like ``sse_load.py``): lost, duplicates,
live latency p50/p99, and the *catch-up time* of each reconnected stream: from
sending its reconnect request until it holds every event published before
that moment. Standard library only; loopback targets only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import secrets
import sys
import time
import uuid
from urllib.parse import urlsplit

MARKER = "RESUME:{run}:{seq}:{t_send}"


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))], 3)


def fill(template: str, values: dict) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", str(value))
    return template


def target(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    host = "127.0.0.1" if parts.hostname in (None, "localhost") else parts.hostname
    if not host.startswith("127."):
        raise SystemExit(f"refusing non-loopback target {url}")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return host, parts.port or 80, path


class Stream:
    """One SSE viewer: reconnects with Last-Event-ID when asked to."""

    def __init__(self, index: int, values: dict, args, run: str) -> None:
        self.index = index
        self.values = values
        self.session = values["session"]
        self.args = args
        self.marker = re.compile(rf"RESUME:{run}:(\d+):(\d+)")
        self.seen: set[int] = set()
        self.duplicates = 0
        self.latencies: list[float] = []
        self.last_id: str | None = None
        self.ready = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task | None = None
        self.connects = 0
        self.errors: list[str] = []
        self.catch_up_target: set[int] | None = None  # seqs it must hold to be caught up
        self.reconnect_at: float | None = None
        self.catch_up_s: float | None = None

    def start(self) -> None:
        self.ready.clear()
        self.task = asyncio.create_task(self._run())

    async def drop(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()  # a network blip, not a polite close
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass

    async def _run(self) -> None:
        host, port, path = target(fill(self.args.url, self.values))
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Accept: text/event-stream",
            "Cache-Control: no-cache",
            f"Cookie: {self.values['cookie']}",
        ]
        if self.last_id is not None:
            lines.append(f"Last-Event-ID: {self.last_id}")
        try:
            reader, writer = await asyncio.open_connection(host, port)
            self.writer = writer
            self.connects += 1
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            if status != 200:
                self.errors.append(f"http_{status}")
                return
            chunked = b"chunked" in head.lower()
            pending = ""
            data: list[str] = []
            event_id: str | None = None
            while True:
                if chunked:
                    size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        return
                    raw = await reader.readexactly(size + 2)
                    raw = raw[:-2]
                else:
                    raw = await reader.read(65536)
                    if not raw:
                        return
                pending += raw.decode()
                *complete, pending = pending.replace("\r\n", "\n").split("\n")
                for line in complete:
                    if line == "":
                        if event_id is not None:
                            self.last_id = event_id
                        if data:
                            self._event("\n".join(data))
                        data, event_id = [], None
                    elif line.startswith("data:"):
                        data.append(line[5:].removeprefix(" "))
                    elif line.startswith("id:"):
                        event_id = line[3:].removeprefix(" ")
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001
            self.errors.append(type(error).__name__)

    def _event(self, data: str) -> None:
        now = time.time_ns()
        self.ready.set()
        in_event: set[int] = set()  # a message event carries its text twice (content and bubble HTML)
        for match in self.marker.finditer(data):
            seq = int(match.group(1))
            if seq in in_event:
                continue
            in_event.add(seq)
            if seq in self.seen:
                self.duplicates += 1
                continue
            self.seen.add(seq)
            self.latencies.append((now - int(match.group(2))) / 1e6)
        if self.catch_up_target is not None and self.catch_up_s is None and self.catch_up_target <= self.seen:
            self.catch_up_s = time.monotonic() - self.reconnect_at


async def post(args, values: dict, run: str, seq: int, pool: asyncio.Queue) -> int | None:
    t_send = time.time_ns()
    marker = MARKER.format(run=run, seq=seq, t_send=t_send)
    body = json.dumps({"content": marker, "client_id": str(uuid.uuid4())}).encode()
    host, port, path = target(fill(args.publish_url, values))
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nCookie: {values['agent_cookie']}\r\nX-CSRFToken: {values['csrf']}\r\n"
        "Connection: keep-alive\r\n\r\n"
    ).encode() + body
    try:
        connection = pool.get_nowait()
    except asyncio.QueueEmpty:
        connection = await asyncio.open_connection(host, port)
    reader, writer = connection
    writer.write(request)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    pool.put_nowait(connection)
    return int(head.split(b" ", 2)[1])


async def main_async(args) -> dict:
    run = secrets.token_hex(4)
    rows = [json.loads(line) for line in open(args.vars) if line.strip()]
    streams = [Stream(i, rows[i % len(rows)], args, run) for i in range(args.streams)]
    sessions = list(dict.fromkeys(row["session"] for row in rows))
    by_session = {row["session"]: row for row in rows}
    published: dict[str, list[int]] = {name: [] for name in sessions}

    started = time.monotonic()
    for stream in streams:
        stream.start()
        if stream.index % 100 == 99:
            await asyncio.sleep(0.05)
    try:
        await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in streams)), args.ready_timeout)
    except TimeoutError:
        pass
    connect_s = time.monotonic() - started
    ready = sum(s.ready.is_set() for s in streams)
    await asyncio.sleep(args.settle)

    pool: asyncio.Queue = asyncio.Queue()
    statuses: dict[str, int] = {}
    tasks: list[asyncio.Task] = []
    dropped: list[Stream] = []
    drop_count = int(len(streams) * args.drop_fraction)
    reconnects: list[asyncio.Task] = []

    async def publish(seq: int) -> None:
        name = sessions[seq % len(sessions)]
        try:
            status = await post(args, by_session[name], run, seq, pool)
        except Exception as error:  # noqa: BLE001
            status = type(error).__name__
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if status == 200 or status == 201:
            published[name].append(seq)

    async def reconnect(stream: Stream) -> None:
        await asyncio.sleep(args.gap)
        # Caught up = holds everything published (POST answered) for its session so far.
        stream.catch_up_target = set(published[stream.session])
        stream.reconnect_at = time.monotonic()
        stream.start()

    t0 = time.monotonic()
    for seq in range(args.events):
        delay = t0 + seq / args.rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if seq == args.drop_after:
            dropped = streams[::2][:drop_count] if args.drop_fraction <= 0.5 else streams[:drop_count]
            await asyncio.gather(*(s.drop() for s in dropped))
            reconnects = [asyncio.create_task(reconnect(s)) for s in dropped]
        tasks.append(asyncio.create_task(publish(seq)))
    await asyncio.gather(*tasks, *reconnects)

    def complete() -> bool:
        return all(set(published[s.session]) <= s.seen for s in streams)

    deadline = time.monotonic() + args.drain
    while not complete() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    for stream in streams:
        await stream.drop()
    while not pool.empty():
        pool.get_nowait()[1].close()

    lost = sum(len(set(published[s.session]) - s.seen) for s in streams)
    expected = sum(len(published[s.session]) for s in streams)
    latencies = [value for s in streams for value in s.latencies]
    catch_up = [s.catch_up_s for s in dropped if s.catch_up_s is not None]
    errors: dict[str, int] = {}
    for stream in streams:
        for error in stream.errors:
            errors[error] = errors.get(error, 0) + 1
    return {
        "name": args.name,
        "target": args.target,
        "run_id": run,
        "params": {
            "subs": args.streams,
            "channels": len(sessions),
            "events": args.events,
            "rate": args.rate,
            "drop_after": args.drop_after,
            "drop_fraction": args.drop_fraction,
            "gap_s": args.gap,
        },
        "connections": {"requested": args.streams, "ready": ready, "connect_phase_s": round(connect_s, 3)},
        "events": {"published": sum(len(v) for v in published.values()), "publish_status": statuses},
        "delivery": {
            "expected": expected,
            "delivered": expected - lost,
            "lost": lost,
            "duplicates": sum(s.duplicates for s in streams),
            "dropped_streams": len(dropped),
            "reconnected": sum(1 for s in dropped if s.connects >= 2),
            "caught_up": len(catch_up),
        },
        "latency": {
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
            "max_ms": percentile(latencies, 100),
        },
        "catch_up": {
            "p50_ms": percentile([c * 1000 for c in catch_up], 50),
            "p99_ms": percentile([c * 1000 for c in catch_up], 99),
            "max_ms": percentile([c * 1000 for c in catch_up], 100),
        },
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="S5")
    parser.add_argument("--target", default="fiido")
    parser.add_argument(
        "--url", required=True, help="SSE URL template, e.g. http://127.0.0.1:8102/api/sessions/{session}/events"
    )
    parser.add_argument("--publish-url", required=True)
    parser.add_argument("--vars", required=True, help="JSON lines: session, cookie, agent_cookie, csrf")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--drop-after", type=int, default=None, help="drop after this many events (default: half)")
    parser.add_argument("--drop-fraction", type=float, default=0.5)
    parser.add_argument("--gap", type=float, default=1.0, help="seconds a dropped stream stays away")
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    parser.add_argument("--drain", type=float, default=15.0)
    parser.add_argument("--jsonl")
    args = parser.parse_args(argv)
    if args.drop_after is None:
        args.drop_after = args.events // 2
    result = asyncio.run(main_async(args))
    line = json.dumps(result)
    print(line)
    if args.jsonl:
        with open(args.jsonl, "a") as out:
            out.write(line + "\n")
    d, c = result["delivery"], result["catch_up"]
    print(
        f"S5 {result['connections']['ready']}/{args.streams} ready; "
        f"lost {d['lost']}/{d['expected']} dup {d['duplicates']}; "
        f"{d['reconnected']}/{d['dropped_streams']} reconnected, {d['caught_up']} caught up in p50 {c['p50_ms']} "
        f"p99 {c['p99_ms']} max {c['max_ms']} ms; errors {result['errors']}",
        file=sys.stderr,
    )
    return 0 if d["lost"] == 0 and d["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
