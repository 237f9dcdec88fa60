"""Domain errors of the conversation state machine, mapped to HTTP once in fiido.http."""

from fiido.exceptions import ApiError, PayloadTooLarge, UnsupportedMediaType

SESSION_NOT_FOUND = "Session not found."  # every 404 about a conversation, API and streams alike


class ConversationError(ApiError):
    """Base of every refusal the state machine makes."""

    http_status = 400


class SessionNotFound(ConversationError):
    """No conversation has this name (or the caller may not see it): the same 404 for both."""

    http_status = 404

    def __init__(self, message: str = SESSION_NOT_FOUND) -> None:
        super().__init__(message)


class InvalidInput(ConversationError):
    """The request is malformed (bad content, bad client_id)."""

    http_status = 400


class IllegalTransition(ConversationError):
    """The session's current status does not allow this action."""

    http_status = 409


class AlreadyTaken(IllegalTransition):
    """Another agent won the race to take over this session."""


class AtCapacity(IllegalTransition):
    """The agent already holds as many live conversations as they may."""


class NotAllowed(ConversationError):
    """The caller may see the session but may not make this change."""

    http_status = 403


class FileTooLarge(ConversationError, PayloadTooLarge):
    """A photo or file over ``ATTACHMENT_MAX_BYTES`` (or an image with too many pixels)."""

    http_status = 413


class UnsupportedFile(ConversationError, UnsupportedMediaType):
    """A file whose content is not a JPEG, PNG or WebP image or a PDF, whatever its name says."""

    http_status = 415


class CopilotOff(ConversationError):
    """A summary or suggestions were asked for while ``COPILOT`` (or its LLM endpoint) is off."""

    http_status = 409

    def __init__(self, message: str = "The copilot is off: COPILOT, LLM_BASE_URL and LLM_MODEL must be set.") -> None:
        super().__init__(message)
