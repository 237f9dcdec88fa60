"""Logging in brings the agent's chosen language along; logging out ends the
agent's open streams at once, on every worker; a change in the queue or in an
agent's room starts automatic assignment (AUTO_ASSIGN)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from chatbot.signals import desk_changed
from fiido.i18n import SESSION_LANGUAGE_KEY
from fiido.realtime.groups import login_group
from fiido.realtime.publish import end_streams_on_commit
from workbench.streams import revoked_event


@receiver(user_logged_out)
def end_streams_of_the_login(sender, request, user, **kwargs) -> None:
    """The streams opened with this login session joined its login group
    (workbench.streams); they send ``revoked`` and end."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        end_streams_on_commit(login_group(session_key), revoked_event(401))


@receiver(user_logged_in)
def bring_the_agents_language(sender, request, user, **kwargs) -> None:
    """Pages and streams read the agent's language from the login session (no query per request)."""
    from workbench.models import AgentPreferences

    language = AgentPreferences.objects.filter(user=user).values_list("language", flat=True).first()
    if language and request is not None and hasattr(request, "session"):
        request.session[SESSION_LANGUAGE_KEY] = language


@receiver(desk_changed)
def assign_when_the_desk_changes(sender, session, **kwargs) -> None:
    """Someone joined the queue or an agent has room: with AUTO_ASSIGN, match them."""
    from workbench.assignment import assign_waiting

    assign_waiting()
