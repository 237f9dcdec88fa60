"""``manage.py purge_conversations --closed-before DATE``: a retention policy.

Erases conversations closed before a date (or ``--older-than-days N``), with
their messages and events, one by one through ``conversations.purge``, so any
screen still showing one is told it was deleted.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from chatbot import conversations
from chatbot.models import ChatSession


def cutoff_from(raw: str) -> datetime:
    """``YYYY-MM-DD`` (midnight in TIME_ZONE) or an ISO 8601 date-time."""
    try:
        moment = parse_datetime(raw)
        if moment is None:
            day = parse_date(raw)
            if day is None:
                raise ValueError
            moment = datetime.combine(day, time.min)
    except ValueError:
        raise CommandError(f"--closed-before must be YYYY-MM-DD or an ISO 8601 date-time, got {raw!r}.") from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = "Erase closed conversations (messages and events too) closed before a date."

    def add_arguments(self, parser) -> None:
        when = parser.add_mutually_exclusive_group(required=True)
        when.add_argument("--closed-before", metavar="DATE", help="YYYY-MM-DD or an ISO 8601 date-time")
        when.add_argument("--older-than-days", type=int, metavar="N", help="closed more than N days ago")
        parser.add_argument("--dry-run", action="store_true", help="only count what would be erased")

    def handle(self, *args, closed_before: str | None, older_than_days: int | None, dry_run: bool, **options):
        if older_than_days is not None:
            if older_than_days < 0:
                raise CommandError("--older-than-days must not be negative.")
            cutoff = timezone.now() - timedelta(days=older_than_days)
        else:
            cutoff = cutoff_from(closed_before)
        doomed = ChatSession.objects.filter(status=ChatSession.Status.CLOSED, closed_at__lt=cutoff)
        if dry_run:
            self.stdout.write(f"{doomed.count()} conversation(s) closed before {cutoff.isoformat()} would be erased.")
            return
        erased = 0
        for session in doomed.iterator():
            conversations.purge(session)
            erased += 1
        self.stdout.write(f"Erased {erased} conversation(s) closed before {cutoff.isoformat()}.")
