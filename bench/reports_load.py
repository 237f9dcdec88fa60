"""Reports at scale: ``bench/reports_load.py [--conversations N] [--events-each M]``.

Run with the project's Python against a PostgreSQL server
(``PG_URL``, default postgres://postgres@127.0.0.1:5432/postgres): it makes
a scratch database (``fiido_reports_bench``), migrates it, writes N
conversations with M events each (default 100,000 × 20 = 2,000,000 events,
one conversation every 30 seconds, so about 35 days), and times
``workbench.reports.report`` over 7 days, 30 days and the whole range, by day
and by agent: first from the log alone (as right after an upgrade), then
after ``settle_report_figures`` has stored every closed conversation's
figures (as the close does; chatbot/figures.py). Each figure is the median of
``--runs`` runs after one warm-up.

The rows are written by SQL (``generate_series``), not by the state machine:
this measures reading. Four in ten conversations stay with the bot; five
escalate, wait up to ten minutes for one of 20 agents, get a reply (or,
one in eight, none) and close; one waits and is closed unanswered. A third
of the closed ones are rated. The scratch database is dropped at the end
(``--keep`` leaves it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = "fiido_reports_bench"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--events-each", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the scratch database for EXPLAIN")
    args = parser.parse_args(argv)

    server = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    base = server.rsplit("/", 1)[0]
    subprocess.run(["psql", server, "-qc", f"DROP DATABASE IF EXISTS {SCRATCH}"], check=True)
    subprocess.run(["psql", server, "-qc", f"CREATE DATABASE {SCRATCH}"], check=True)
    try:
        env = {**os.environ, "DATABASE_URL": f"{base}/{SCRATCH}", "DJANGO_SETTINGS_MODULE": "fiido.settings"}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        command = [sys.executable, __file__, "--measure", str(args.conversations), str(args.events_each)]
        subprocess.run([*command, str(args.runs)], cwd=ROOT, env=env, check=True)
    finally:
        if not args.keep:
            subprocess.run(["psql", server, "-qc", f"DROP DATABASE IF EXISTS {SCRATCH}"], check=False)
    return 0


# Each conversation's script, by id modulo 10: 0-3 the bot alone (closed at the last seq); 4-8 escalated
# at seq 5, taken over at seq 6 after a wait of up to ten minutes by one of the agents, answered at seq 8
# (never, when id modulo 8 is 0), closed at the last seq; 9 escalated at seq 5 and closed unanswered.
GENERATE = """
INSERT INTO chatbot_chatsession
  (name, status, escalation_reason, customer_name, customer_email, visitor, language, last_seq, last_note_seq,
   message_count, bot_misses, created_at, updated_at, last_activity_at, offline_request, closed_at)
SELECT 'bench' || i, 'closed', '', '', '', '', 'en', %(events)s, 0, %(events)s - 3, 0,
       now() - (%(conversations)s - i) * interval '30 seconds', now(), now(), false,
       now() - (%(conversations)s - i) * interval '30 seconds' + interval '1 hour'
FROM generate_series(1, %(conversations)s) AS i;

INSERT INTO chatbot_event (session_id, seq, kind, payload, status, agent_id, created_at)
SELECT s.id, n,
       CASE WHEN st <> '' THEN 'status' ELSE 'message' END, '{}', st, ag,
       s.created_at + n * interval '20 seconds' + CASE WHEN n >= 6 AND p BETWEEN 4 AND 8
         THEN (s.id %% 600) * interval '1 second' ELSE interval '0' END
FROM chatbot_chatsession s
CROSS JOIN LATERAL (SELECT s.id %% 10 AS p,
  (%(agents)s::bigint[])[1 + (s.id / 10) %% array_length(%(agents)s::bigint[], 1)] AS holder) AS c
CROSS JOIN LATERAL generate_series(1, %(events)s) AS n
CROSS JOIN LATERAL (SELECT
  CASE WHEN n = %(events)s THEN 'closed'
       WHEN n = 5 AND p >= 4 THEN 'pending_manual'
       WHEN n = 6 AND p BETWEEN 4 AND 8 THEN 'manual_live'
       ELSE '' END AS st,
  CASE WHEN p BETWEEN 4 AND 8 AND n >= 6 AND n < %(events)s
            AND (n = 6 OR (n %% 2 = 0 AND n > 6 AND s.id %% 8 <> 0)) THEN c.holder
       WHEN p BETWEEN 4 AND 8 AND n = %(events)s THEN c.holder END AS ag) AS e;

INSERT INTO chatbot_rating (session_id, score, comment, created_at)
SELECT id, 1 + id %% 5, '', now() FROM chatbot_chatsession WHERE id %% 3 = 0;
"""


def measure(conversations: int, events: int, runs: int) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from chatbot import figures
    from workbench import reports
    from workbench.management.commands.create_agent import ensure_agent

    agents = [ensure_agent(f"agent{i}", None, first_name=f"Agent {i}")[0].pk for i in range(20)]
    started = time.monotonic()
    with connection.cursor() as cursor:
        for statement in GENERATE.split(";\n\n"):
            cursor.execute(statement, {"conversations": conversations, "events": events, "agents": agents})
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT count(*) FROM chatbot_event")
        (written,) = cursor.fetchone()
    print(f"wrote {conversations} conversations, {written} events in {time.monotonic() - started:.0f} s")

    table(reports, "from the log (nothing stored: before settle_report_figures)", runs)
    started = time.monotonic()
    settled = figures.settle_all()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE chatbot_reportsample")
    print(f"settle_report_figures: {settled} conversations in {time.monotonic() - started:.1f} s")
    table(reports, "stored figures (every closed conversation settled)", runs)


def table(reports, title: str, runs: int) -> None:
    from django.utils import timezone

    today = timezone.localdate()
    zone = timezone.get_default_timezone()
    print(f"\n{title}\n{'report':28} {'median ms':>10} {'rows':>5} {'conversations':>14}")
    for days in (7, 30, 366):
        for group in ("day", "agent"):
            period = reports.Period(today - timedelta(days=days - 1), today, zone, group)
            times, result = [], None
            for run in range(runs + 1):
                t0 = time.perf_counter()
                result = reports.report(period)
                if run:
                    times.append((time.perf_counter() - t0) * 1000)
            label = f"{days} days by {group}"
            print(
                f"{label:28} {statistics.median(times):>10.1f} {len(result.rows):>5}"
                f" {result.totals['conversations']:>14}"
            )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        measure(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(main())
