"""Support hours: when people answer, and when the next opening is.

``SUPPORT_HOURS`` is a ``;``-separated list of ``Days HH:MM-HH:MM`` rules,
such as ``Mon-Fri 09:00-18:00; Sat 10:00-14:00`` (days ``Mon`` … ``Sun``, a
range or a comma list; times in ``SUPPORT_TIME_ZONE``; an end of ``24:00``
is midnight). Empty: always open. ``SUPPORT_HOLIDAYS`` lists ``YYYY-MM-DD``
days that are closed whatever the rules say. A bad value stops the worker at
start (``ImproperlyConfigured``), not the first customer who asks.

Support is *open* when the hours say so and at least one agent has the
workbench open (``fiido.realtime.presence``): otherwise asking for a person
leaves a message to be answered by email (an offline request).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils import timezone

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
RULE = re.compile(r"^\s*(?P<days>[A-Za-z,\- ]+?)\s+(?P<start>\d{2}:\d{2})\s*-\s*(?P<end>\d{2}:\d{2})\s*$")
LOOK_AHEAD_DAYS = 370  # a year of holidays cannot hide the next opening


@dataclass(frozen=True)
class Rule:
    weekdays: frozenset[int]
    start: time
    end: time | None  # None: midnight at the end of the day


@dataclass(frozen=True)
class Hours:
    rules: tuple[Rule, ...]
    holidays: frozenset[date]
    zone: ZoneInfo

    @property
    def always(self) -> bool:
        return not self.rules

    def open_at(self, moment: datetime) -> bool:
        """Do the hours say someone answers at ``moment``?"""
        if self.always:
            return True
        local = moment.astimezone(self.zone)
        if local.date() in self.holidays:
            return False
        now = local.time()
        return any(
            local.weekday() in rule.weekdays and rule.start <= now and (rule.end is None or now < rule.end)
            for rule in self.rules
        )

    def next_opening(self, moment: datetime) -> datetime | None:
        """The first moment after ``moment`` when the hours open (None: always open)."""
        if self.always:
            return None
        local = moment.astimezone(self.zone)
        for offset in range(LOOK_AHEAD_DAYS):
            day = local.date() + timedelta(days=offset)
            if day in self.holidays:
                continue
            starts = sorted(rule.start for rule in self.rules if day.weekday() in rule.weekdays)
            for start in starts:
                opening = datetime.combine(day, start, tzinfo=self.zone)
                if opening > local:
                    return opening
        return None


def parse(hours: str, holidays: str, zone: str) -> Hours:
    """The settings' hours, holidays and zone; ``ImproperlyConfigured`` when malformed."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"SUPPORT_TIME_ZONE: unknown time zone {zone!r}.") from None
    rules = tuple(_rule(text) for text in hours.split(";") if text.strip())
    days = set()
    for text in holidays.split(","):
        if text.strip():
            try:
                days.add(date.fromisoformat(text.strip()))
            except ValueError:
                raise ImproperlyConfigured(f"SUPPORT_HOLIDAYS: {text.strip()!r} is not a YYYY-MM-DD date.") from None
    return Hours(rules, frozenset(days), tz)


def _rule(text: str) -> Rule:
    match = RULE.match(text)
    if not match:
        raise ImproperlyConfigured(f"SUPPORT_HOURS: {text.strip()!r} is not like 'Mon-Fri 09:00-18:00'.")
    weekdays = set()
    for part in match["days"].replace(" ", "").lower().split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ImproperlyConfigured(f"SUPPORT_HOURS: unknown day in {text.strip()!r} (use Mon … Sun).")
        a, b = DAYS.index(first), DAYS.index(last or first)
        weekdays.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    start, end = _clock(match["start"], text), _clock(match["end"], text, end=True)
    if end is not None and end <= start:
        raise ImproperlyConfigured(f"SUPPORT_HOURS: {text.strip()!r} ends before it starts.")
    return Rule(frozenset(weekdays), start, end)


def _clock(value: str, text: str, *, end: bool = False) -> time | None:
    hours, minutes = (int(part) for part in value.split(":"))
    if end and (hours, minutes) == (24, 0):
        return None
    if hours > 23 or minutes > 59:
        raise ImproperlyConfigured(f"SUPPORT_HOURS: {value} in {text.strip()!r} is not a time.")
    return time(hours, minutes)


@cache
def configured() -> Hours:
    return parse(settings.SUPPORT_HOURS, settings.SUPPORT_HOLIDAYS, settings.SUPPORT_TIME_ZONE)


def status(now: datetime | None = None) -> dict[str, object]:
    """``{"open", "next_open"}``: whether a person answers now (the hours, and an
    agent online), and when the hours open next (ISO 8601, or None)."""
    from fiido.realtime.presence import online_ids

    now = now or timezone.now()
    hours = configured()
    within = hours.open_at(now)
    opening = None if within else hours.next_opening(now)
    staffed = not settings.SUPPORT_OFFLINE_WITHOUT_AGENTS or bool(online_ids())
    return {"open": within and staffed, "next_open": opening.isoformat() if opening else None}


def _forget(setting: str, **kwargs) -> None:
    if setting.startswith("SUPPORT_"):
        configured.cache_clear()  # tests change the hours


setting_changed.connect(_forget)
