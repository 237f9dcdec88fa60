"""``manage.py seed_demo``: the demo agent and the bot's demo data, for development.

The demo agent's password is printed in the README, so this command never
runs in production by accident: it refuses while ``DEBUG`` is off unless told
``--force-demo-login``, and it never touches a user that already exists (an
administrator's password or deactivation stands). ``fiido.W003`` warns when the
demo login works on a deployment with ``DEBUG`` off.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from chatbot.demo import seed_orders_and_faq
from workbench.management.commands.create_agent import ensure_agent

DEMO_AGENT = "alice"
DEMO_PASSWORD = "fiido-demo"


class Command(BaseCommand):
    help = "Create the demo agent (only if no such user exists) and the bot's demo orders and FAQ. Development only."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--force-demo-login",
            action="store_true",
            help="run even with DEBUG off, creating a login whose password is public (never on a real deployment)",
        )

    def handle(self, *args, force_demo_login: bool = False, **options) -> None:
        if not settings.DEBUG and not force_demo_login:
            raise CommandError(
                "seed_demo creates a login with a public password and is for development (DEBUG on). "
                "Create real agents with `manage.py create_agent NAME --password ...`; "
                "pass --force-demo-login only on a throw-away deployment."
            )
        seed_orders_and_faq()
        self.stdout.write(
            "Demo FAQ and orders: try “Where is my order UK22080? My email is oliver@example.com” "
            "(orders are shown only with the email they were placed with: also US10432 emma@example.com, "
            "EU30517 lena@example.com, DE41290 jonas@example.com, PL50321 anna@example.com)"
        )
        if get_user_model().objects.filter(username=DEMO_AGENT).exists():
            self.stdout.write(f"A user named {DEMO_AGENT!r} already exists; left as it is (no demo login created).")
            return
        ensure_agent(DEMO_AGENT, DEMO_PASSWORD, first_name="Alice")
        self.stdout.write(
            f"Demo agent: username {DEMO_AGENT!r}, password {DEMO_PASSWORD!r} "
            "(log in at http://127.0.0.1:8000/workbench/login/)"
        )
