"""Render docs/RELIABILITY.md from the figures the fault tests recorded.

``make faults`` runs the fault, soak and hostile-input tests with
``FIIDO_REPORT_JSONL`` set, then calls ``python -m tests.report FILE``.
"""

from __future__ import annotations

import json
import platform
import sys
from datetime import UTC, datetime

TITLES = {
    "worker-killed": "A worker dies (`kill -9` under supervisord)",
    "redis-outage-under-load": "Redis dies under load",
    "redis-paused-under-writes": "Redis hangs (paused, not dead) under writes",
    "sentinel-failover": "The Redis master dies under Sentinel (`kill -9` under traffic)",
    "redis-shard-lost": "One of two Redis servers dies (fan-out over two)",
    "two-machines": "Two machines: worker kills on both sides and a Redis failover",
    "sqlite-contention": "Two workers contend for SQLite",
    "slow-reader": "A slow reader",
    "soak": "A soak with invariants",
}

# What one hostile client can cost, each bounded by a cap (security probe, second round).
HOSTILE = {
    "stream-caps": "Streams one visitor may hold open",
    "body-limit": "A huge request body",
    "history-bound": "A long conversation's history",
    "queue-bound": "A flooded queue",
}

WHAT = {
    "worker-killed": "Streams open on two supervised workers; the busiest is killed with SIGKILL while an agent "
    "keeps sending. Clients whose worker died reconnect to the shared socket with `Last-Event-ID`.",
    "redis-outage-under-load": "Streams split over two workers, an agent sending 20 messages/s across 10 "
    "conversations; Redis is killed for 10 s and started again.",
    "redis-paused-under-writes": "Two writers post customer and agent messages to two workers while Redis is "
    "stopped with SIGSTOP for 6 s (connections stay open, nothing answers). A write never waits for the layer "
    "(the publish is queued and sent from the event loop within `PUBLISH_TIMEOUT_SECONDS`), and the rate "
    "limits' cache gives up after its 0.5 s socket timeout, then is skipped for a second: the worst write is "
    "about that timeout.",
    "sentinel-failover": "A Redis master, a replica and three Sentinels (`down-after-milliseconds` 1000); six "
    "conversations with a stream on each of two workers, an agent sending 20 messages/s through both workers. "
    "The master is killed with SIGKILL; Sentinel promotes the replica, the workers follow it without a restart "
    "(the layer's gap is read from the database). The worst delay is the failover's worst delivery delay.",
    "redis-shard-lost": "Two Redis servers carry the layer's groups (`REDIS_URL` a comma list), streams on two "
    "workers. One server is killed: conversations on the other stay live (no database catch-up, per the workers' "
    "`/metrics`), those on the lost server are polled from the database every second; then it returns.",
    "two-machines": "Two supervisor groups (own sockets, run directories and metrics ports) on one database and "
    "one Sentinel set; a customer on one, an agent on the other, a whole conversation while a worker is killed "
    "on each side and the Redis master is killed. Streams reconnect with `Last-Event-ID` as browsers do.",
    "sqlite-contention": "Eight clients post as fast as they can to two workers sharing the default SQLite "
    "file (WAL, IMMEDIATE transactions, 30 s busy timeout); each also gets the bot's "
    "reply until the bot hands the conversation to a person.",
    "slow-reader": "A client opens its stream, then stops reading while ~10 MB of messages are sent to it.",
    "stream-caps": "One anonymous visitor opened 400 streams of one conversation on a worker. Now each worker "
    "counts open streams: `SSE_MAX_STREAMS_PER_CONVERSATION` (5) per conversation and viewer, "
    "`SSE_MAX_STREAMS_PER_ADDRESS` (20) customer streams per address, `SSE_MAX_STREAMS_PER_LOGIN` (30) per "
    "agent login; over a cap a stream is refused before it reads anything. An idle stream costs about 20 KiB "
    "(`make bench`, S4), so an address costs a worker at most about 0.4 MiB of streams.",
    "body-limit": "daphne reads a whole body before the application runs (300 MB took a worker from 80 to 394 MB). "
    "Now a declared `Content-Length` over `API_MAX_BODY_BYTES` (64 KiB), or a chunked body growing past it, is "
    "answered 413 at once and the rest never read; the shipped nginx refuses it before a worker sees it.",
    "history-bound": "A 500-message conversation made every stream opening a 2 MB frame. Now an opening, a page "
    "and the API carry the latest `HISTORY_PAGE` (50) messages and page back on request.",
    "queue-bound": "2,000 waiting conversations made every queue snapshot 2.1 MB, to every agent at every change. "
    "Now a snapshot carries the oldest 50 waiting, up to 200 live and 20 recent bot conversations with counts; "
    "escalations are limited per address (`RATE_LIMIT_ESCALATIONS`, 10 an hour) and loading the chat page "
    "stores nothing.",
    "soak": "50 customers and 5 agents on two workers act at random (seeded), legal and illegal actions "
    "mixed, 8 at a time, while every conversation has a stream open.",
}


