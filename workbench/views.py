"""Agent side: the queue and session pages and the agent JSON API (DESIGN §4)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from chatbot import conversations, payloads, selectors
from chatbot.exceptions import InvalidInput
from chatbot.models import ChatSession
from chatbot.views import conversation_body, earlier_messages, posted_response
from fiido.http import json_api
from fiido.i18n import SESSION_LANGUAGE_KEY
from workbench.models import AgentPreferences
from workbench.permissions import agent_api, agent_required


@agent_required
@ensure_csrf_cookie
def queue_page(request: HttpRequest) -> HttpResponse:
    snapshot, _version = selectors.queue_snapshot()
    return render(request, "workbench/queue.html", {"queue": snapshot})


@agent_required
@ensure_csrf_cookie
def session_page(request: HttpRequest, name: str) -> HttpResponse:
    session = selectors.get_session(name)
    return render(
        request,
        "workbench/session.html",
        {"session": session, "state": selectors.session_with_history(session)},
    )


@json_api("GET")
@agent_api
def session_list(request: HttpRequest) -> JsonResponse:
    raw = request.GET.get("status", "")
    statuses = [s.strip() for s in raw.split(",") if s.strip()]
    unknown = set(statuses) - set(ChatSession.Status.values)
    if unknown:
        raise InvalidInput(f"Unknown status: {', '.join(sorted(unknown))}.")
    limit = selectors.parse_list_limit(request.GET.get("limit"))
    return JsonResponse(selectors.list_sessions(statuses, cursor=request.GET.get("cursor"), limit=limit))


@json_api("GET")
@agent_api
def session_detail(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse(selectors.session_with_history(selectors.get_session(name)))


# The actions hand the state machine the conversation's name: its locked read
# is the only read of the row, and an unknown name is its 404.
@json_api("POST")
@agent_api
def take_over(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse(payloads.session_state(conversations.take_over(name, agent=request.user)))


@json_api("POST")
@agent_api
def release(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse(payloads.session_state(conversations.release(name, by=request.user)))


@json_api("POST")
@agent_api
def close(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse(payloads.session_state(conversations.close(name, by=request.user)))


@json_api("GET", "POST")
@agent_api
def messages(request: HttpRequest, name: str) -> JsonResponse:
    """GET: a page of earlier messages (``?before=<seq>&limit=``); POST: send one."""
    if request.method == "GET":
        return earlier_messages(request, selectors.get_session(name))
    data = conversation_body(request, name)
    posted = conversations.post_agent_message(
        name, agent=request.user, content=data.get("content"), client_id=data.get("client_id")
    )
    return posted_response(posted)


@agent_required
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The header's language switch: kept on the agent (``AgentPreferences``) and in
    their login session, so pages and streams follow it without a query."""
    language = request.POST.get("language", "")
    if language not in settings.AGENT_LANGUAGES:
        return HttpResponseBadRequest("Unknown language.", content_type="text/plain")
    AgentPreferences.objects.update_or_create(user=request.user, defaults={"language": language})
    request.session[SESSION_LANGUAGE_KEY] = language
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("workbench:queue")
    return redirect(target)
