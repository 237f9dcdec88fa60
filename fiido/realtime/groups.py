"""Channel-layer group names: one per session (everyone watching it), one per
session for agents only (notes), one for the agents' queue, one per agent, and
one per logged-in browser session for notices that end its streams, and a
doorbell for queue positions."""

import hashlib

QUEUE_GROUP = "workbench.queue"
# A doorbell: the set of waiting conversations changed (each hub then re-reads
# the queue positions of its waiting customers' streams, in one query).
WAITING_GROUP = "queue.waiting"


def session_group(name: str) -> str:
    """The group every screen showing session ``name`` listens to."""
    return f"session.{name}"


def agents_group(name: str) -> str:
    """The group of agents' streams of session ``name`` only: what customers must
    never see (private notes) is published here, never to ``session_group``."""
    return f"agents.{name}"


def agent_group(user_id: int) -> str:
    """One agent's group: notices for them alone (alerts, what they have read)."""
    return f"agent.{user_id}"


def login_group(session_key: str) -> str:
    """The group of every stream opened with one Django login session: logging
    out ends them. Hashed, because the session key is the login itself."""
    return "login." + hashlib.sha256(session_key.encode()).hexdigest()[:32]
