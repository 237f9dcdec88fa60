"""``manage.py settle_report_figures``: store the report figures of closed
conversations that have none.

Every close stores its conversation's figures (chatbot/figures.py); this
catches up the conversations closed before that existed (run it once after
upgrading) or whose figures were deleted. Reports are right without it, only
slower over long ranges: a conversation without figures is read from its log.
Run one at a time.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from chatbot import figures


class Command(BaseCommand):
    help = "Store the report figures of closed conversations that have none (after an upgrade)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch", type=int, default=figures.BATCH, help="conversations per statement")

    def handle(self, *args, batch: int, **options) -> None:
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        settled = figures.settle_all(batch=batch)
        self.stdout.write(f"{settled} conversations settled.")
