"""Each conversation's report figures, derived from its event log.

The team's reports (``workbench/reports.py``) are aggregates of per-
conversation figures: one ``conversation`` row (did it escalate, did an
agent hold it), one ``held`` row per agent who held it, one row per answered
wait, per assignment (its first response, or none) and for the resolution.
``derived_sql`` is the one definition of those figures: SQL that reads the
status changes and agents' messages of a set of conversations (``Event``'s
``status`` and ``agent`` columns) and returns them as ``ReportSample`` rows.

A closed conversation's log never changes again, so ``settle`` stores its
figures once, in the close's transaction, and a report over months reads one
short row per figure instead of windowing the log again. Conversations still
open, or closed before figures were stored (``manage.py
settle_report_figures`` catches those up), are derived from the log when a
report asks: the log stays the truth, the stored rows are its summary.

The definitions (the README's "Reports", exactly):

- a **wait** is a status change to ``manual_live`` whose previous status
  change went to ``pending_manual`` (an escalation, or a return to the queue):
  each one counts once, and a transfer (``manual_live`` to ``manual_live``)
  is not one; it belongs to the agent who answered it;
- a **first response** starts at every status change that gives the
  conversation to an agent (take-over, automatic assignment, transfer) and
  ends at that agent's first message before the next status change; none:
  the value is NULL (a "no reply"). Bot and system messages carry no agent,
  so they never count;
- **resolution** runs from the first escalation (``bot_active`` to
  ``pending_manual``) to the close, and belongs to the last agent who held
  the conversation (none, when nobody did).

Durations are whole microseconds, exact on PostgreSQL and SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import Exists, IntegerField, OuterRef, QuerySet, Value

from chatbot.models import ChatSession, Event, ReportSample

Metric = ReportSample.Metric
BATCH = 2_000  # conversations per statement when catching up
_NULL = "CAST(NULL AS BIGINT)"  # PostgreSQL types each UNION column from its first typed value


def micros(column: str) -> str:
    """``column`` (a timestamp) as whole microseconds since 1970, exactly, in SQL."""
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint"
    # SQLite stores "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC (Django's format).
    return (
        f"(CAST(strftime('%%s', {column}) AS INTEGER) * 1000000"
        f" + CASE WHEN length({column}) > 19 THEN CAST(substr({column}, 21, 6) AS INTEGER) ELSE 0 END)"
    )


def derived_sql() -> str:
    """Common table expressions that follow ``WITH s AS (...)``, where ``s``
    has the conversations' ``id``, ``created_at`` and a report key ``k``
    (passed through). The last one, ``derived``, has ``ReportSample``'s
    columns and ``k``: ``session_id, started_at, k, metric, agent_id, value``.

    Parameter markers are doubled (``%%``): the SQL runs with parameters.
    """
    event = connection.ops.quote_name(Event._meta.db_table)
    return f"""
