"""``manage.py seed_demo``: a demo agent and demo data, safe to run again."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from chatbot.demo import seed_orders_and_faq
from workbench.management.commands.create_agent import ensure_agent

DEMO_AGENT = "alice"
DEMO_PASSWORD = "fiido-demo"


class Command(BaseCommand):
    help = "Create the demo agent (and the bot's demo orders and FAQ). Idempotent."

    def handle(self, *args, **options) -> None:
        ensure_agent(DEMO_AGENT, DEMO_PASSWORD, first_name="Alice")
        seed_orders_and_faq()
        self.stdout.write(
            "Demo FAQ and orders: try “Where is my order UK22080?” (also US10432, EU30517, DE41290, PL50321)"
        )
        self.stdout.write(
            f"Demo agent: username {DEMO_AGENT!r}, password {DEMO_PASSWORD!r} "
            "(log in at http://127.0.0.1:8000/workbench/login/)"
        )
