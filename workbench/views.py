"""Agent side: the queue and session pages and the agent JSON API (DESIGN §4)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from chatbot import conversations, copilot, limits, order_access, payloads, selectors
from chatbot import typing as chatbot_typing
from chatbot.exceptions import InvalidInput
from chatbot.models import ChatSession
from chatbot.views import conversation_body, earlier_messages, posted_response
from fiido.http import json_api, json_body, multipart_body
from fiido.i18n import SESSION_LANGUAGE_KEY
from workbench import assignment, canned, charts, history, presence, reading, reports
from workbench import selectors as workbench_selectors
from workbench.models import AgentPreferences
from workbench.permissions import agent_api, agent_required, reports_api, reports_required


@agent_required
@ensure_csrf_cookie
def queue_page(request: HttpRequest) -> HttpResponse:
    snapshot, _version = workbench_selectors.queue_snapshot(request.user.pk, payloads.active_language())
    return render(request, "workbench/queue.html", {"queue": snapshot})


@agent_required
@ensure_csrf_cookie
def canned_replies_page(request: HttpRequest) -> HttpResponse:
    """The agent's own canned replies, to add, edit and delete; the shared ones to read."""
    context = {"replies": canned.listing(request.user), "max_chars": settings.MESSAGE_MAX_CHARS}
    return render(request, "workbench/canned_replies.html", context)


@agent_required
@ensure_csrf_cookie
def session_page(request: HttpRequest, name: str) -> HttpResponse:
    """One conversation: its latest messages with the agents' notes among them."""
    session = selectors.get_session(name)
    state = selectors.session_with_history(session, for_agents=True)
    first = state["messages"][0]["seq"] if state["has_earlier"] and state["messages"] else 0
    notes = [note for note in selectors.notes_of(session) if note["after_seq"] >= first]
    bubbles = workbench_selectors.interleaved(state["messages"], notes)
    context = {
        "session": session,
        "state": state,
        "bubbles": bubbles,
        "previous": workbench_selectors.earlier_conversations(session),
        "orders": [payloads.order_payload(order) for order in order_access.orders_for_customer(session)],
        "attachment_max_bytes": settings.ATTACHMENT_MAX_BYTES,
        "summary": copilot.stored_summary(session),
        "copilot": copilot.enabled(),
    }
    return render(request, "workbench/session.html", context)


@json_api("GET")
@agent_api
def session_list(request: HttpRequest) -> JsonResponse:
    raw = request.GET.get("status", "")
    statuses = [s.strip() for s in raw.split(",") if s.strip()]
    unknown = set(statuses) - set(ChatSession.Status.values)
    if unknown:
        raise InvalidInput(f"Unknown status: {', '.join(sorted(unknown))}.")
    limit = selectors.parse_list_limit(request.GET.get("limit"))
    if history.wanted(request.GET):  # q, agent, since, until: the history, newest first
        filters = history.parse_filters(request.GET, viewer=request.user, statuses=statuses)
        page = history.search(filters, cursor=request.GET.get("cursor"), limit=limit)
    else:
        page = selectors.list_sessions(statuses, cursor=request.GET.get("cursor"), limit=limit)
    return JsonResponse({**page, "sessions": workbench_selectors.with_unread(page["sessions"], request.user.pk)})


@agent_required
def history_page(request: HttpRequest) -> HttpResponse:
    """Every conversation, newest first: by status, agent, dates and words (workbench/history.py)."""
    raw = request.GET.get("status", "")
    statuses = [raw] if raw in ChatSession.Status.values else []
    error, page = "", {"sessions": [], "next": None}
    try:
        filters = history.parse_filters(request.GET, viewer=request.user, statuses=statuses)
        page = history.search(filters, cursor=request.GET.get("cursor") or None, limit=selectors.SESSION_LIST_PAGE)
    except InvalidInput as refused:
        error = str(refused)
    context = {
        "page": page,
        "error": error,
        "form": {name: request.GET.get(name, "") for name in ("q", "status", "agent", "since", "until")},
        "statuses": ChatSession.Status.choices,
        "agents": workbench_selectors.agents_list(),
    }
    return render(request, "workbench/history.html", context, status=400 if error else 200)