def render(rows: list[dict]) -> str:
    lines = [
        "# Reliability",
        "",
        f"Generated by `make faults` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"({platform.machine()}, Python {platform.python_version()}). Every figure below comes from a test "
        "that asserts it: nothing lost, nothing duplicated, no server error.",
        "",
    ]
    latest: dict[str, dict] = {}
    for row in rows:
        latest[row["name"]] = row
    for name, title in TITLES.items():
        row = latest.get(name)
        lines += [f"## {title}", "", WHAT[name], ""]
        if row is None:
            lines += ["_Not run in this report._", ""]
            continue
        lines += _table(row)
    lines += [
        "## Hostile clients",
        "",
        "What one client can make a worker spend, and the cap on each. The bot's CPU per hostile message is "
        "measured by `bench/hostile.py` (not a test: timings are noisy): every 2,000-character adversarial "
        "input costs 0.1-3.6 ms, about what ordinary prose of that length costs (before: up to 158 ms for "
        "runs of whitespace). Customer messages are also limited per address (`RATE_LIMIT_MESSAGES_PER_ADDRESS`, "
        "60 a minute) and new conversations per address (`RATE_LIMIT_SESSIONS`). Behind the shipped nginx "
        "(`make serve-proxied`) a client has `HEADER_TIMEOUT` (10 s) for its headers and 10 s between body "
        "reads, and `X-Forwarded-For` is believed only from `TRUSTED_PROXIES`.",
        "",
    ]
    for name, title in HOSTILE.items():
        row = latest.get(name)
        lines += [f"### {title}", "", WHAT[name], ""]
        if row is None:
            lines += ["_Not run in this report._", ""]
            continue
        lines += _table(row)
    lines += [
        "## Hostile input and access",
        "",
        "- `tests/test_api_fuzz.py`: Hypothesis-generated JSON bodies and hand-picked hostile ones against every "
        'POST endpoint in every session status; never a 500, every refusal is JSON `{"error"}` and changes nothing.',
        "- `tests/test_schemathesis.py`: schemathesis against a live daphne worker, as a customer and as an agent; "
        "no 500s, every response matches `/api/schema/`.",
        "- `tests/test_authorization.py`: every endpoint × every kind of caller, each cell asserted.",
        "- `tests/chatbot/test_cards.py`: the product-card parser never raises, keeps all text and never emits a "
        "non-http(s) URL.",
        "- `tests/e2e/test_browser.py`: markup in names and messages never runs on either page.",
        "",
    ]
    return "\n".join(lines)


def _table(row: dict) -> list[str]:
    lines = ["| measure | value |", "| --- | --- |"]
    for key, value in row.items():
        if key in {"name", "test"}:
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        lines.append(f"| {key.replace('_', ' ')} | {value} |")
    return [*lines, "", f"Test: `{row['test']}`.", ""]


def main(path: str) -> None:
    with open(path) as source:
        rows = [json.loads(line) for line in source if line.strip()]
    sys.stdout.write(render(rows))


if __name__ == "__main__":
    main(sys.argv[1])
