"""Reports for the team lead (issue 17): how long customers wait, how fast
agents answer, how many conversations the bot settled alone, how customers
rated the help.

Every figure comes from the event log, computed in the database by one
statement of aggregates; nothing loads conversations into Python. The
definitions are the README's ("Reports"), written once as SQL in
``chatbot/figures.py``: each conversation's figures (its waits, first
responses, resolution; whether it escalated, who held it). A closed
conversation's figures are stored when it closes (``ReportSample``), so a
report reads those rows for closed conversations and derives the rest (still
open, or closed before figures were stored) from their log, in the same
statement.

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
from django.db.models import Count, IntegerField, Min, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_date

from chatbot import figures
from chatbot.exceptions import InvalidInput
from chatbot.models import ChatSession, Event, Rating, ReportSample
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
Metric = ReportSample.Metric


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
# The durations a report takes percentiles of, by metric, and the codes of its other rows.
_DURATIONS = {Metric.WAIT: "wait", Metric.FIRST_RESPONSE: "first", Metric.RESOLUTION: "resolution"}
_COUNTS, _NO_REPLY = 0, -1
# A conversation row's value: 1 if it escalated, + 2 if an agent held it (chatbot/figures.py).
_CONVERSATION_COUNTS = (
    "COUNT(*), SUM(CASE WHEN value IN (1, 3) THEN 1 ELSE 0 END), SUM(CASE WHEN value >= 2 THEN 1 ELSE 0 END),"
    f" SUM(CASE WHEN value = 0 THEN 1 ELSE 0 END), {_NULL}"
)


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


def _key_sql(queryset: QuerySet, column: str, period: Period, *fields: str) -> tuple[str, tuple[Any, ...]]:
    """``queryset`` with ``k``, its day in the viewer's zone (``TruncDate`` is the
    ORM's, for both databases; by agent a constant), as SQL to embed."""
    if period.group == "day":
        queryset = queryset.annotate(k=TruncDate(column, tzinfo=period.zone))
    else:
        queryset = queryset.annotate(k=Value(0, output_field=IntegerField()))
    return queryset.order_by().values(*fields, "k").query.sql_with_params()


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
    """Counts and percentiles by group key (and ``_TOTAL``), from one statement
    over the stored figures of the range's closed conversations and the
    figures of the others, derived from their log (``chatbot/figures.py``)."""
    first, after = period.bounds
    started = ChatSession.objects.filter(created_at__gte=first, created_at__lt=after)
    live_sql, live_params = _key_sql(figures.unsettled(started), "created_at", period, "id", "created_at")
    stored = ReportSample.objects.filter(started_at__gte=first, started_at__lt=after)
    stored_sql, stored_params = _key_sql(stored, "started_at", period, "metric", "agent_id", "value")
    # By day a figure belongs to its conversation's day; by agent to its agent (see chatbot/figures.py).
    key = "agent_id" if period.group == "agent" else "k"
    conversation, held, first_response = (
        int(metric) for metric in (Metric.CONVERSATION, Metric.HELD, Metric.FIRST_RESPONSE)
    )
    durations = ", ".join(str(int(metric)) for metric in _DURATIONS)
    if period.group == "agent":  # a conversation counts in the row of every agent who held it
        counts = (
            f"SELECT 0, agent_id, {_COUNTS}, COUNT(*), SUM(value), COUNT(*), 0, {_NULL}"
            f" FROM facts WHERE metric = {held} GROUP BY agent_id"
        )
    else:
        counts = f"SELECT 0, k, {_COUNTS}, {_CONVERSATION_COUNTS} FROM facts WHERE metric = {conversation} GROUP BY k"
    ranked = (
        ", ranked AS (SELECT k, metric, v,"
        " ROW_NUMBER() OVER (PARTITION BY k, metric ORDER BY v) AS rn, COUNT(*) OVER (PARTITION BY k, metric) AS n,"
        " ROW_NUMBER() OVER (PARTITION BY metric ORDER BY v) AS trn, COUNT(*) OVER (PARTITION BY metric) AS tn"
        " FROM samples)"
        if connection.vendor != "postgresql"
        else ""
    )
    no_reply = f"metric = {first_response} AND value IS NULL"
    # ``facts`` is read by each aggregate for its own metric: not materialized, each reads
    # its part of the index (metric, started_at); ``derived`` (the log's part) is computed once.
    sql = f"""
WITH s AS ({live_sql}), {figures.derived_sql()},
facts AS NOT MATERIALIZED (
  SELECT k, metric, agent_id, value FROM derived
  UNION ALL SELECT k, metric, agent_id, value FROM ({stored_sql}) stored
),
samples AS (
  SELECT {key} AS k, metric, value AS v FROM facts WHERE metric IN ({durations}) AND value IS NOT NULL
){ranked}
{_percentiles_sql()}
UNION ALL {counts}
UNION ALL SELECT 1, NULL, {_COUNTS}, {_CONVERSATION_COUNTS} FROM facts WHERE metric = {conversation}
UNION ALL SELECT 0, {key}, {_NO_REPLY}, COUNT(*), {_NULL}, {_NULL}, {_NULL}, {_NULL}
  FROM facts WHERE {no_reply} GROUP BY {key}
UNION ALL SELECT 1, NULL, {_NO_REPLY}, COUNT(*), {_NULL}, {_NULL}, {_NULL}, {_NULL} FROM facts WHERE {no_reply}
"""
    figures_by_key: dict[Any, dict[str, Any]] = defaultdict(dict)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One big analytic statement: compiling it (JIT) cost more than running
            # it, and its sorts fit in memory with a little more than the default.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '32MB'")
        cursor.execute(sql, (*live_params, *stored_params))
        rows = cursor.fetchall()
    for total, key_value, metric, one, two, three, four, _ in rows:
        row_key = _TOTAL if total else _key(key_value)
        if row_key is None:
            continue  # by agent: a conversation closed while nobody held it
        row = figures_by_key[row_key]
        if metric == _COUNTS:
            row["conversations"], row["escalated"] = int(one or 0), int(two or 0)
            row["handled"], row["bot_only"] = int(three or 0), int(four or 0)
        elif metric == _NO_REPLY:
            row["no_reply"] = int(one or 0)
        else:
            name = _DURATIONS[metric]
            row[f"{name}_p50"], row[f"{name}_p90"] = one, two
    return figures_by_key


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
    distribution = {score: 0 for score in SCORES}
    for row in ratings.values("k", "score").annotate(count=Count("id")):
        key, score, count = _key(row["k"]), row["score"], row["count"]
        distribution[score] += count  # every rating of the range, whatever its key
        for target in (
            by_key.setdefault(key, {"count": 0, "sum": 0}),
            by_key.setdefault(_TOTAL, {"count": 0, "sum": 0}),
        ):
            target["count"] += count
            target["sum"] += score * count
    by_key.pop(None, None)
    return by_key, distribution
