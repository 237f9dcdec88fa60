"""CPU cost of one publishing request: ``postcost.py [--posts N] [--path P] [--as customer]``.

Starts one daphne worker of the project (production settings, a fresh SQLite
file, ``REDIS_URL`` if set), prepares one ``manual_live`` conversation with
``prepare.py``, sends N agent messages one after another over a keep-alive
connection, and prints the worker's CPU milliseconds per request (from
``/proc``, so the client's own work is not counted) and the request times.

It is the quick loop for work on the publish path (``bench/NOTES.md``): a
full ``make bench`` takes twenty minutes, this takes seconds. ``--path``
posts elsewhere instead (e.g. ``/api/no-such-route`` for the cost of
Django's handler and middleware alone). ``--as customer`` posts customer
messages instead, to a conversation waiting for an agent (``pending_manual``:
the bot stays quiet; ``--status bot_active`` has it answer each one, which
is part of that POST); the rate limits are still counted on every POST,
against limits raised out of reach.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

ROOT = bench.ROOT
PYTHON = sys.executable


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--path", default=None, help="default: the agent message endpoint")
    parser.add_argument("--rate", type=float, default=0, help="open loop: POSTs per second (0: back to back)")
    parser.add_argument("--concurrency", type=int, default=1, help="clients posting at once, each on its connection")
    parser.add_argument("--profile", metavar="FILE", help="also sample the worker with py-spy (collapsed stacks)")
    parser.add_argument("--as", dest="side", default="agent", choices=["agent", "customer"], help="who posts")
    parser.add_argument("--status", choices=["pending_manual", "bot_active"], help="the customer's conversation")
    args = parser.parse_args()
    if args.status and args.side != "customer":
        parser.error("--status is for --as customer (agents post to a manual_live conversation)")
    status = "manual_live" if args.side == "agent" else args.status or "pending_manual"

    work = Path(tempfile.mkdtemp(prefix="fiido-postcost-"))
    port = bench.free_port()
    env = bench.project_env(work / "db.sqlite3", os.environ.get("REDIS_URL", ""))
    # Counted on every customer POST, never reached (one client posts them all).
    env.update(RATE_LIMIT_MESSAGES="100000000/m", RATE_LIMIT_MESSAGES_PER_ADDRESS="100000000/m")
    (line,) = bench.prepare_one_worker(PYTHON, env, work / "vars.jsonl", "--sessions", "1", "--status", status)
    if args.side == "customer":
        path = args.path or f"/api/sessions/{line['session']}/messages"
    else:
        path = args.path or f"/workbench/api/sessions/{line['session']}/messages"

    worker = bench.spawn_one_worker(PYTHON, env, port, work / "daphne.log")
    try:
        bench.wait_for(lambda: bench.answers(f"http://127.0.0.1:{port}/healthz"), 60, "daphne")
        local = threading.local()
        headers = {
            # The agent's cookie carries the CSRF secret too (csrftoken=…): the customer posts with it.
            "Cookie": f"{line['cookie']}; {line['agent_cookie'].split('; ', 1)[1]}"
            if args.side == "customer"
            else line["agent_cookie"],
            "X-CSRFToken": line["csrf"],
            "Content-Type": "application/json",
            "Origin": f"http://127.0.0.1:{port}",
            "Referer": f"http://127.0.0.1:{port}/",
        }
        statuses: dict[int, int] = {}
        replies: list[int] = []  # customer messages the bot answered

        def post(scheduled: float | None = None) -> float:
            body = json.dumps({"content": "hello", "client_id": str(uuid.uuid4())})
            if not hasattr(local, "conn"):
                local.conn = http.client.HTTPConnection("127.0.0.1", port)
            conn = local.conn
            started = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            statuses[response.status] = statuses.get(response.status, 0) + 1
            if b'"reply": {' in answer:
                replies.append(1)
            return time.perf_counter() - (started if scheduled is None else scheduled)

        for _ in range(args.warmup):
            post()
        process = psutil.Process(worker.pid)
        spy = None
        if args.profile:
            spy = subprocess.Popen(
                ["py-spy", "record", "--gil", "--format", "raw", "--rate", "500",
                 "-p", str(worker.pid), "-o", args.profile],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1)
        before = process.cpu_times()
        with ThreadPoolExecutor(args.concurrency) as clients:
            if args.rate:
                # Open loop, like the yardstick's publisher: latency includes waiting for the server.
                begin = time.perf_counter()
                futures = []
                for n in range(args.posts):
                    time.sleep(max(0.0, begin + n / args.rate - time.perf_counter()))
                    futures.append(clients.submit(post, time.perf_counter()))
                times = [f.result() for f in futures]
            else:
                times = list(clients.map(lambda _: post(), range(args.posts)))
        after = process.cpu_times()
        if spy is not None:
            spy.send_signal(2)
            spy.wait(30)
        cpu = (after.user - before.user) + (after.system - before.system)
        times.sort()
        print(
            json.dumps(
                {
                    "path": path if args.path else f"{args.side} message ({status})",
                    "posts": args.posts,
                    "concurrency": args.concurrency,
                    "rate": args.rate,
                    "statuses": statuses,
                    "bot_replies": len(replies),
                    "cpu_ms_per_post": round(cpu * 1000 / args.posts, 2),
                    "p50_ms": round(statistics.median(times) * 1000, 2),
                    "p99_ms": round(times[int(len(times) * 0.99) - 1] * 1000, 2),
                    "threads": process.num_threads(),
                }
            )
        )
    finally:
        worker.terminate()
        worker.wait(10)
    shutil.rmtree(work)  # its database and the worker's log; kept when the run failed
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
