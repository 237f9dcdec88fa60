"""Logging in brings the agent's chosen language along; logging out ends the
agent's open streams at once, on every worker; a change in the queue or in an
agent's room starts automatic assignment (AUTO_ASSIGN); an agent who leaves
the desk (deleted, deactivated, out of the agents group) hands their live
conversations back to the queue."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import m2m_changed, post_save, pre_delete
from django.dispatch import receiver

from chatbot.conversations import hand_back_held
from chatbot.signals import desk_changed
from fiido.i18n import SESSION_LANGUAGE_KEY
from fiido.realtime.groups import login_group
from fiido.realtime.publish import end_streams_on_commit
from workbench.permissions import AGENT_FLAG, AGENTS_GROUP, is_agent
from workbench.streams import revoked_event

User = get_user_model()


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


@receiver(pre_delete, sender=User)
def hand_back_before_deletion(sender, instance, **kwargs) -> None:
    """Before the row goes (and ``SET NULL`` would strand them live with nobody)."""
    hand_back_held(instance)


@receiver(post_save, sender=User)
def hand_back_when_no_longer_an_agent(sender, instance, created=False, update_fields=None, **kwargs) -> None:
    """Deactivated, or staff taken away from someone outside the agents group.
    New users and saves that touch neither flag (a login's ``last_login``) cost nothing."""
    if created or (update_fields is not None and not {"is_active", "is_staff"} & set(update_fields)):
        return
    if not is_agent(_fresh(instance)):
        hand_back_held(instance)


@receiver(m2m_changed, sender=User.groups.through)
def hand_back_when_out_of_the_agents_group(sender, instance, action, reverse, pk_set=None, **kwargs) -> None:
    """Out of the agents group, from either side: ``user.groups.remove(…)``, or
    the group's members removed or cleared (whose members, read before the clear)."""
    if reverse and instance.name != AGENTS_GROUP:
        return
    if reverse and action == "pre_clear":
        instance._members_before_clear = list(instance.user_set.values_list("pk", flat=True))
        return
    if action not in ("post_remove", "post_clear"):
        return
    if not reverse:
        users = [instance]
    else:
        pks = pk_set if action == "post_remove" else instance.__dict__.pop("_members_before_clear", [])
        users = list(User.objects.filter(pk__in=pks))
    for user in users:
        if not is_agent(_fresh(user)):
            hand_back_held(user)


def _fresh(user):
    """The user without a group membership remembered from when it was loaded."""
    user.__dict__.pop(AGENT_FLAG, None)
    return user
