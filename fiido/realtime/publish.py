"""Hand stored events to the channel layer once their transaction commits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from fiido.realtime.groups import QUEUE_GROUP, session_group

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 1.0  # a write never waits longer than this for Redis
RETRY_AFTER_FAILURE_SECONDS = 1.0  # after a failure, skip the layer this long
LAYER_MESSAGE_TYPE = "fiido.event"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event row as the layer carries it: seq plus its stored JSON."""

    session_name: str
    seq: int
    data: str
    to_queue: bool


class _LayerHealth:
    """Log one warning when publishing starts failing, one line when it recovers."""

    def __init__(self) -> None:
        self.failing_since: float | None = None

    def failed(self, error: BaseException) -> None:
        if self.failing_since is None:
            logger.warning(
                "Channel layer unreachable (%s); events are stored and streams "
                "catch up from the database until it returns.",
                error or type(error).__name__,
            )
        self.failing_since = time.monotonic()

    def succeeded(self) -> None:
        if self.failing_since is not None:
            logger.warning("Channel layer reachable again; live delivery resumed.")
            self.failing_since = None

    def should_skip(self) -> bool:
        return self.failing_since is not None and time.monotonic() - self.failing_since < RETRY_AFTER_FAILURE_SECONDS


_health = _LayerHealth()


def publish_on_commit(events: Sequence[StoredEvent]) -> None:
    """Publish ``events`` after the current transaction commits.

    Should only be called from ``chatbot/conversations.py``: the state machine
    is the one place that writes events, so it is the one place that
    publishes them. Publishing never fails the request; a lost publish is
    made up by the streams' database catch-up.
    """
    if events:
        transaction.on_commit(lambda: _publish(list(events)))


def _publish(events: list[StoredEvent]) -> None:
    if _health.should_skip():
        return
    try:
        async_to_sync(_send_all)(events)
    except Exception as error:  # noqa: BLE001 - the event is stored; never fail the write
        _health.failed(error)
    else:
        _health.succeeded()


async def _send_all(events: list[StoredEvent]) -> None:
    for event in events:
        groups = [session_group(event.session_name)]
        if event.to_queue:
            groups.append(QUEUE_GROUP)
        for group in groups:
            message = {"type": LAYER_MESSAGE_TYPE, "group": group, "seq": event.seq, "data": event.data}
            await _send(group, message)


async def _send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    try:
        await asyncio.wait_for(layer.group_send(group, message), PUBLISH_TIMEOUT_SECONDS)
    except (ConnectionError, OSError):
        # The first command on a pooled connection that Redis closed while
        # restarting fails; a second try gets a fresh connection.
        await asyncio.wait_for(layer.group_send(group, message), PUBLISH_TIMEOUT_SECONDS)
