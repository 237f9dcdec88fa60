"""Log lines an operator can search: one JSON object per line (``LOG_FORMAT=json``),
each with the worker, the request's id and the conversation's name where
there is one.

The request id is the client's (or the proxy's) ``X-Request-ID`` when it is a
plain token, else a new one; it is sent back in ``X-Request-ID``. Both live in
context variables, so every line logged while a request or a stream runs
carries them, whichever module logs it, and the hub's own lines carry none.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("fiido_request_id", default=None)
conversation: contextvars.ContextVar[str | None] = contextvars.ContextVar("fiido_conversation", default=None)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # a proxy's id (nginx's $request_id), never free text


def _request_id_from(value: str | None) -> str:
    if value and _REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Binds the request id (and, in the view, the conversation) for the request's log lines."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        rid = _request_id_from(request.headers.get("X-Request-ID"))
        tokens = (request_id.set(rid), conversation.set(None))
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(tokens[0])
            conversation.reset(tokens[1])
        response["X-Request-ID"] = rid
        return response

    def process_view(self, request, view_func, view_args, view_kwargs) -> None:
        conversation.set(view_kwargs.get("name"))


def bind_stream(scope: dict, name: str | None) -> None:
    """The same context for a stream (served ahead of Django, in its own task)."""
    value = None
    for key, raw in scope.get("headers", ()):
        if key == b"x-request-id":
            value = raw.decode("latin-1")
            break
    request_id.set(_request_id_from(value))
    conversation.set(name)


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``conversation`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.conversation = conversation.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, worker,
    request_id and conversation when set, and the traceback as one string."""

    def format(self, record: logging.LogRecord) -> str:
        from fiido.metrics import worker_id

        at = datetime.fromtimestamp(record.created, UTC)
        entry = {
            "time": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "worker": worker_id(),
        }
        for key in ("request_id", "conversation"):
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
