"""The one error base every JSON API refusal derives from.

``fiido.http.json_api`` maps any ``ApiError`` to ``{"error": message}`` with
its ``http_status``; the apps subclass it (``chatbot.exceptions``), so the
project package never needs to import them.
"""


class ApiError(Exception):
    """A refusal the API answers with ``{"error": message}`` and ``http_status``."""

    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    """The HTTP request itself is malformed."""

    http_status = 400


class Conflict(ApiError):
    """The request clashes with what exists (a name already taken)."""

    http_status = 409


class PayloadTooLarge(ApiError):
    """The request, or the file it carries, is over its size limit."""

    http_status = 413


class UnsupportedMediaType(ApiError):
    """The request's body, or the file it carries, is of a type that is refused."""

    http_status = 415
