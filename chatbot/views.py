"""Customer side: the chat page and the JSON API (DESIGN §4). Views stay thin:
access check, parse, one domain call, JSON out."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

from chatbot import attachments, conversations, hours, limits, mail, payloads, selectors
from chatbot import typing as chatbot_typing
from chatbot.conversations import Posted
from fiido.exceptions import BadRequest
from fiido.http import json_api, json_body, multipart_body


@require_safe
@ensure_csrf_cookie
def chat_page(request: HttpRequest) -> HttpResponse:
    """The chat page: resumes the visitor's open conversation, or shows the
    assistant's greeting. Nothing is stored until the visitor writes or asks
    for a person (the page's script then starts the conversation), so loading
    the page, or a crawler, costs no rows."""
    session = selectors.current_customer_session(request.session)
    chosen = request.GET.get("c")
    if chosen and chosen in selectors.owned_names(request.session):  # one of theirs, closed ones too (an emailed link)
        session = selectors.customer_session_for(request.session, chosen)
    state = selectors.session_with_history(session) if session else selectors.no_conversation_yet()
    context = {
        "session": session,
        "state": state,
        "typing_preview": settings.TYPING_PREVIEW,
        "attachment_max_bytes": settings.ATTACHMENT_MAX_BYTES,
        "message_max_chars": settings.MESSAGE_MAX_CHARS,
    }
    return render(request, "chatbot/chat.html", context)


@json_api("POST")
@limits.limit_new_sessions
def start_session(request: HttpRequest) -> JsonResponse:
    data = json_body(request)
    session = conversations.start(
        customer_name=data.get("customer_name", ""),
        customer_email=data.get("customer_email", ""),
        visitor=selectors.visitor_of(request),
    )
    selectors.remember_owner(request, session)
    return JsonResponse(selectors.session_with_history(session), status=201)


@json_api("GET", "PATCH")
@ensure_csrf_cookie
def session_detail(request: HttpRequest, name: str) -> JsonResponse:
    """GET: the state (``?history=1``: with the latest messages); PATCH: who the
    customer is (``{"customer_name"?, "customer_email"?}``)."""
    session = selectors.access_customer_session(request, name)
    if request.method == "PATCH":
        return JsonResponse(customer_state(conversations.identify(session, details=json_body(request))))
    if request.GET.get("history") in {"1", "true"}:
        return JsonResponse({**selectors.session_with_history(session), **_position(session)})
    return JsonResponse(customer_state(session))


@json_api("GET", "POST")
def messages(request: HttpRequest, name: str) -> JsonResponse:
    """GET: a page of earlier messages (``?before=<seq>&limit=``); POST: send one."""
    if request.method == "GET":
        session = selectors.access_customer_session(request, name)
        return earlier_messages(request, session)
    return post_message(request, name)


def earlier_messages(request: HttpRequest, session, *, for_agents: bool = False) -> JsonResponse:
    """The page of messages before ``?before=`` (default: the latest), both sides' pages use it."""
    before, limit = selectors.parse_page_request(request.GET.get("before"), request.GET.get("limit"))
    return JsonResponse(selectors.history(session, before=before, limit=limit, for_agents=for_agents))


# The actions below hand the state machine the conversation's name: its locked
# read is the only read of the row, and an unknown name is its 404.
@limits.limit_customer_messages
def post_message(request: HttpRequest, name: str) -> JsonResponse:
    name = selectors.owned_name(request, name)
    data = conversation_body(request, name)
    posted = conversations.post_customer_message(name, content=data.get("content"), client_id=data.get("client_id"))
    return posted_response(posted)


@json_api("POST")
@limits.limit_customer_attachments
def post_attachment(request: HttpRequest, name: str) -> JsonResponse:
    """A photo or PDF (multipart: ``file``, ``client_id``?): 201 ``{"message", "reply"}``."""
    session = selectors.access_customer_session(request, name)
    fields, files = multipart_body(request)
    posted = conversations.post_attachment(session, upload=files.get("file"), client_id=fields.get("client_id"))
    return posted_response(posted)


@json_api("GET")
def attachment(request: HttpRequest, name: str, attachment_id: str) -> HttpResponse:
    """A photo or file of the conversation (``?thumbnail=1``: an image's small copy),
    for its customer and agents only."""
    found = selectors.access_attachment(request, name, attachment_id)
    return attachments.file_response(found, thumbnail=request.GET.get("thumbnail") == "1")


@json_api("POST")
@limits.limit_escalations
def escalate(request: HttpRequest, name: str) -> JsonResponse:
    name = selectors.owned_name(request, name)
    reason = conversation_body(request, name).get("reason", "")
    # Support closed (the hours, or nobody online): a message left to be answered by email.
    offline = not hours.status()["open"]
    return JsonResponse(customer_state(conversations.escalate(name, reason=reason, offline=offline)))


@json_api("GET")
def support_status(request: HttpRequest) -> JsonResponse:
    """``{"open", "next_open"}``: whether a person answers now, and when the hours open next."""
    return JsonResponse(hours.status())


@require_safe
def resume(request: HttpRequest, token: str) -> HttpResponse:
    """An emailed link back into a conversation: this browser owns it again."""
    session = mail.resumed_session(token)
    if session is None:
        return render(request, "chatbot/link_expired.html", status=400)
    selectors.remember_owner(request, session)
    return redirect(f"{reverse('chatbot:chat')}?c={session.name}")


@json_api("POST")
def cancel_escalation(request: HttpRequest, name: str) -> JsonResponse:
    name = selectors.owned_name(request, name)
    return JsonResponse(customer_state(conversations.cancel_escalation(name)))


@json_api("POST")
def close(request: HttpRequest, name: str) -> JsonResponse:
    name = selectors.owned_name(request, name)
    return JsonResponse(customer_state(conversations.close(name)))


@json_api("POST")
def rate(request: HttpRequest, name: str) -> JsonResponse:
    """``{"score": 1..5, "comment"?}`` for the visitor's closed conversation: 201
    ``{"rating"}``; open (409), already rated (409), bad input (400)."""
    name = selectors.owned_name(request, name)
    data = conversation_body(request, name)
    rating = conversations.rate(name, score=data.get("score"), comment=data.get("comment", ""))
    return JsonResponse({"rating": payloads.rating_payload(rating)}, status=201)


def conversation_body(request: HttpRequest, name: str) -> dict:
    """The request's JSON object. A malformed body is a 400 only for a
    conversation that exists: for an unknown name the 404 comes first."""
    try:
        return json_body(request)
    except BadRequest:
        selectors.get_session(name)
        raise


def customer_state(session) -> dict:
    """The session's state as its customer sees it: with their place in the queue."""
    return {**payloads.session_state(session), **_position(session)}


def _position(session) -> dict:
    return {"queue_position": selectors.queue_position(session)}  # None unless waiting


@json_api("POST")
def typing(request: HttpRequest, name: str) -> HttpResponse:
    """The customer is typing (``{"text"?}``, shown to agents only with TYPING_PREVIEW): 204."""
    session = selectors.access_customer_session(request, name)
    text = json_body(request).get("text")
    refused = limits.typing_refusal(request, "user", name)
    if refused is not None:
        return refused
    chatbot_typing.customer_is_typing(session, text=text)
    return HttpResponse(status=204)


def posted_response(posted: Posted) -> JsonResponse:
    """201 for a new message, 200 with the same body for a repeated ``client_id``;
    rendered in the caller's language, as their stream would show it."""
    language = payloads.active_language()
    message = payloads.localized_message(posted.message, language)
    reply = payloads.localized_message(posted.reply, language) if posted.reply else None
    return JsonResponse({"message": message, "reply": reply}, status=201 if posted.created else 200)
