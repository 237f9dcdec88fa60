"""``manage.py close_idle_conversations``: warn and close quiet conversations now.

Every worker already does this every ``IDLE_SWEEP_SECONDS`` (chatbot/idle.py);
this is for deployments that turn that off (``IDLE_SWEEP_SECONDS=0``) and run
it from cron instead.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from chatbot import idle


class Command(BaseCommand):
    help = "Warn, then close, conversations that have been quiet longer than IDLE_CLOSE_* allow."

    def handle(self, *args, **options) -> None:
        swept = idle.sweep()
        self.stdout.write(f"{swept.warned} warned, {swept.closed} closed.")