t AS (
  SELECT e.session_id, o.k, o.created_at AS started_at, e.seq, e.created_at AS at, e.status, e.agent_id,
         LAG(e.status, 1, 'bot_active') OVER w AS prev_status,
         LAG(e.created_at) OVER w AS prev_at,
         LEAD(e.seq) OVER w AS next_seq
  FROM (SELECT id, k, created_at FROM s ORDER BY id) o JOIN {event} e ON e.session_id = o.id
  WHERE e.status > '' AND e.session_id BETWEEN (SELECT MIN(id) FROM s) AND (SELECT MAX(id) FROM s)
  WINDOW w AS (PARTITION BY e.session_id ORDER BY e.seq)
),
a AS (
  SELECT t.session_id, t.k, t.started_at, t.agent_id, t.at,
         (SELECT m.created_at FROM {event} m
           WHERE m.session_id = t.session_id AND m.agent_id = t.agent_id AND m.status = ''
             AND m.seq > t.seq AND (t.next_seq IS NULL OR m.seq < t.next_seq)
           ORDER BY m.seq LIMIT 1) AS replied_at
  FROM t WHERE t.status = 'manual_live' AND t.agent_id IS NOT NULL
),
f AS (
  SELECT s.id, s.k, s.created_at AS started_at,
         MAX(CASE WHEN t.status = 'pending_manual' AND t.prev_status = 'bot_active' THEN 1 ELSE 0 END) AS escalated,
         MAX(CASE WHEN t.status = 'manual_live' THEN 1 ELSE 0 END) AS handled,
         MIN(CASE WHEN t.status = 'pending_manual' AND t.prev_status = 'bot_active' THEN t.at END) AS escalated_at,
         MAX(CASE WHEN t.status = 'closed' THEN t.at END) AS closed_at,
         MAX(CASE WHEN t.status = 'manual_live' THEN t.seq END) AS last_live_seq
  FROM s LEFT JOIN t ON t.session_id = s.id
  GROUP BY s.id, s.k, s.created_at
),
derived AS (SELECT session_id, started_at, k, {_cast("metric")}, {_cast("agent")}, {_cast("value")} FROM (
  SELECT f.id AS session_id, f.started_at, f.k, {Metric.CONVERSATION:d} AS metric, {_NULL} AS agent_id,
         CAST(f.escalated + 2 * f.handled AS BIGINT) AS value
    FROM f
  UNION ALL
  SELECT f.id, f.started_at, f.k, {Metric.HELD:d}, p.agent_id, f.escalated
    FROM (SELECT DISTINCT session_id, agent_id FROM a) p JOIN f ON f.id = p.session_id
  UNION ALL
  SELECT t.session_id, t.started_at, t.k, {Metric.WAIT:d}, t.agent_id, {micros("t.at")} - {micros("t.prev_at")}
    FROM t WHERE t.status = 'manual_live' AND t.prev_status = 'pending_manual'
  UNION ALL
  SELECT a.session_id, a.started_at, a.k, {Metric.FIRST_RESPONSE:d}, a.agent_id,
         {micros("a.replied_at")} - {micros("a.at")}
    FROM a
  UNION ALL
  SELECT f.id, f.started_at, f.k, {Metric.RESOLUTION:d}, h.agent_id,
         {micros("f.closed_at")} - {micros("f.escalated_at")}
    FROM f LEFT JOIN t h ON h.session_id = f.id AND h.seq = f.last_live_seq
   WHERE f.escalated_at IS NOT NULL AND f.closed_at IS NOT NULL
) figures)"""


def _cast(name: str) -> str:
    """``ReportSample.<name>`` as the table types it: a report's ``UNION`` of
    derived and stored figures then has one type per column, and PostgreSQL
    pushes each aggregate's ``WHERE metric = …`` down to the stored rows' index."""
    field = ReportSample._meta.get_field(name)
    return f"CAST({field.column} AS {field.cast_db_type(connection)}) AS {field.column}"


def unsettled(sessions: QuerySet[ChatSession]) -> QuerySet[ChatSession]:
    """Those of ``sessions`` whose figures are not stored: reports derive them from the log."""
    settled = ReportSample.objects.filter(session=OuterRef("pk"), metric=Metric.CONVERSATION)
    return sessions.filter(~Exists(settled))


def settle(session_ids: Iterable[int]) -> int:
    """Store the figures of those of ``session_ids`` that are closed and not
    settled yet; the number of conversations settled. Called by the close
    (``conversations._Changes.save``) in its transaction, after the closing
    event is written, and by ``settle_report_figures``."""
    closed = ChatSession.objects.filter(pk__in=list(session_ids), status=ChatSession.Status.CLOSED)
    ids = list(unsettled(closed).order_by().values_list("pk", flat=True))
    if not ids:
        return 0
    sessions = ChatSession.objects.filter(pk__in=ids).order_by().annotate(k=Value(0, output_field=IntegerField()))
    s_sql, params = sessions.values("id", "k", "created_at").query.sql_with_params()
    table = connection.ops.quote_name(ReportSample._meta.db_table)
    sql = (
        f"INSERT INTO {table} (session_id, started_at, metric, agent_id, value)"
        f" WITH s AS ({s_sql}), {derived_sql()}"
        " SELECT session_id, started_at, metric, agent_id, value FROM derived"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return len(ids)


def settle_all(*, batch: int = BATCH) -> int:
    """Settle every closed conversation whose figures are not stored, ``batch``
    at a time (the catch-up after an upgrade, or after figures were deleted)."""
    total, after = 0, 0
    closed = ChatSession.objects.filter(status=ChatSession.Status.CLOSED).order_by("pk")
    while True:
        ids = list(unsettled(closed.filter(pk__gt=after)).values_list("pk", flat=True)[:batch])
        if not ids:
            return total
        total += settle(ids)
        after = ids[-1]
