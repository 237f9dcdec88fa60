"""Channel-layer group names: one per session, one for the agents' queue."""

QUEUE_GROUP = "workbench.queue"


def session_group(name: str) -> str:
    """The group every screen showing session ``name`` listens to."""
    return f"session.{name}"
