"""Signals the state machine sends after a commit, for the apps built on it."""

from django.dispatch import Signal

# A conversation joined or left the queue, or an agent holds one fewer: who
# waits and who has room changed (``session``: the conversation that changed).
# Sent after the commit, outside any transaction; ``workbench.assignment``
# listens when AUTO_ASSIGN is on.
desk_changed = Signal()
