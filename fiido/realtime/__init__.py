"""Realtime delivery: publish stored events, stream them to every open screen.

The guarantee (DESIGN §6): every event reaches every open stream exactly
once, in seq order, across processes. The channel layer cannot give that on
its own: the ASGI channel-layer spec makes every layer *at most once*
(``group_send`` drops silently on a full channel, and Redis forgets what it
carried while it was down). So the layer is only a doorbell, and the event
table is the truth:

* events are stored first and published after commit (``publish_on_commit``);
* a stream registers with its process's hub *before* it reads its backlog;
* a live event is sent only if its seq is the next one; an older seq is
  dropped, a gap is filled from the database first;
* at every heartbeat, and every second while the layer is down, the stream
  reads the database for anything after the last seq it sent.

This package imports neither app: the apps hand it callbacks that read the
database.
"""

from fiido.realtime.groups import QUEUE_GROUP, session_group
from fiido.realtime.publish import StoredEvent, publish_on_commit

__all__ = ["QUEUE_GROUP", "StoredEvent", "publish_on_commit", "session_group"]