@json_api("GET")
@agent_api
def session_detail(request: HttpRequest, name: str) -> JsonResponse:
    """The conversation with its latest messages and, for agents only, its notes
    and the customer's orders (all of them: the privacy rule is the customer's)."""
    session = selectors.get_session(name)
    orders = [payloads.order_payload(order) for order in order_access.orders_for_customer(session)]
    return JsonResponse(
        {
            **selectors.session_with_history(session, for_agents=True),
            "customer_name": session.customer_name,
            "customer_email": session.customer_email,
            "notes": selectors.notes_of(session),
            "summary": copilot.stored_summary(session),
            "previous": workbench_selectors.earlier_conversations(session),
            "orders": orders,
        }
    )


# The actions hand the state machine the conversation's name: its locked read
# is the only read of the row, and an unknown name is its 404.
@json_api("POST")
@agent_api
def take_over(request: HttpRequest, name: str) -> JsonResponse:
    taken = conversations.take_over(
        name, agent=request.user, max_live=assignment.max_live(request.user), language=request.LANGUAGE_CODE
    )
    return JsonResponse(payloads.session_state(taken))


@json_api("POST")
@agent_api
def transfer(request: HttpRequest, name: str) -> JsonResponse:
    """``{"to": "<username>"}``: hand the live conversation to another active agent."""
    session = selectors.get_session(name)
    target = workbench_selectors.agent_named(json_body(request).get("to"))
    if target is None:
        raise InvalidInput("to must be the username of an active agent.")
    moved = conversations.transfer(session, by=request.user, to=target, max_live=assignment.max_live(target))
    return JsonResponse(payloads.session_state(moved))


@json_api("POST")
@agent_api
def return_to_queue(request: HttpRequest, name: str) -> JsonResponse:
    session = selectors.get_session(name)
    return JsonResponse(payloads.session_state(conversations.return_to_queue(session, by=request.user)))


@json_api("POST")
@agent_api
def add_note(request: HttpRequest, name: str) -> JsonResponse:
    """A private note: 201 ``{"note"}``; a repeated ``client_id`` 200 with the same body."""
    session = selectors.get_session(name)
    data = json_body(request)
    content = data.get("content")
    mentioned = workbench_selectors.mentioned_agents(content) if isinstance(content, str) else []
    noted = conversations.add_note(
        session, agent=request.user, content=content, client_id=data.get("client_id"), mentioned=mentioned
    )
    note = payloads.localized_message(noted.note, payloads.active_language())
    return JsonResponse({"note": note}, status=201 if noted.created else 200)


@json_api("POST")
@agent_api
def mark_read(request: HttpRequest, name: str) -> HttpResponse:
    """``{"seq": N}``: this agent has read the conversation up to event N (204)."""
    session = selectors.get_session(name)
    reading.mark_read(request.user, session, json_body(request).get("seq"))
    return HttpResponse(status=204)


@json_api("PUT")
@agent_api
def my_presence(request: HttpRequest) -> JsonResponse:
    """``{"presence": "online" | "away"}``: what the agent says; every agent's queue learns it."""
    now = presence.set_presence(request.user, json_body(request).get("presence"))
    return JsonResponse({"username": request.user.get_username(), "presence": now})


@json_api("GET")
@agent_api
def agent_list(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"agents": workbench_selectors.agents_list()})


@json_api("GET", "POST")
@agent_api
def canned_replies(request: HttpRequest) -> JsonResponse:
    """GET: the caller's and the shared replies (``?q=``); POST: a new personal one (201)."""
    if request.method == "GET":
        return JsonResponse({"canned_replies": canned.search(request.user, request.GET.get("q"))})
    reply = canned.create(request.user, json_body(request))
    return JsonResponse(canned.as_json(reply), status=201)


@json_api("PATCH", "DELETE")
@agent_api
def canned_reply(request: HttpRequest, reply_id: str) -> HttpResponse:
    """PATCH: edit one of the caller's own replies; DELETE: remove it (204)."""
    reply_id = canned.parse_id(reply_id)
    if request.method == "DELETE":
        canned.delete(request.user, reply_id)
        return HttpResponse(status=204)
    return JsonResponse(canned.as_json(canned.update(request.user, reply_id, json_body(request))))


