"""Channel-layer group names: one per session, one for the agents' queue, and
one per logged-in browser session for notices that end its streams."""

import hashlib

QUEUE_GROUP = "workbench.queue"


def session_group(name: str) -> str:
    """The group every screen showing session ``name`` listens to."""
    return f"session.{name}"


def login_group(session_key: str) -> str:
    """The group of every stream opened with one Django login session: logging
    out ends them. Hashed, because the session key is the login itself."""
    return "login." + hashlib.sha256(session_key.encode()).hexdigest()[:32]
