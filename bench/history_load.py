"""History search at scale: ``bench/history_load.py [--conversations N] [--messages M]``.

Run with the project's Python against a PostgreSQL server
(``PG_URL``, default postgres://postgres@127.0.0.1:5432/postgres): it makes
a scratch database, migrates it, writes N conversations with M messages each
(bulk inserts: this measures reading, not the state machine), and times the
History API's queries (``workbench.history.search``) the way an agent uses
them: a word in the messages, a customer's email, an agent and a date range,
and a deep page through the keyset cursor. Each figure is the median of
``--runs`` runs, after one warm-up. The scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = (
    "battery charger parcel delivery refund warranty brake tyre motor display pedal frame saddle light "
    "invoice address courier damaged missing late assembly screw chain gear throttle app bluetooth"
).split()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    server = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    scratch = f"fiido_history_bench_{os.getpid()}"
    base = server.rsplit("/", 1)[0]
    subprocess.run(["psql", server, "-qc", f"CREATE DATABASE {scratch}"], check=True)
    try:
        env = {**os.environ, "DATABASE_URL": f"{base}/{scratch}", "DJANGO_SETTINGS_MODULE": "fiido.settings"}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        command = [sys.executable, __file__, "--measure", str(args.conversations), str(args.messages), str(args.runs)]
        subprocess.run(command, cwd=ROOT, env=env, check=True)
    finally:
        subprocess.run(["psql", server, "-qc", f"DROP DATABASE IF EXISTS {scratch}"], check=False)
    return 0


def measure(conversations: int, messages: int, runs: int) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from chatbot.models import ChatSession, Message
    from workbench import history
    from workbench.management.commands.create_agent import ensure_agent

    rng = random.Random(7)
    agents = [ensure_agent(f"agent{i}", None, first_name=f"Agent {i}")[0] for i in range(20)]
    started = time.monotonic()
    for first in range(0, conversations, 5000):
        batch = [
            ChatSession(
                status=rng.choice(["closed"] * 8 + ["bot_active", "manual_live"]),
                customer_name=f"Customer {i}",
                customer_email=f"customer{i}@example.com",
                assigned_agent=rng.choice(agents),
            )
            for i in range(first, min(conversations, first + 5000))
        ]
        made = ChatSession.objects.bulk_create(batch)
        Message.objects.bulk_create(
            [
                Message(
                    session=session,
                    role=rng.choice(["user", "bot", "agent"]),
                    content=" ".join(rng.choice(WORDS) for _ in range(12)),
                    client_id=uuid.uuid4(),
                )
                for session in made
                for _ in range(messages)
            ],
            batch_size=5000,
        )
    with connection.cursor() as cursor:
        # Spread over the past (created_at is auto_now_add: bulk_create set it to now): one every 3 minutes.
        cursor.execute("UPDATE chatbot_chatsession SET created_at = now() - id * interval '3 minutes'")
        cursor.execute("ANALYZE")
    took = time.monotonic() - started
    print(f"wrote {conversations} conversations, {conversations * messages} messages in {took:.0f} s")

    me = agents[3]
    today = timezone.localdate()
    cases = {
        "a word in the messages": history.Filters(statuses=[], q="throttle"),
        "two words": history.Filters(statuses=["closed"], q="throttle bluetooth"),
        "a customer's email": history.Filters(statuses=[], q="customer4242@example.com"),
        "an agent, last 30 days": history.Filters(statuses=[], agent=me, since=today - timedelta(days=30), until=today),
        "everything, newest first": history.Filters(statuses=[]),
    }
    print(f"{'query':32} {'median ms':>10} {'rows':>5}")
    for label, filters in cases.items():
        times, page = [], None
        for run in range(runs + 1):
            t0 = time.perf_counter()
            page = history.search(filters, cursor=None, limit=50)
            if run:
                times.append((time.perf_counter() - t0) * 1000)
        print(f"{label:32} {statistics.median(times):>10.1f} {len(page['sessions']):>5}")
    # Page 200 of "everything": the keyset cursor costs what page 1 does.
    cursor = None
    for _ in range(200):
        cursor = history.search(cases["everything, newest first"], cursor=cursor, limit=50)["next"]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        history.search(cases["everything, newest first"], cursor=cursor, limit=50)
        times.append((time.perf_counter() - t0) * 1000)
    print(f"{'page 201 of everything':32} {statistics.median(times):>10.1f} {50:>5}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        measure(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(main())