@json_api("GET")
@agent_api
def filled_canned_reply(request: HttpRequest, name: str, reply_id: str) -> JsonResponse:
    """``{"body"}``: the reply filled in for this conversation (its placeholders)."""
    session = selectors.get_session(name)
    reply_id = canned.parse_id(reply_id)
    return JsonResponse({"body": canned.fill(request.user, reply_id, session)})


@json_api("POST")
@agent_api
def typing(request: HttpRequest, name: str) -> HttpResponse:
    """The holding agent is typing: 204; the customer's streams are told (never what)."""
    session = selectors.get_session(name)
    text = json_body(request).get("text")
    refused = limits.typing_refusal(request, "agent", name)
    if refused is not None:
        return refused
    chatbot_typing.agent_is_typing(session, agent=request.user, text=text)
    return HttpResponse(status=204)


@json_api("GET", "POST")
@agent_api
def summary(request: HttpRequest, name: str) -> JsonResponse:
    """GET: ``{"summary": {...} | null}``, the stored take-over summary; POST: make
    it again (202; it arrives as a ``summary`` event). Agents only."""
    session = selectors.get_session(name)
    if request.method == "GET":
        return JsonResponse({"summary": copilot.stored_summary(session)})
    scheduled = copilot.schedule_summary(session, language=request.LANGUAGE_CODE, again=True)
    return JsonResponse({"summary": copilot.stored_summary(session), "scheduled": scheduled}, status=202)


@json_api("POST")
@agent_api
def suggestions(request: HttpRequest, name: str) -> JsonResponse:
    """Ask for up to three suggested replies: 202 ``{"request_id"}``; they arrive
    on the agents' streams as ``suggestions`` with that id. Nothing is sent."""
    session = selectors.get_session(name)
    texts = [reply["body"] for reply in canned.listing(request.user)]
    request_id = copilot.schedule_suggestions(session, agent_language=request.LANGUAGE_CODE, canned=texts)
    return JsonResponse({"request_id": request_id}, status=202)


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
        return earlier_messages(request, selectors.get_session(name), for_agents=True)
    data = conversation_body(request, name)
    posted = conversations.post_agent_message(
        name,
        agent=request.user,
        content=data.get("content"),
        client_id=data.get("client_id"),
        language=request.LANGUAGE_CODE,
    )
    return posted_response(posted)


@json_api("POST")
@agent_api
def post_attachment(request: HttpRequest, name: str) -> JsonResponse:
    """A photo or PDF from the holding agent (multipart: ``file``, ``client_id``?): 201 ``{"message"}``."""
    session = selectors.get_session(name)
    fields, files = multipart_body(request)
    posted = conversations.post_attachment(
        session, upload=files.get("file"), client_id=fields.get("client_id"), agent=request.user
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


@json_api("GET")
@reports_api
def report_data(request: HttpRequest) -> HttpResponse:
    """``?from=&to=&group=day|agent[&tz=][&format=csv]``: the figures (workbench/reports.py)."""
    output = request.GET.get("format") or "json"
    if output not in {"json", "csv"}:
        raise InvalidInput("format must be json or csv.")
    period = reports.parse_period(request.GET)
    result = reports.report(period)
    if output == "json":
        return JsonResponse(result.as_json())
    response = HttpResponse(reports.as_csv(result), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="report-{period.start}-{period.end}-{period.group}.csv"'
    return response


@reports_required
def reports_page(request: HttpRequest) -> HttpResponse:
    """Charts by day, the table by day or agent, and the "now" strip (live from the queue stream)."""
    error = ""
    try:
        period = reports.parse_period(request.GET)
    except InvalidInput as refused:
        error, period = str(refused), reports.parse_period({"tz": ""})
    by_day = reports.report(reports.Period(period.start, period.end, period.zone, "day"))
    table = by_day if period.group == "day" else reports.report(period)
    context = {
        "period": period,
        "error": error,
        "table": table,
        "charts": charts.build(by_day),
        "now": reports.now(),
        "query": request.GET.urlencode(),
    }
    return render(request, "workbench/reports.html", context, status=400 if error else 200)
