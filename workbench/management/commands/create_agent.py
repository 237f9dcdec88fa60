"""``manage.py create_agent NAME --password P``: make or update an agent."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from workbench.permissions import AGENTS_GROUP


def ensure_agent(username: str, password: str | None, *, first_name: str = "") -> tuple[object, bool]:
    """Create or update the user ``username`` and put it in the agents group."""
    users = get_user_model()
    user, created = users.objects.get_or_create(username=username)
    if first_name:
        user.first_name = first_name
    if password:
        user.set_password(password)
    elif created:
        user.set_unusable_password()
    user.is_active = True
    user.save()
    group, _ = Group.objects.get_or_create(name=AGENTS_GROUP)
    user.groups.add(group)
    return user, created


class Command(BaseCommand):
    help = "Create an agent (a user in the 'agents' group), or update one's password (checked by Django's validators)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--password", help="the agent's password (omit to keep it)")
        parser.add_argument("--name", default="", help="display name shown to customers")

    def handle(self, *args, username: str, password: str | None, name: str, **options) -> None:
        username = username.strip()
        if not username:
            raise CommandError("The username must not be blank.")
        if password:
            users = get_user_model()
            existing = users.objects.filter(username=username).first()
            try:
                validate_password(password, existing or users(username=username, first_name=name))
            except ValidationError as error:
                raise CommandError("The password is too weak: " + " ".join(error.messages)) from None
        _, created = ensure_agent(username, password, first_name=name)
        self.stdout.write(f"{'Created' if created else 'Updated'} agent {username}.")
