"""Reports for the team lead (issue 17): how long customers wait, how fast
agents answer, how many conversations the bot settled alone, how customers
rated the help.

Every figure comes from the event log (``chatbot.Event``: its status changes,
with the new status and the holder as columns, and its agents' messages),
computed in the database by one statement of window functions and
aggregates; nothing loads conversations into Python. The definitions are the
README's ("Reports"), and they are exact:

- a **wait** is a status change to ``manual_live`` whose previous status
  change went to ``pending_manual`` (an escalation, or a return to the queue):
  each one counts once, and a transfer (``manual_live`` to ``manual_live``)
  is not one;
- a **first response** starts at every status change that gives the
  conversation to an agent (take-over, automatic assignment, transfer) and
  ends at that agent's first message before the next status change; none:
  it counts in ``no_reply``. Bot and system messages carry no agent, so they
  never count;
- **resolution** runs from the first escalation (``bot_active`` to
  ``pending_manual``) to the close.

Percentiles are the nearest-rank kind (``percentile_disc``): the smallest
sample with at least p% of the samples at or below it. PostgreSQL computes
them with ``percentile_disc``; SQLite with ``ROW_NUMBER()`` over the same
order and the same test (``rank * 10 >= count * 9`` for p90, which is what
``percentile_disc`` computes, ``ceil(0.9 * n)``, for every count up to two
million): the figures are the same on both. Durations are whole
microseconds, exact on both, shown as seconds.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, F, IntegerField, Min, OuterRef, Subquery, Sum, Value
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_date

from chatbot.exceptions import InvalidInput
from chatbot.models import ChatSession, Event, Rating
from workbench import permissions, presence

GROUPS = ("day", "agent")
DEFAULT_DAYS = 7  # the page opens on the last week
MAX_DAYS = 366  # a year, leap day included: longer ranges are refused (400)
# Dates a report may name: the range's arithmetic (a week back, the midnight after) stays in datetime's bounds.
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(9998, 12, 31)
# The row of the API and the CSV, in this order (the names: keep them).
ROW_KEYS = (
    "key",
    "conversations",
    "escalated",
    "bot_only",
    "handled",
    "wait_p50_s",
    "wait_p90_s",
    "first_response_p50_s",
    "first_response_p90_s",
    "no_reply",
    "resolution_p50_s",
    "rating_avg",
    "rating_count",
)
SCORES = (1, 2, 3, 4, 5)

Status = ChatSession.Status


@dataclass(frozen=True)
class Period:
    """The asked range, inclusive days in ``zone``, and the grouping."""

    start: date
    end: date
    zone: ZoneInfo
    group: str = "day"

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """From midnight of the first day to midnight after the last, in ``zone``."""
        first = datetime.combine(self.start, time.min, tzinfo=self.zone)
        after = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=self.zone)
        return first, after

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


@dataclass
class Report:
    """The rows, the totals (same keys but ``key``) and the rating distribution."""

    period: Period
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    distribution: dict[int, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "totals": self.totals}


def parse_period(params: Mapping[str, Any], *, today: date | None = None) -> Period:
    """``from``, ``to`` (YYYY-MM-DD), ``group`` (day|agent) and ``tz`` (an IANA
    zone; default ``TIME_ZONE``) from a query string. Without dates: the last
    ``DEFAULT_DAYS`` days to today, in that zone. A bad or reversed date, a
    range over ``MAX_DAYS`` days, an unknown group or zone: ``InvalidInput`` (400)."""
    zone = _zone(params.get("tz"))
    group = params.get("group") or "day"
    if group not in GROUPS:
        raise InvalidInput("group must be day or agent.")
    today = today or timezone.now().astimezone(zone).date()
    end = _date(params.get("to"), "to") or today
    start = _date(params.get("from"), "from") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidInput("from must not be after to.")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput(f"The range is longer than {MAX_DAYS} days.")
    return Period(start, end, zone, group)


def report(period: Period) -> Report:
    """Every figure of ``period``, by day (every day of the range, empty ones
    included) or by agent (those with a conversation in it)."""
    figures = _event_figures(period)
    ratings, distribution = _rating_figures(period)
    if period.group == "day":
        keys: list[Any] = [day.isoformat() for day in period.days]
    else:
        keys = sorted({key for key in (*figures, *ratings) if key not in (None, _TOTAL)})
    names = _usernames(keys) if period.group == "agent" else {}
    rows = [_row(names.get(key, key), figures.get(key, {}), ratings.get(key, {})) for key in keys]
    totals = _row(None, figures.get(_TOTAL, {}), ratings.get(_TOTAL, {}))
    del totals["key"]
    if period.group == "agent":
        rows.sort(key=lambda row: row["key"])
    return Report(period, rows, totals, distribution)


def now() -> dict[str, Any]:
    """The "now" strip as the page opens (the page keeps it live from the queue
    stream): customers waiting in the live queue, live conversations, the
    oldest wait in seconds, agents online."""
    waiting = ChatSession.objects.filter(status=Status.PENDING_MANUAL, offline_request=False)
    oldest = waiting.aggregate(oldest=Min("escalated_at"))["oldest"]
    team = list(permissions.agents().values_list("pk", flat=True))
    return {
        "waiting": waiting.count(),
        "live": ChatSession.objects.filter(status=Status.MANUAL_LIVE).count(),
        "oldest_wait_s": max(0, int((timezone.now() - oldest).total_seconds())) if oldest else None,
        "agents_online": sum(1 for state in presence.presence_of(team).values() if state == presence.ONLINE),
    }


def as_csv(result: Report) -> str:
    """The rows and a last ``total`` row, with the API's keys as the header.

    A username a spreadsheet would read as a formula (``=…``, ``+…``, ``-…``,
    ``@…``) gets a leading apostrophe, so opening the file runs nothing.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ROW_KEYS)
    for row in [*result.rows, {**result.totals, "key": "total"}]:
        writer.writerow([_cell(row[key]) for key in ROW_KEYS])
    return out.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return f"'{value}"
    return value


