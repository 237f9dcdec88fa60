"""JSON API plumbing: body parsing, size limit, and one mapping of errors to
``{"error": ...}`` responses."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import partial, wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

from fiido.exceptions import ApiError, BadRequest, UnsupportedMediaType


def error_response(message: str, status: int, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object; an empty body is an empty object."""
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    _check_text(data)
    return data


def _check_text(data: Any) -> None:
    """Refuse text no database stores: lone surrogates (``"\\ud800"`` is valid
    JSON, not UTF-8; SQLite raises on it) and NUL (PostgreSQL refuses it)."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                raise BadRequest("The request body must not contain NUL characters.")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadRequest("The request body holds text that is not valid Unicode.") from None


MULTIPART_ROOM_BYTES = 64 * 1024  # an upload's envelope: boundaries, part headers, the client_id field


def request_body_limit(method: str, path: str) -> int:
    """The largest body a request may carry: an attachment and its multipart
    envelope on the upload paths (``settings.UPLOAD_PATHS``), else
    ``settings.API_MAX_BODY_BYTES``. daphne's hook (``fiido.realtime.daphne_io``)
    and ``json_api`` both ask this, so the two limits cannot drift apart."""
    if method == "POST" and any(re.match(pattern, path) for pattern in settings.UPLOAD_PATHS):
        return settings.ATTACHMENT_MAX_BYTES + MULTIPART_ROOM_BYTES
    return settings.API_MAX_BODY_BYTES


def multipart_body(request: HttpRequest) -> tuple[Any, Any]:
    """The request's multipart form: (fields, files); anything else is refused.

    A body that is not ``multipart/form-data`` is a 415; one Django's parser
    cannot read is a 400 (the CSRF check may have met the error first: Django
    then remembers it and raises it again here).
    """
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType("Send the file as multipart/form-data, in a field named file.")
    try:
        return request.POST, request.FILES
    except (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent, UnicodeDecodeError, ValueError):
        raise BadRequest("The multipart body could not be read.") from None


def json_api(*methods: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Give a view the API's error contract: every refusal is a JSON 4xx.

    Only ``methods`` are allowed (405 otherwise); bodies over
    ``settings.API_MAX_BODY_BYTES`` are refused with 413 before they are
    read; domain errors map to their ``http_status``.
    """
    return partial(_json_api, methods=frozenset(methods))


def _json_api(view: Callable[..., HttpResponse], *, methods: frozenset[str]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in methods:
            response = error_response("Method not allowed.", 405)
            response["Allow"] = ", ".join(sorted(methods))
            return response
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response("Invalid Content-Length.", 400)
        limit = request_body_limit(request.method, request.path)
        if length > limit:
            return error_response(f"The request body is larger than {limit} bytes.", 413)
        try:
            return view(request, *args, **kwargs)
        except ApiError as error:
            return error_response(error.message, error.http_status)
        except Http404 as error:
            return error_response(str(error) or "Not found.", 404)
        except PermissionDenied as error:
            return error_response(str(error) or "Permission denied.", 403)
        except RequestDataTooBig:
            return error_response("The request body is too large.", 413)

    return wrapper


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF refusals in the API's JSON shape (pages get the same, briefly)."""
    return error_response(f"CSRF verification failed: {reason}", 403)


API_PREFIXES = ("/api/", "/workbench/api/")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: an API path answers JSON like the rest of the API; pages get Django's page."""
    if request.path.startswith(API_PREFIXES):
        return error_response("Not found.", 404)
    from django.views.defaults import page_not_found as django_page_not_found

    return django_page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400``: a request Django refused before any view (a multipart body
    its parser cannot read, met by the CSRF check) answers JSON on an API path."""
    if request.path.startswith(API_PREFIXES):
        return error_response("The request could not be read.", 400)
    from django.views.defaults import bad_request as django_bad_request

    return django_bad_request(request, exception)
