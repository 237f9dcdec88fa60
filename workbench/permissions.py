"""Who counts as an agent, and the decorators that keep everyone else out."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse

from fiido.http import error_response

AGENTS_GROUP = "agents"
# Whether the user was in the agents group when loaded: set by the
# authentication backend (workbench.backends), which loads the request's user
# with it in one query; a user loaded any other way has it looked up.
AGENT_FLAG = "in_agents_group"


def is_agent(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Agents are active users in the ``agents`` group, or staff."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff:
        return True
    member = getattr(user, AGENT_FLAG, None)
    return member if member is not None else user.groups.filter(name=AGENTS_GROUP).exists()


def agents() -> QuerySet:
    """Every active agent (the ``agents`` group, or staff)."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_staff=True) | Q(groups__name=AGENTS_GROUP))
        .distinct()
    )


def agent_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Pages: send anonymous visitors to the login page; refuse non-agents (403)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_agent(request.user):
            return HttpResponse("Agents only.", status=403, content_type="text/plain")
        return view(request, *args, **kwargs)

    return wrapper


def agent_api(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """API: 401 JSON when not logged in (fetch cannot follow a login redirect), 403 for non-agents."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return error_response("Log in as an agent first.", 401)
        if not is_agent(request.user):
            return error_response("Agents only.", 403)
        return view(request, *args, **kwargs)

    return wrapper


def can_view_reports(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Staff, and holders of ``workbench.view_reports``: an agent's rights alone
    do not show the team's figures (workbench/reports.py)."""
    return user.is_authenticated and user.is_active and (user.is_staff or user.has_perm("workbench.view_reports"))


def reports_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The reports page: anonymous visitors to the login page; others without the right, 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not can_view_reports(request.user):
            return HttpResponse("Reports are for team leads.", status=403, content_type="text/plain")
        return view(request, *args, **kwargs)

    return wrapper


def reports_api(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The reports API: 401 JSON when not logged in, 403 without the right."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return error_response("Log in first.", 401)
        if not can_view_reports(request.user):
            return error_response("Reports are for staff and holders of the view_reports permission.", 403)
        return view(request, *args, **kwargs)

    return wrapper