# ---------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------
_TOTAL = "__total__"
_NULL = "CAST(NULL AS BIGINT)"  # PostgreSQL types each UNION column from its first typed value


def _zone(raw: Any) -> ZoneInfo:
    name = raw or settings.TIME_ZONE
    if not isinstance(name, str) or len(name) > 64:
        raise InvalidInput("tz must be a time zone name such as Europe/Berlin.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("tz must be a time zone name such as Europe/Berlin.") from None


def _date(raw: Any, name: str) -> date | None:
    if raw in (None, ""):
        return None
    try:
        day = parse_date(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:  # well formed, but no such day (2026-02-30)
        day = None
    if day is None or not EARLIEST_DAY <= day <= LATEST_DAY:
        raise InvalidInput(f"{name} must be a date, YYYY-MM-DD, from {EARLIEST_DAY} to {LATEST_DAY}.")
    return day


def _row(key: Any, figures: Mapping[str, Any], ratings: Mapping[str, Any]) -> dict[str, Any]:
    count = ratings.get("count", 0)
    return {
        "key": key,
        "conversations": figures.get("conversations", 0),
        "escalated": figures.get("escalated", 0),
        "bot_only": figures.get("bot_only", 0),
        "handled": figures.get("handled", 0),
        "wait_p50_s": _seconds(figures.get("wait_p50")),
        "wait_p90_s": _seconds(figures.get("wait_p90")),
        "first_response_p50_s": _seconds(figures.get("first_p50")),
        "first_response_p90_s": _seconds(figures.get("first_p90")),
        "no_reply": figures.get("no_reply", 0),
        "resolution_p50_s": _seconds(figures.get("resolution_p50")),
        "rating_avg": round(ratings["sum"] / count, 2) if count else None,
        "rating_count": count,
    }


def _seconds(microseconds: Any) -> float | None:
    return None if microseconds is None else round(int(microseconds) / 1_000_000, 3)


def _usernames(ids: list[Any]) -> dict[Any, str]:
    users = get_user_model().objects.filter(pk__in=ids)
    return {user.pk: user.get_username() for user in users}


def _key(value: Any) -> Any:
    """A group key as the database returned it: a day (date, or text on SQLite) or an agent id."""
    if isinstance(value, date):
        return value.isoformat()
    return value


def _sessions_sql(period: Period) -> tuple[str, tuple[Any, ...]]:
    """The conversations started in the range, with their day in the viewer's
    zone (``TruncDate`` is the ORM's, for both databases), as SQL to embed."""
    first, after = period.bounds
    sessions = ChatSession.objects.filter(created_at__gte=first, created_at__lt=after).order_by()
    if period.group == "day":
        sessions = sessions.annotate(k=TruncDate("created_at", tzinfo=period.zone))
    else:
        sessions = sessions.annotate(k=Value(0, output_field=IntegerField()))
    return sessions.values("id", "k").query.sql_with_params()


def _micros(column: str) -> str:
    """``column`` (a timestamp) as whole microseconds since 1970, exactly, in SQL."""
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint"
    # SQLite stores "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC (Django's format).
    return (
        f"(CAST(strftime('%%s', {column}) AS INTEGER) * 1000000"
        f" + CASE WHEN length({column}) > 19 THEN CAST(substr({column}, 21, 6) AS INTEGER) ELSE 0 END)"
    )


def _percentiles_sql() -> str:
    """p50 and p90 of ``samples`` by (k, metric), then by metric alone (totals)."""
    if connection.vendor == "postgresql":
        pct = (
            "percentile_disc(0.5) WITHIN GROUP (ORDER BY v), percentile_disc(0.9) WITHIN GROUP (ORDER BY v),"
            f" {_NULL}, {_NULL}, {_NULL}"
        )
        return (
            f"SELECT 0 AS g, k, metric, {pct} FROM samples GROUP BY k, metric"
            f" UNION ALL SELECT 1, NULL, metric, {pct} FROM samples GROUP BY metric"
        )
    return (
        "SELECT 0 AS g, k, metric, MIN(CASE WHEN 2 * rn >= n THEN v END), MIN(CASE WHEN 10 * rn >= 9 * n THEN v END),"
        " NULL, NULL, NULL FROM ranked GROUP BY k, metric"
        " UNION ALL SELECT 1, NULL, metric, MIN(CASE WHEN 2 * trn >= tn THEN v END),"
        " MIN(CASE WHEN 10 * trn >= 9 * tn THEN v END), NULL, NULL, NULL FROM ranked GROUP BY metric"
    )  # SQLite: NULL needs no type


def _event_figures(period: Period) -> dict[Any, dict[str, Any]]:
    """Counts and percentiles by group key (and ``_TOTAL``), from one statement."""
    sessions_sql, params = _sessions_sql(period)
    event = connection.ops.quote_name(Event._meta.db_table)
    by_agent = period.group == "agent"
    wait_key, assign_key = ("t.agent_id", "a.agent_id") if by_agent else ("t.k", "a.k")
    # By agent, a resolution belongs to the last agent who held the conversation.
    close_key, holder = (
        ("h.agent_id", "LEFT JOIN t h ON h.session_id = f.id AND h.seq = f.last_live_seq") if by_agent else ("f.k", "")
    )
    if by_agent:  # a conversation counts in the row of every agent who held it
        counts = (
            f"SELECT 0, p.agent_id, 'counts', COUNT(*), SUM(f.escalated), COUNT(*), 0, {_NULL}"
            " FROM (SELECT DISTINCT session_id, agent_id FROM a) p JOIN f ON f.id = p.session_id GROUP BY p.agent_id"
        )
    else:
        counts = (
            "SELECT 0, f.k, 'counts', COUNT(*), SUM(f.escalated), SUM(f.handled),"
            f" SUM(CASE WHEN f.escalated = 0 AND f.handled = 0 THEN 1 ELSE 0 END), {_NULL} FROM f GROUP BY f.k"
        )
    ranked = (
        ", ranked AS (SELECT k, metric, v,"
        " ROW_NUMBER() OVER (PARTITION BY k, metric ORDER BY v) AS rn, COUNT(*) OVER (PARTITION BY k, metric) AS n,"
        " ROW_NUMBER() OVER (PARTITION BY metric ORDER BY v) AS trn, COUNT(*) OVER (PARTITION BY metric) AS tn"
        " FROM samples)"
        if connection.vendor != "postgresql"
        else ""
    )
    sql = f"""
WITH s AS ({sessions_sql}),
t AS (
  SELECT e.session_id, o.k, e.seq, e.created_at AS at, e.status, e.agent_id,
         LAG(e.status, 1, 'bot_active') OVER w AS prev_status,
         LAG(e.created_at) OVER w AS prev_at,
         LEAD(e.seq) OVER w AS next_seq
  FROM (SELECT id, k FROM s ORDER BY id) o JOIN {event} e ON e.session_id = o.id
  WHERE e.status > '' AND e.session_id BETWEEN (SELECT MIN(id) FROM s) AND (SELECT MAX(id) FROM s)
  WINDOW w AS (PARTITION BY e.session_id ORDER BY e.seq)
),
a AS (
  SELECT t.session_id, t.k, t.agent_id, t.at,
         (SELECT m.created_at FROM {event} m
           WHERE m.session_id = t.session_id AND m.agent_id = t.agent_id AND m.status = ''
             AND m.seq > t.seq AND (t.next_seq IS NULL OR m.seq < t.next_seq)
           ORDER BY m.seq LIMIT 1) AS replied_at
  FROM t WHERE t.status = 'manual_live' AND t.agent_id IS NOT NULL
),
f AS (
  SELECT s.id, s.k,
         MAX(CASE WHEN t.status = 'pending_manual' AND t.prev_status = 'bot_active' THEN 1 ELSE 0 END) AS escalated,
         MAX(CASE WHEN t.status = 'manual_live' THEN 1 ELSE 0 END) AS handled,
         MIN(CASE WHEN t.status = 'pending_manual' AND t.prev_status = 'bot_active' THEN t.at END) AS escalated_at,
         MAX(CASE WHEN t.status = 'closed' THEN t.at END) AS closed_at,
         MAX(CASE WHEN t.status = 'manual_live' THEN t.seq END) AS last_live_seq
  FROM s LEFT JOIN t ON t.session_id = s.id
  GROUP BY s.id, s.k
),
samples AS (
  SELECT {wait_key} AS k, 'wait' AS metric, {_micros("t.at")} - {_micros("t.prev_at")} AS v
    FROM t WHERE t.status = 'manual_live' AND t.prev_status = 'pending_manual'
  UNION ALL
  SELECT {assign_key}, 'first', {_micros("a.replied_at")} - {_micros("a.at")}
    FROM a WHERE a.replied_at IS NOT NULL
  UNION ALL
  SELECT {close_key}, 'resolution', {_micros("f.closed_at")} - {_micros("f.escalated_at")}
    FROM f {holder} WHERE f.escalated_at IS NOT NULL AND f.closed_at IS NOT NULL
){ranked}
{_percentiles_sql()}
UNION ALL {counts}
UNION ALL SELECT 1, NULL, 'counts', COUNT(*), SUM(f.escalated), SUM(f.handled),
  SUM(CASE WHEN f.escalated = 0 AND f.handled = 0 THEN 1 ELSE 0 END), {_NULL} FROM f
UNION ALL SELECT 0, {assign_key}, 'no_reply', COUNT(*), {_NULL}, {_NULL}, {_NULL}, {_NULL}
  FROM a WHERE a.replied_at IS NULL GROUP BY {assign_key}
UNION ALL SELECT 1, NULL, 'no_reply', COUNT(*), {_NULL}, {_NULL}, {_NULL}, {_NULL} FROM a WHERE a.replied_at IS NULL
"""
    figures: dict[Any, dict[str, Any]] = defaultdict(dict)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One big analytic statement: compiling it (JIT) cost more than running
            # it, and its sorts fit in memory with a little more than the default.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '32MB'")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    for total, key, metric, one, two, three, four, _ in rows:
        key = _TOTAL if total else _key(key)
        if key is None:
            continue  # by agent: a conversation closed while nobody held it
        row = figures[key]
        if metric == "counts":
            row["conversations"], row["escalated"] = int(one or 0), int(two or 0)
            row["handled"], row["bot_only"] = int(three or 0), int(four or 0)
        elif metric == "no_reply":
            row["no_reply"] = int(one or 0)
        else:
            row[f"{metric}_p50"], row[f"{metric}_p90"] = one, two
    return figures


def _rating_figures(period: Period) -> tuple[dict[Any, dict[str, int]], dict[int, int]]:
    """Ratings of the conversations closed in the range: count and sum by key
    (the close's day, or the last agent who held the conversation), and the
    distribution of scores over the whole range."""
    first, after = period.bounds
    ratings = Rating.objects.filter(
        session__status=Status.CLOSED, session__closed_at__gte=first, session__closed_at__lt=after
    ).order_by()
    if period.group == "day":
        ratings = ratings.annotate(k=TruncDate("session__closed_at", tzinfo=period.zone))
    else:
        holder = Event.objects.filter(session=OuterRef("session"), status=Status.MANUAL_LIVE).order_by("-seq")
        ratings = ratings.annotate(k=Subquery(holder.values("agent")[:1]))
    by_key: dict[Any, dict[str, int]] = {}
    for row in ratings.values("k", "score").annotate(count=Count("id"), sum=Sum(F("score"))):
        key = _key(row["k"])
        for target in (
            by_key.setdefault(key, {"count": 0, "sum": 0}),
            by_key.setdefault(_TOTAL, {"count": 0, "sum": 0}),
        ):
            target["count"] += row["count"]
            target["sum"] += int(row["sum"])
    distribution = {score: 0 for score in SCORES}
    for row in ratings.values("score").annotate(count=Count("id")):
        distribution[row["score"]] = row["count"]
    by_key.pop(None, None)
    return by_key, distribution
