"""Publishing: queued at commit, sent from the event loop, within one deadline."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async

from chatbot import conversations
from fiido.realtime import publish
from fiido.realtime.publish import StoredEvent, layer_messages
from tests.support import eventually

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    settings.REDIS_URL = ""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    yield
    publish._health.failing_since = None


async def test_committed_events_are_sent_from_the_event_loop_not_the_committing_thread(monkeypatch):
    """The committing thread may hold SQLite's process write lock while its
    on-commit hooks run; it only queues, and the server's loop does the I/O."""
    publish.publisher.attach(asyncio.get_running_loop())
    sent: list[tuple[str, str, int]] = []

    async def record(group, message):
        sent.append((threading.current_thread().name, group, message["seq"]))

    monkeypatch.setattr(publish, "_send", record)
    session = await sync_to_async(conversations.start)()
    await sync_to_async(conversations.escalate)(session, reason="help")
    await eventually(lambda: len(sent) == 4, what="three events and the queue's doorbell sent")
    loop_thread = threading.current_thread().name
    assert sent == [
        (loop_thread, f"session.{session.name}", 1),
        (loop_thread, f"session.{session.name}", 2),
        (loop_thread, "workbench.queue", 2),
        (loop_thread, "queue.waiting", 0),  # the waiting customers' places moved
    ]


async def test_one_deadline_covers_a_whole_batch_whatever_its_groups_and_retries(monkeypatch, settings):
    """A layer that hangs costs one deadline per batch, not one per group or retry,
    and the layer is then skipped for a moment instead of being waited on again."""
    settings.PUBLISH_TIMEOUT_SECONDS = 0.2
    calls: list[str] = []

    async def hang(group, message):
        calls.append(group)
        if len(calls) == 1:
            raise ConnectionResetError("stale pooled connection")  # retried once, within the deadline
        await asyncio.Event().wait()

    monkeypatch.setattr(publish, "_send", hang)
    batch = layer_messages([StoredEvent("s1", 1, "{}", to_queue=True), StoredEvent("s2", 1, "{}", to_queue=True)])
    await asyncio.wait_for(publish.send_batch(batch), 30)  # returns: the deadline cut it short
    assert calls == ["session.s1", "session.s1"]
    assert publish._health.should_skip()
    await asyncio.wait_for(publish.send_batch(batch), 30)
    assert calls == ["session.s1", "session.s1"], "skipped while the layer was failing"


def test_without_a_server_loop_events_are_sent_at_once(published_events):
    """Management commands and the test client have no loop to hand events to."""
    publish.publisher._loop = None
    with published_events(expect=1) as sent:
        session = conversations.start()
    assert [group for group, _ in sent] == [f"session.{session.name}"]


def test_a_closed_loop_is_not_used(published_events):
    """A test's (or a stopped server's) loop that has closed: events go out at once."""
    loop = asyncio.new_event_loop()
    publish.publisher.attach(loop)
    loop.close()
    with published_events(expect=1):
        conversations.start()
