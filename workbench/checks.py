"""System checks of the workbench: a demo login must not survive into production."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.checks import Tags, Warning, register
from django.db import DatabaseError

from workbench.management.commands.seed_demo import DEMO_AGENT, DEMO_PASSWORD


@register(Tags.security)
def check_demo_login(app_configs, **kwargs) -> list[Warning]:
    """The demo agent's password is public (README); with DEBUG off it must not work.

    Only the demo account is tried: hashing a password costs a deliberate
    fraction of a second, too much to repeat for every user at every start.
    """
    if settings.DEBUG:
        return []
    try:
        user = get_user_model().objects.filter(username=DEMO_AGENT, is_active=True).first()
    except DatabaseError:  # not migrated yet: nothing to warn about
        return []
    if user is not None and user.has_usable_password() and user.check_password(DEMO_PASSWORD):
        return [
            Warning(
                f"The demo agent {DEMO_AGENT!r} still has the public demo password while DEBUG is off.",
                hint=f"Run `manage.py create_agent {DEMO_AGENT} --password ...` with a new password, "
                "or deactivate the user in the admin.",
                id="fiido.W003",
            )
        ]
    return []
