"""The OpenAPI 3.1 description of the JSON API (DESIGN §4), served at ``/api/schema/``.

Written by hand, next to the views it describes: a change to an endpoint's
shape changes this file too, and ``tests/test_schemathesis.py`` checks the
live server against it (no 500s, every response as described).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

STATUSES = ["bot_active", "pending_manual", "manual_live", "closed"]
SESSION_NAME_PATTERN = "^[A-Za-z0-9_-]{1,64}$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return {"$ref": "#/components/responses/" + description}


DATETIME = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "What was refused and why."}},
    },
    "Agent": {
        "type": "object",
        "required": ["username", "name"],
        "properties": {"username": {"type": "string"}, "name": {"type": "string"}},
    },
    "SessionState": {
        "type": "object",
        "required": [
            "session_name",
            "status",
            "assigned_agent",
            "escalation_reason",
            "escalated_at",
            "message_count",
            "last_event_id",
        ],
        "properties": {
            "session_name": {"type": "string", "pattern": SESSION_NAME_PATTERN},
            "status": {"type": "string", "enum": STATUSES},
            "assigned_agent": _nullable(_ref("Agent")),
            "escalation_reason": {"type": "string"},
            "escalated_at": _nullable(DATETIME),
            "message_count": {"type": "integer", "minimum": 0},
            "last_event_id": {"type": "integer", "minimum": 0, "description": "The session's newest event seq."},
            "offline_request": {
                "type": "boolean",
                "description": "Asked for a person while support was closed: answered by email.",
            },
            "created_at": DATETIME,
            "updated_at": DATETIME,
            "queue_position": _nullable(
                {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Customer API: the place in the queue while waiting (1 = next), else null. "
                    "The customer's stream is told each change as a `queue_position` event.",
                }
            ),
        },
    },
    "SessionWithHistory": {
        "allOf": [
            _ref("SessionState"),
            _ref("MessagePage"),
        ]
    },
    "AgentSessionDetail": {
        "allOf": [
            _ref("SessionWithHistory"),
            {
                "type": "object",
                "required": ["notes", "orders", "summary"],
                "properties": {
                    "notes": {"type": "array", "items": _ref("Note"), "description": "Agents only."},
                    "summary": {**_nullable(_ref("Summary")), "description": "The take-over summary (COPILOT)."},
                    "orders": {
                        "type": "array",
                        "items": _ref("OrderSummary"),
                        "description": (
                            "Every order placed with the conversation's customer_email, newest first, at most 10, "
                            "from ORDER_SOURCE (agents see them all; customers only their own). Empty without an "
                            "email, and when the order source fails."
                        ),
                    },
                },
            },
        ]
    },
    "OrderSummary": {
        "type": "object",
        "required": [
            "number",
            "status",
            "status_label",
            "total",
            "total_display",
            "currency",
            "placed_at",
            "items",
            "shipments",
        ],
        "properties": {
            "number": {"type": "string", "description": "UK22080"},
            "status": {
                "type": "string",
                "description": "pending, processing, partially_shipped, shipped, delivered, refunded or cancelled",
            },
            "status_label": {"type": "string", "description": "The status in the agent's language."},
            "total": {"type": "string", "description": "A decimal: 1048.00"},
            "total_display": {"type": "string", "description": "£1,048.00"},
            "currency": {"type": "string", "description": "ISO 4217"},
            "placed_at": DATETIME,
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "quantity", "price", "status", "url"],
                    "properties": {
                        "name": {"type": "string"},
                        "quantity": {"type": "integer"},
                        "price": {"type": "string", "description": "The line's price, formatted."},
                        "status": {"type": "string", "description": "The product card's status."},
                        "url": {"type": "string", "description": "The product page (http(s) only), or empty."},
                    },
                },
            },
            "shipments": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["carrier", "tracking_number", "tracking_url", "status"],
                    "properties": {
                        "carrier": {"type": "string"},
                        "tracking_number": {"type": "string"},
                        "tracking_url": {"type": "string", "description": "http(s) only, or empty."},
                        "status": {"type": "string"},
                    },
                },
            },
        },
    },
    "MessagePage": {
        "type": "object",
        "required": ["messages", "has_earlier"],
        "properties": {
            "messages": {
                "type": "array",
                "items": _ref("Message"),
                "description": "At most one page (50 by default), oldest first.",
            },
            "has_earlier": {"type": "boolean", "description": "Earlier messages exist: ask with ?before=<first seq>."},
        },
    },
    "TextPart": {
        "type": "object",
        "required": ["type", "text"],
        "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
    },
    "CardPart": {
        "type": "object",
        "required": ["type", "title"],
        "properties": {
            "type": {"const": "card"},
            "image": {"type": "string"},
            "title": {"type": "string"},
            "quantity": {"type": "string"},
            "price": {"type": "string"},
            "status": {"type": "string"},
            "carrier": {"type": "string"},
            "tracking_number": {"type": "string"},
            "tracking_url": {"type": "string"},
        },
    },
    "ImagePart": {
        "type": "object",
        "required": ["type", "url", "name", "size", "content_type", "width", "height", "thumbnail"],
        "properties": {
            "type": {"const": "image"},
            "url": {"type": "string", "description": "The full photo; only its customer and agents get it."},
            "name": {"type": "string", "description": "The sender's file name, with its real type's extension."},
            "size": {"type": "integer", "minimum": 1, "description": "Bytes, as stored (re-encoded)."},
            "content_type": {"type": "string", "enum": ["image/jpeg", "image/png", "image/webp"]},
            "width": {"type": "integer", "minimum": 1},
            "height": {"type": "integer", "minimum": 1},
            "thumbnail": {"type": "string", "description": "A small WebP copy (the url itself when small already)."},
        },
    },
    "FilePart": {
        "type": "object",
        "required": ["type", "url", "name", "size", "content_type"],
        "properties": {
            "type": {"const": "file"},
            "url": {"type": "string", "description": "The file, as a download; only its customer and agents get it."},
            "name": {"type": "string"},
            "size": {"type": "integer", "minimum": 1},
            "content_type": {"const": "application/pdf"},
        },
    },
    "AttachmentUpload": {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {
                "type": "string",
                "format": "binary",
                "description": "A JPEG, PNG or WebP photo or a PDF (judged by content), at most ATTACHMENT_MAX_BYTES.",
            },
            "client_id": {"type": "string", "format": "uuid"},
        },
    },
    "Message": {
        "type": "object",
        "required": [
            "id",
            "seq",
            "role",
            "content",
            "code",
            "params",
            "name",
            "agent",
            "client_id",
            "created_at",
            "parts",
            "html",
        ],
        "properties": {
            "id": {"type": "integer"},
            "seq": {"type": "integer", "minimum": 1},
            "role": {"type": "string", "enum": ["user", "bot", "agent", "system"]},
            "content": {"type": "string", "description": "A system message's is in the reader's language."},
            "code": {"type": "string", "description": "A system message's kind (agent_joined, ...); else empty."},
            "params": {"type": "object", "description": "A system message's parameters (agent: a name)."},
            "name": {"type": "string", "description": "The speaker's own name (an agent's, a customer's if given)."},
            "agent": _nullable(_ref("Agent")),
            "client_id": {"type": "string", "format": "uuid"},
            "created_at": DATETIME,
            "parts": {
                "type": "array",
                "items": {"oneOf": [_ref("TextPart"), _ref("CardPart"), _ref("ImagePart"), _ref("FilePart")]},
            },
            "html": {"type": "string", "description": "The rendered message bubble, in the reader's language."},
            "translation": {
                **_ref("Translation"),
                "description": "With TRANSLATION on, in history only: the stored machine translation this reader "
                "may see (agents: a customer's message in their language; customers: an agent's in theirs).",
            },
        },
    },
    "Translation": {
        "type": "object",
        "required": ["language", "source_language", "source_name", "text", "missing", "replaces"],
        "properties": {
            "language": {"type": "string"},
            "source_language": {"type": "string", "description": "What the original was written in."},
            "source_name": {"type": "string", "description": 'That language\'s name ("简体中文").'},
            "text": {"type": "string", "description": "Empty while missing."},
            "missing": {"type": "boolean", "description": "The LLM failed; a periodic retry fills it in."},
            "replaces": {"type": "boolean", "description": "The customer's view: shown instead of the original."},
        },
    },
    "Summary": {
        "type": "object",
        "required": ["text", "upto_seq", "created_at"],
        "properties": {
            "text": {
                "type": "string",
                "description": "Three lines: what the customer wants, orders, what the bot said.",
            },
            "upto_seq": {"type": "integer", "minimum": 0, "description": "The newest event it covers."},
            "created_at": DATETIME,
        },
    },
    "Posted": {
        "type": "object",
        "required": ["message", "reply"],
        "properties": {"message": _ref("Message"), "reply": _nullable(_ref("Message"))},
    },
    "SessionRow": {
        "allOf": [
            _ref("SessionState"),
            {
                "type": "object",
                "required": ["customer_name", "language", "waiting_seconds", "last_message"],
                "properties": {
                    "customer_name": {"type": "string"},
                    "customer_email": {"type": "string"},
                    "language": {"type": "string", "description": "The customer's language (en, de, ...)."},
                    "unread_count": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Customer messages the calling agent has not read (agents' API only).",
                    },
                    "waiting_seconds": _nullable({"type": "integer"}),
                    "last_message": _nullable(
                        {
                            "type": "object",
                            "required": ["role", "text", "created_at"],
                            "properties": {
                                "role": {"type": "string"},
                                "text": {"type": "string"},
                                "created_at": _nullable(DATETIME),
                            },
                        }
                    ),
                },
            },
        ]
    },
    "SessionList": {
        "type": "object",
        "required": ["sessions", "next"],
        "properties": {
            "sessions": {"type": "array", "items": _ref("SessionRow")},
            "next": _nullable({"type": "string", "description": "The cursor of the next page."}),
        },
    },
    "NewSession": {
        "type": "object",
        "properties": {
            "customer_name": {"type": "string", "maxLength": 100},
            "customer_email": {"type": "string", "maxLength": 254},
        },
    },
    "CustomerDetails": {
        "type": "object",
        "properties": {
            "customer_name": {"type": "string", "maxLength": 100},
            "customer_email": {"type": "string", "maxLength": 254, "description": "An email address, or empty."},
        },
    },
    "NewMessage": {
        "type": "object",
        "required": ["content"],
        "properties": {
            "content": {"type": "string", "minLength": 1, "description": "At most MESSAGE_MAX_CHARS characters."},
            "client_id": {
                "type": "string",
                "format": "uuid",
                "description": "Makes the send idempotent: a repeat returns the original with 200.",
            },
        },
    },
    "Note": {
        "type": "object",
        "required": [
            "id",
            "seq",
            "after_seq",
            "role",
            "content",
            "author",
            "mentions",
            "client_id",
            "created_at",
            "html",
        ],
        "properties": {
            "id": {"type": "string", "description": "note-<seq>"},
            "seq": {"type": "integer", "minimum": 1, "description": "Its number in the session's notes log."},
            "after_seq": {"type": "integer", "minimum": 0, "description": "The event seq it was written after."},
            "order": {"type": "string"},
            "role": {"const": "note"},
            "content": {"type": "string"},
            "name": {"type": "string"},
            "author": _nullable(_ref("Agent")),
            "mentions": {"type": "array", "items": {"type": "string"}},
            "client_id": {"type": "string", "format": "uuid"},
            "created_at": DATETIME,
            "parts": {"type": "array"},
            "html": {"type": "string"},
        },
    },
    "NoteBody": {
        "type": "object",
        "required": ["content"],
        "properties": {
            "content": {
                "type": "string",
                "minLength": 1,
                "description": "At most MESSAGE_MAX_CHARS; @username alerts.",
            },
            "client_id": {"type": "string", "format": "uuid"},
        },
    },
    "Transfer": {
        "type": "object",
        "required": ["to"],
        "properties": {"to": {"type": "string", "description": "The username of an active agent."}},
    },
    "Read": {
        "type": "object",
        "required": ["seq"],
        "properties": {"seq": {"type": "integer", "minimum": 0, "description": "Read up to this event seq."}},
    },
    "AgentList": {
        "type": "object",
        "required": ["agents"],
        "properties": {
            "agents": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["username", "name", "presence", "live_count", "max_live"],
                    "properties": {
                        "username": {"type": "string"},
                        "name": {"type": "string"},
                        "presence": {"type": "string", "enum": ["online", "away", "offline"]},
                        "live_count": {"type": "integer", "minimum": 0},
                        "max_live": {"type": "integer", "minimum": 1},
                    },
                },
            }
        },
    },
    "CannedReply": {
        "type": "object",
        "required": ["id", "shortcut", "title", "body", "shared"],
        "properties": {
            "id": {"type": "integer"},
            "shortcut": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"},
            "title": {"type": "string"},
            "body": {"type": "string"},
            "shared": {"type": "boolean"},
        },
    },
    "CannedReplyBody": {
        "type": "object",
        "properties": {
            "shortcut": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"},
            "title": {"type": "string", "minLength": 1, "maxLength": 100},
            "body": {"type": "string", "minLength": 1},
        },
    },
    "Typing": {
        "type": "object",
        "properties": {
            "text": {
                "type": "string",
                "description": "What the customer has typed so far: shown to agents only with TYPING_PREVIEW; "
                "an agent's is never shown.",
            }
        },
    },
    "PresenceBody": {
        "type": "object",
        "required": ["presence"],
        "properties": {"presence": {"type": "string", "enum": ["online", "away"]}},
    },
    "Escalation": {
        "type": "object",
        "properties": {"reason": {"type": "string", "maxLength": 500}},
    },
    "NewRating": {
        "type": "object",
        "required": ["score"],
        "properties": {
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
            "comment": {"type": "string", "description": "Optional; at most MESSAGE_MAX_CHARS characters."},
        },
    },
    "Rated": {
        "type": "object",
        "required": ["rating"],
        "properties": {
            "rating": {
                "type": "object",
                "required": ["score", "comment", "created_at"],
                "properties": {
                    "score": {"type": "integer", "minimum": 1, "maximum": 5},
                    "comment": {"type": "string"},
                    "created_at": DATETIME,
                },
            }
        },
    },
    "ReportFigures": {
        "type": "object",
        "description": "The figures of one row, or of the whole range (README, Reports: the definitions). "
        "Times are seconds (nearest-rank percentiles); null when there is no sample.",
        "required": [
            "conversations",
            "escalated",
            "bot_only",
            "handled",
            "wait_p50_s",
            "wait_p90_s",
            "first_response_p50_s",
            "first_response_p90_s",
            "no_reply",
            "resolution_p50_s",
            "rating_avg",
            "rating_count",
        ],
        "properties": {
            **{
                name: {"type": "integer", "minimum": 0}
                for name in ("conversations", "escalated", "bot_only", "handled", "no_reply", "rating_count")
            },
            **{
                name: _nullable({"type": "number", "minimum": 0})
                for name in (
                    "wait_p50_s",
                    "wait_p90_s",
                    "first_response_p50_s",
                    "first_response_p90_s",
                    "resolution_p50_s",
                )
            },
            "rating_avg": _nullable({"type": "number", "minimum": 1, "maximum": 5}),
        },
    },
    "Report": {
        "type": "object",
        "required": ["rows", "totals"],
        "properties": {
            "rows": {
                "type": "array",
                "items": {
                    "allOf": [
                        _ref("ReportFigures"),
                        {
                            "type": "object",
                            "required": ["key"],
                            "properties": {
                                "key": {
                                    "type": "string",
                                    "description": "The day (YYYY-MM-DD, in tz) or the agent's username.",
                                }
                            },
                        },
                    ]
                },
            },
            "totals": _ref("ReportFigures"),
        },
    },
}

RESPONSES: dict[str, Any] = {
    "BadRequest": _json(_ref("Error"), "Malformed body or field (nothing changed)."),
    "Unauthorized": _json(_ref("Error"), "Not logged in (API and streams never redirect to a login page)."),
    "Forbidden": _json(_ref("Error"), "Not an agent, not the assigned agent, or a failed CSRF check."),
    "NotFound": _json(_ref("Error"), "No such session, or not the caller's."),
    "MethodNotAllowed": _json(_ref("Error"), "Wrong method."),
    "Conflict": _json(_ref("Error"), "The session's status does not allow this (nothing changed)."),
    "TooLarge": _json(_ref("Error"), "The request body (or the file it carries) is larger than the API accepts."),
    "UnsupportedMediaType": _json(
        _ref("Error"), "Not a multipart upload, or a file that is not a JPEG, PNG, WebP or PDF by its content."
    ),
    "TooManyRequests": {
        **_json(_ref("Error"), "Over a rate limit; retry after the given seconds."),
        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    },
}

SSE_RESPONSE = {
    "description": (
        "A Server-Sent Events stream (DESIGN §5): unnamed events whose data is one JSON object with a "
        "`type` (connected, history, message, status, heartbeat; typing and, for a waiting customer, "
        "queue_position; translation when TRANSLATION is on; note, summary and suggestions on agents' "
        "session streams; queue, presence, alert and read on the queue "
        "stream; deleted or revoked as a stream's last event). Only message and status events carry an "
        "`id:`. Resumes after the `Last-Event-ID` header or `last_event_id` query parameter."
    ),
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}

NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "The session's public name.",
    "schema": {"type": "string", "pattern": SESSION_NAME_PATTERN},
}
PAGE = [
    {
        "name": "before",
        "in": "query",
        "required": False,
        "description": "Messages with a smaller seq (default: the latest).",
        "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "At most this many (1-200, default 50).",
        "schema": {"type": "string", "pattern": "^[0-9]{1,3}$"},
    },
]
REPLY_ID = {"name": "reply_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
LAST_EVENT_ID = [
    {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}},
    {"name": "last_event_id", "in": "query", "required": False, "schema": {"type": "string"}},
]


def _errors(*names: str) -> dict[str, Any]:
    codes = {
        "BadRequest": "400",
        "Unauthorized": "401",
        "Forbidden": "403",
        "NotFound": "404",
        "MethodNotAllowed": "405",
        "Conflict": "409",
        "TooLarge": "413",
        "UnsupportedMediaType": "415",
        "TooManyRequests": "429",
    }
    return {codes[name]: _error(name) for name in names}


def _body(schema_name: str, *, required: bool = False) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": _ref(schema_name)}}}


def _upload_body() -> dict[str, Any]:
    return {"required": True, "content": {"multipart/form-data": {"schema": _ref("AttachmentUpload")}}}


FILE_HEADERS = {
    "X-Content-Type-Options": {"required": True, "schema": {"const": "nosniff"}},
    "Content-Security-Policy": {"required": True, "schema": {"const": "default-src 'none'; sandbox"}},
    "Content-Disposition": {
        "required": True,
        "schema": {"type": "string"},
        "description": "inline for a photo, attachment for a PDF, with the file's name.",
    },
}
ATTACHMENT_ID = {"name": "attachment_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def _op(summary: str, tag: str, responses: dict[str, Any], *, post: bool = False, **extra: Any) -> dict[str, Any]:
    """One operation; POSTs need the session cookie and the CSRF header."""
    security = [{"session": [], "csrf": []}] if post or "requestBody" in extra else [{"session": []}]
    return {"summary": summary, "tags": [tag], "security": security, "responses": responses, **extra}


CUSTOMER_ERRORS = ("BadRequest", "Forbidden", "NotFound", "Conflict", "TooLarge")
AGENT_ERRORS = ("BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict", "TooLarge")

PATHS: dict[str, Any] = {
    "/api/sessions": {
        "post": _op(
            "Start a conversation; it is bound to the caller's session cookie.",
            "customer",
            {
                "201": _json(_ref("SessionWithHistory"), "The new session."),
                **_errors(*CUSTOMER_ERRORS, "TooManyRequests"),
            },
            requestBody=_body("NewSession"),
        )
    },
    "/api/sessions/{name}": {
        "parameters": [NAME],
        "get": _op(
            "The session's state, for polling; `history=1` adds its messages.",
            "customer",
            {
                "200": _json({"anyOf": [_ref("SessionWithHistory"), _ref("SessionState")]}, "The session's state."),
                **_errors("NotFound"),
            },
            parameters=[
                {
                    "name": "history",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["1", "true"]},
                }
            ],
        ),
        "patch": _op(
            "Say who the customer is (name, email); agents see it live. Closed: 409.",
            "customer",
            {"200": _json(_ref("SessionState"), "Updated."), **_errors(*CUSTOMER_ERRORS)},
            requestBody=_body("CustomerDetails", required=True),
        ),
    },
    "/api/sessions/{name}/messages": {
        "parameters": [NAME],
        "get": _op(
            "A page of the conversation's messages before `before`, for 'load earlier'.",
            "customer",
            {"200": _json(_ref("MessagePage"), "The page."), **_errors("BadRequest", "NotFound")},
            parameters=PAGE,
        ),
        "post": _op(
            "Send a customer message; in bot_active the bot's reply comes back too.",
            "customer",
            {
                "201": _json(_ref("Posted"), "Stored (and the bot's reply, if it answered)."),
                "200": _json(_ref("Posted"), "A repeated client_id: the original, nothing created."),
                **_errors(*CUSTOMER_ERRORS, "TooManyRequests"),
            },
            requestBody=_body("NewMessage", required=True),
        ),
    },
    "/api/sessions/{name}/escalate": {
        "parameters": [NAME],
        "post": _op(
            "Ask for a person: bot_active -> pending_manual.",
            "customer",
            {"200": _json(_ref("SessionState"), "Escalated."), **_errors(*CUSTOMER_ERRORS, "TooManyRequests")},
            requestBody=_body("Escalation"),
        ),
    },
    "/api/sessions/{name}/cancel-escalation": {
        "parameters": [NAME],
        "post": _op(
            "Stop waiting for a person: pending_manual -> bot_active.",
            "customer",
            {"200": _json(_ref("SessionState"), "Back with the bot."), **_errors(*CUSTOMER_ERRORS)},
            post=True,
        ),
    },
    "/api/sessions/{name}/close": {
        "parameters": [NAME],
        "post": _op(
            "End the conversation.",
            "customer",
            {"200": _json(_ref("SessionState"), "Closed."), **_errors(*CUSTOMER_ERRORS)},
            post=True,
        ),
    },
    "/api/sessions/{name}/rating": {
        "parameters": [NAME],
        "post": _op(
            "Rate the closed conversation, once: 1-5 and an optional comment. Still open: 409; already "
            "rated: 409 (a rating is never replaced).",
            "customer",
            {"201": _json(_ref("Rated"), "Rated."), **_errors(*CUSTOMER_ERRORS)},
            requestBody=_body("NewRating", required=True),
        ),
    },
    "/api/sessions/{name}/typing": {
        "parameters": [NAME],
        "post": _op(
            "The customer is typing: agents' streams of the session get a `typing` event (never stored).",
            "customer",
            {"204": {"description": "Signalled."}, **_errors(*CUSTOMER_ERRORS, "TooManyRequests")},
            requestBody=_body("Typing"),
        ),
    },
    "/api/support-status": {
        "get": _op(
            "Whether a person answers now (support hours, and an agent online), and when the hours open next.",
            "customer",
            {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["open", "next_open"],
                        "properties": {"open": {"type": "boolean"}, "next_open": _nullable(DATETIME)},
                    },
                    "Support's status.",
                )
            },
        ),
    },
    "/api/sessions/{name}/attachments": {
        "parameters": [NAME],
        "post": _op(
            "Send a photo or PDF (multipart: file, client_id?); in bot_active the assistant answers that an "
            "agent can see it.",
            "customer",
            {
                "201": _json(_ref("Posted"), "Stored: the message's one part is an image or a file."),
                "200": _json(_ref("Posted"), "A repeated client_id: the original, nothing stored."),
                **_errors(*CUSTOMER_ERRORS, "UnsupportedMediaType", "TooManyRequests"),
            },
            requestBody=_upload_body(),
        ),
    },
    "/api/sessions/{name}/attachments/{attachment_id}": {
        "parameters": [NAME, ATTACHMENT_ID],
        "get": _op(
            "A photo or file of the conversation, for its customer and agents only (anyone else: 404).",
            "customer",
            {
                "200": {
                    "description": "The file, as stored; never run or shown as a page.",
                    "headers": FILE_HEADERS,
                    "content": {
                        media: {"schema": {"type": "string", "format": "binary"}}
                        for media in ("image/jpeg", "image/png", "image/webp", "application/pdf")
                    },
                },
                **_errors("NotFound", "MethodNotAllowed"),
            },
            parameters=[
                {
                    "name": "thumbnail",
                    "in": "query",
                    "required": False,
                    "description": "1: a photo's small WebP copy.",
                    "schema": {"type": "string", "enum": ["1"]},
                }
            ],
        ),
    },
    "/api/sessions/{name}/events": {
        "parameters": [NAME],
        "get": _op(
            "The session's event stream, for its owner.",
            "customer",
            {"200": SSE_RESPONSE, **_errors("BadRequest", "NotFound", "MethodNotAllowed", "TooManyRequests")},
            parameters=LAST_EVENT_ID,
        ),
    },
    "/workbench/api/reports": {
        "get": _op(
            "The team's figures for a range of days, by day or by agent (staff, or the view_reports "
            "permission). A bad or reversed date, or a range over 366 days: 400.",
            "agent",
            {
                "200": {
                    "description": "The rows and the totals; with format=csv, the same as CSV (a last `total` row).",
                    "content": {
                        "application/json": {"schema": _ref("Report")},
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                **_errors("BadRequest", "Unauthorized", "Forbidden"),
            },
            parameters=[
                *(
                    {
                        "name": name,
                        "in": "query",
                        "required": False,
                        "description": description,
                        "schema": {"type": "string", "format": "date"},
                    }
                    for name, description in (
                        ("from", "The first day (YYYY-MM-DD); default six days before `to`."),
                        ("to", "The last day, included; default today (in `tz`)."),
                    )
                ),
                {"name": "group", "in": "query", "required": False, "schema": {"enum": ["day", "agent"]}},
                {
                    "name": "tz",
                    "in": "query",
                    "required": False,
                    "description": "The time zone days are counted in (IANA name); default TIME_ZONE.",
                    "schema": {"type": "string"},
                },
                {"name": "format", "in": "query", "required": False, "schema": {"enum": ["json", "csv"]}},
            ],
        ),
    },
    "/workbench/api/sessions": {
        "get": _op(
            "A page of sessions in the given statuses (default: all but closed), waiting ones oldest first; "
            "with any of q, agent, since or until: the history, newest started first.",
            "agent",
            {"200": _json(_ref("SessionList"), "The sessions."), **_errors("BadRequest", "Unauthorized", "Forbidden")},
            parameters=[
                {
                    "name": "q",
                    "in": "query",
                    "required": False,
                    "description": "Words in the messages (all of them), or in the customer's name or email, or "
                    "the conversation's name. At most 200 characters.",
                    "schema": {"type": "string", "maxLength": 200},
                },
                {
                    "name": "agent",
                    "in": "query",
                    "required": False,
                    "description": "`me`, `anyone`, or an agent's username: conversations they held or wrote in.",
                    "schema": {"type": "string"},
                },
                {
                    "name": "since",
                    "in": "query",
                    "required": False,
                    "description": "Started on or after this day (YYYY-MM-DD, TIME_ZONE).",
                    "schema": {"type": "string", "format": "date"},
                },
                {
                    "name": "until",
                    "in": "query",
                    "required": False,
                    "description": "Started on or before this day (YYYY-MM-DD); not before `since`.",
                    "schema": {"type": "string", "format": "date"},
                },
                {
                    "name": "status",
                    "in": "query",
                    "required": False,
                    "description": "Comma-separated statuses.",
                    "schema": {"type": "string"},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "description": "At most this many (1-200, default 50).",
                    "schema": {"type": "string", "pattern": "^[0-9]{1,3}$"},
                },
                {
                    "name": "cursor",
                    "in": "query",
                    "required": False,
                    "description": "The `next` of the previous page (opaque).",
                    "schema": {"type": "string"},
                },
            ],
        )
    },
    "/workbench/api/sessions/{name}": {
        "parameters": [NAME],
        "get": _op(
            "A session with its latest messages (`has_earlier`: more before them), notes and the customer's orders.",
            "agent",
            {
                "200": _json(_ref("AgentSessionDetail"), "The session."),
                **_errors("Unauthorized", "Forbidden", "NotFound"),
            },
        ),
    },
    "/workbench/api/sessions/{name}/takeover": {
        "parameters": [NAME],
        "post": _op(
            "Take a waiting session over, exclusively: pending_manual -> manual_live (409 when taken).",
            "agent",
            {"200": _json(_ref("SessionState"), "Taken over."), **_errors(*AGENT_ERRORS)},
            post=True,
        ),
    },
    "/workbench/api/sessions/{name}/transfer": {
        "parameters": [NAME],
        "post": _op(
            "Hand a live session to another agent (the holder, or a superuser); 409 to the holder.",
            "agent",
            {"200": _json(_ref("SessionState"), "Transferred."), **_errors(*AGENT_ERRORS)},
            requestBody=_body("Transfer", required=True),
        ),
    },
    "/workbench/api/sessions/{name}/return-to-queue": {
        "parameters": [NAME],
        "post": _op(
            "Put a live session back in the queue at its old place (the holder).",
            "agent",
            {"200": _json(_ref("SessionState"), "Waiting again."), **_errors(*AGENT_ERRORS)},
            post=True,
        ),
    },
    "/workbench/api/sessions/{name}/notes": {
        "parameters": [NAME],
        "post": _op(
            "A private note (only agents ever see it); any agent, any status.",
            "agent",
            {
                "201": _json({"type": "object", "required": ["note"], "properties": {"note": _ref("Note")}}, "Stored."),
                "200": _json(
                    {"type": "object", "required": ["note"], "properties": {"note": _ref("Note")}},
                    "A repeated client_id: the original, nothing created.",
                ),
                **_errors(*AGENT_ERRORS),
            },
            requestBody=_body("NoteBody", required=True),
        ),
    },
    "/workbench/api/sessions/{name}/typing": {
        "parameters": [NAME],
        "post": _op(
            "The holding agent is typing: the customer's streams get a `typing` event (never stored).",
            "agent",
            {"204": {"description": "Signalled."}, **_errors(*AGENT_ERRORS, "TooManyRequests")},
            requestBody=_body("Typing"),
        ),
    },
    "/workbench/api/sessions/{name}/summary": {
        "parameters": [NAME],
        "get": _op(
            "The stored take-over summary (agents only; null when none was made).",
            "agent",
            {
                "200": _json(
                    {"type": "object", "required": ["summary"], "properties": {"summary": _nullable(_ref("Summary"))}},
                    "The summary.",
                ),
                **_errors("Unauthorized", "Forbidden", "NotFound"),
            },
        ),
        "post": _op(
            "Summarise again (COPILOT): 202 at once; the summary arrives on agents' streams as a `summary` event. "
            "409 while the copilot is off.",
            "agent",
            {
                "202": _json(
                    {
                        "type": "object",
                        "required": ["summary", "scheduled"],
                        "properties": {"summary": _nullable(_ref("Summary")), "scheduled": {"type": "boolean"}},
                    },
                    "Asked for; the current summary meanwhile.",
                ),
                **_errors(*AGENT_ERRORS),
            },
            post=True,
        ),
    },
    "/workbench/api/sessions/{name}/suggestions": {
        "parameters": [NAME],
        "post": _op(
            "Ask for up to three suggested replies (COPILOT): 202 with a request id at once; they arrive on the "
            "agents' streams as a `suggestions` event with that id. Nothing is sent to the customer. "
            "409 while the copilot is off.",
            "agent",
            {
                "202": _json(
                    {"type": "object", "required": ["request_id"], "properties": {"request_id": {"type": "string"}}},
                    "Asked for.",
                ),
                **_errors(*AGENT_ERRORS),
            },
            post=True,
        ),
    },
    "/workbench/api/sessions/{name}/attachments": {
        "parameters": [NAME],
        "post": _op(
            "Send a photo or PDF to the customer (multipart: file, client_id?); the holding agent only.",
            "agent",
            {
                "201": _json(_ref("Posted"), "Stored: the message's one part is an image or a file."),
                "200": _json(_ref("Posted"), "A repeated client_id: the original, nothing stored."),
                **_errors(*AGENT_ERRORS, "UnsupportedMediaType"),
            },
            requestBody=_upload_body(),
        ),
    },
    "/workbench/api/me/presence": {
        "put": _op(
            "The caller says they are online or away; every agent's queue stream gets a `presence` event.",
            "agent",
            {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["username", "presence"],
                        "properties": {
                            "username": {"type": "string"},
                            "presence": {"type": "string", "enum": ["online", "away", "offline"]},
                        },
                    },
                    "The caller's presence now (offline while no workbench page of theirs is open).",
                ),
                **_errors(*AGENT_ERRORS),
            },
            requestBody=_body("PresenceBody", required=True),
        ),
    },
    "/workbench/api/sessions/{name}/read": {
        "parameters": [NAME],
        "post": _op(
            "The caller has read the session up to an event seq (their other tabs learn it).",
            "agent",
            {"204": {"description": "Marked."}, **_errors(*AGENT_ERRORS)},
            requestBody=_body("Read", required=True),
        ),
    },
    "/workbench/api/sessions/{name}/canned-replies/{reply_id}": {
        "parameters": [NAME, REPLY_ID],
        "get": _op(
            "A canned reply's body filled in for this session ({customer_name}, {agent_name}, {order_number}).",
            "agent",
            {
                "200": _json(
                    {"type": "object", "required": ["body"], "properties": {"body": {"type": "string"}}}, "Filled in."
                ),
                **_errors("Unauthorized", "Forbidden", "NotFound"),
            },
        ),
    },
    "/workbench/api/agents": {
        "get": _op(
            "Every active agent, with how many live conversations each holds.",
            "agent",
            {"200": _json(_ref("AgentList"), "The agents."), **_errors("Unauthorized", "Forbidden")},
        ),
    },
    "/workbench/api/canned-replies": {
        "get": _op(
            "The shared and the caller's own canned replies, most used first (`q` filters).",
            "agent",
            {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["canned_replies"],
                        "properties": {"canned_replies": {"type": "array", "items": _ref("CannedReply")}},
                    },
                    "The replies.",
                ),
                **_errors("BadRequest", "Unauthorized", "Forbidden"),
            },
            parameters=[{"name": "q", "in": "query", "required": False, "schema": {"type": "string"}}],
        ),
        "post": _op(
            "A personal canned reply (a shortcut the caller already has: 409).",
            "agent",
            {"201": _json(_ref("CannedReply"), "Created."), **_errors(*AGENT_ERRORS)},
            requestBody=_body("CannedReplyBody", required=True),
        ),
    },
    "/workbench/api/canned-replies/{reply_id}": {
        "parameters": [REPLY_ID],
        "patch": _op(
            "Edit one of the caller's own replies (another's: 404; a shared one: 403).",
            "agent",
            {"200": _json(_ref("CannedReply"), "Edited."), **_errors(*AGENT_ERRORS)},
            requestBody=_body("CannedReplyBody", required=True),
        ),
        "delete": _op(
            "Delete one of the caller's own replies.",
            "agent",
            {"204": {"description": "Deleted."}, **_errors("Unauthorized", "Forbidden", "NotFound")},
            post=True,
        ),
    },
    "/workbench/api/sessions/{name}/release": {
        "parameters": [NAME],
        "post": _op(
            "Hand a live session back to the bot (the assigned agent, or a superuser).",
            "agent",
            {"200": _json(_ref("SessionState"), "Released."), **_errors(*AGENT_ERRORS)},
            post=True,
        ),
    },
    "/workbench/api/sessions/{name}/close": {
        "parameters": [NAME],
        "post": _op(
            "Close a session (its assigned agent, any agent while it waits, or a superuser).",
            "agent",
            {"200": _json(_ref("SessionState"), "Closed."), **_errors(*AGENT_ERRORS)},
            post=True,
        ),
    },
    "/workbench/api/sessions/{name}/messages": {
        "parameters": [NAME],
        "get": _op(
            "A page of the conversation's messages before `before`, for 'load earlier'.",
            "agent",
            {
                "200": _json(_ref("MessagePage"), "The page."),
                **_errors("BadRequest", "Unauthorized", "Forbidden", "NotFound"),
            },
            parameters=PAGE,
        ),
        "post": _op(
            "Send an agent message (only the assigned agent of a manual_live session).",
            "agent",
            {
                "201": _json(_ref("Posted"), "Stored."),
                "200": _json(_ref("Posted"), "A repeated client_id: the original, nothing created."),
                **_errors(*AGENT_ERRORS),
            },
            requestBody=_body("NewMessage", required=True),
        ),
    },
    "/workbench/api/sessions/{name}/events": {
        "parameters": [NAME],
        "get": _op(
            "A session's event stream, for agents.",
            "agent",
            {
                "200": SSE_RESPONSE,
                **_errors("BadRequest", "Unauthorized", "Forbidden", "NotFound", "MethodNotAllowed", "TooManyRequests"),
            },
            parameters=LAST_EVENT_ID,
        ),
    },
    "/workbench/api/events": {
        "get": _op(
            "The queue stream: a `queue` snapshot, then every session's status changes and customer messages.",
            "agent",
            {
                "200": SSE_RESPONSE,
                **_errors("BadRequest", "Unauthorized", "Forbidden", "MethodNotAllowed", "TooManyRequests"),
            },
        ),
    },
}

SCHEMA: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Fiido service desk API",
        "version": "1.0.0",
        "description": (
            'JSON in and out; every refusal is a 4xx with `{"error": "..."}`. Customers are identified by '
            "the Django session cookie that started their conversation (anyone else gets 404); agents log in "
            "at /workbench/login/. Every POST needs the `X-CSRFToken` header matching the `csrftoken` cookie. "
            "Checks run in the order 404, 409, 403."
        ),
    },
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "responses": RESPONSES,
        "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
            "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
        },
    },
}


@require_GET
def schema_view(request: HttpRequest) -> JsonResponse:
    """``GET /api/schema/``: this description, as JSON."""
    return JsonResponse(SCHEMA)
