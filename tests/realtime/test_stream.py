"""The stream contract, run against every channel layer (in-memory, Redis core,
Redis pub/sub): register before the backlog, never an id twice or out of
order, fill gaps and dropped events from the database, clean up on disconnect."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from django.contrib.sessions.backends.db import SessionStore

from chatbot import conversations, selectors
from chatbot.models import ChatSession, Event
from fiido.asgi import application
from fiido.realtime import publish
from fiido.realtime.groups import WAITING_GROUP
from fiido.realtime.hub import current_hub
from tests.support import asgi_scope, eventually

pytestmark = [pytest.mark.django_db(transaction=True)]

LAYERS = {
    "in-memory": lambda url: {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 10000}},
    "redis-core": lambda url: {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": url, "socket_timeout": 60}], "capacity": 10000},
    },
    "redis-pubsub": lambda url: {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": url, "socket_timeout": 60}]},
    },
}


@pytest.fixture(params=list(LAYERS), ids=list(LAYERS))
def channel_layer(request, settings):
    """Each contract test runs once per layer, as Django runs session tests per backend."""
    if request.param == "in-memory":
        settings.REDIS_URL = ""
    else:
        settings.REDIS_URL = request.getfixturevalue("redis_url")
    settings.CHANNEL_LAYERS = {"default": LAYERS[request.param](settings.REDIS_URL)}
    settings.SSE_HEARTBEAT_SECONDS = 1
    yield request.param


@pytest.fixture(autouse=True)
async def stop_hub():
    yield
    hub = current_hub()
    if hub is not None:
        hub.stop()


@sync_to_async
def owner_cookie(*names: str) -> bytes:
    store = SessionStore()
    store[selectors.OWNED_SESSIONS_KEY] = list(names)
    store.save()
    return f"sessionid={store.session_key}".encode()


@sync_to_async
def agent_cookie(user) -> bytes:
    """A login session for ``user``, as the workbench's login would make it."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return f"sessionid={store.session_key}".encode()


class Stream:
    """One SSE request driven through the ASGI application in this process."""

    def __init__(self, path: str, cookie: bytes, last_event_id: int | None = None, headers: list | None = None) -> None:
        headers = [(b"cookie", cookie), *(headers or [])]
        if last_event_id is not None:
            headers.append((b"last-event-id", str(last_event_id).encode()))
        self.communicator = ApplicationCommunicator(application, asgi_scope(path, headers))
        self.buffer = b""
        self.events: list[tuple[int | None, dict]] = []
        self.status: int | None = None

    async def open(self) -> Stream:
        await self.communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await self.communicator.receive_output(10)
        self.status = start["status"]
        return self

    async def read_until(self, predicate, timeout: float = 10) -> None:
        async def pump():
            while not predicate(self):
                message = await self.communicator.receive_output(timeout)
                self.buffer += message.get("body", b"")
                while b"\n\n" in self.buffer:
                    frame, self.buffer = self.buffer.split(b"\n\n", 1)
                    event_id, data = None, None
                    for line in frame.decode().split("\n"):
                        if line.startswith("id: "):
                            event_id = int(line[4:])
                        elif line.startswith("data: "):
                            data = json.loads(line[6:])
                    if data is not None:
                        self.events.append((event_id, data))

        await asyncio.wait_for(pump(), timeout)

    def ids(self) -> list[int]:
        return [i for i, _ in self.events if i is not None]

    def of_type(self, kind: str) -> list[dict]:
        return [d for _, d in self.events if d["type"] == kind]

    async def disconnect(self) -> None:
        await self.communicator.send_input({"type": "http.disconnect"})
        await self.communicator.wait(10)


@contextlib.contextmanager
def dropped_publishes():
    """Whatever commits inside never reaches the layer (as if Redis lost it)."""
    original = publish.publisher.submit
    publish.publisher.submit = lambda events: None
    try:
        yield
    finally:
        publish.publisher.submit = original


async def new_session() -> ChatSession:
    return await sync_to_async(conversations.start)()


async def test_live_events_arrive_once_in_order(channel_layer, agent_user):
    session = await new_session()
    stream = await Stream(f"/api/sessions/{session.name}/events", await owner_cookie(session.name)).open()
    await stream.read_until(lambda s: s.of_type("history"))
    await sync_to_async(conversations.post_customer_message)(session, content="one")
    await sync_to_async(conversations.escalate)(session)
    await stream.read_until(lambda s: s.of_type("status"))
    assert stream.ids() == [1, 2, 3, 4]
    assert [d["type"] for _, d in stream.events] == ["connected", "history", "message", "message", "status"]
    await stream.disconnect()


async def test_duplicates_and_out_of_order_publishes_are_sent_once_in_seq_order(channel_layer):
    """Replayed and reordered layer messages (as two workers over Redis can
    produce) still give strictly increasing ids with nothing missing."""
    session = await new_session()
    stream = await Stream(f"/api/sessions/{session.name}/events", await owner_cookie(session.name)).open()
    await stream.read_until(lambda s: s.of_type("history"))

    captured: list[tuple[str, dict]] = []

    async def hold(group, message):
        captured.append((group, message))

    original = publish._send
    publish._send = hold
    try:
        for text in ("a", "b", "c"):
            await sync_to_async(conversations.post_customer_message)(session, content=text)
        # Each message, the bot's replies and, after its third miss, its
        # hand-over (seqs 2-8), sent from the loop once their commits queued them.
        await eventually(lambda: len([g for g, _ in captured if g.startswith("session.")]) == 7, what=str(captured))
    finally:
        publish._send = original
    session_messages = [m for g, m in captured if g.startswith("session.")]
    layer = get_channel_layer()
    # Deliver the last one first (a gap), then everything twice.
    for message in [session_messages[-1], *session_messages, *session_messages]:
        await layer.group_send(f"session.{session.name}", message)
    await stream.read_until(lambda s: 8 in s.ids())
    with contextlib.suppress(TimeoutError):  # nothing more may come: no id twice
        await stream.read_until(lambda s: len(s.ids()) > 8, timeout=0.5)
    assert stream.ids() == [1, 2, 3, 4, 5, 6, 7, 8]
    await stream.disconnect()


async def test_an_event_the_layer_dropped_arrives_at_the_next_heartbeat(channel_layer):
    session = await new_session()
    stream = await Stream(f"/api/sessions/{session.name}/events", await owner_cookie(session.name)).open()
    await stream.read_until(lambda s: s.of_type("history"))

    async def drop(group, message):
        return None

    original = publish._send
    publish._send = drop
    try:
        await sync_to_async(conversations.escalate)(session, reason="dropped on the floor")
    finally:
        publish._send = original
    await stream.read_until(lambda s: s.of_type("status"), timeout=10)
    assert stream.of_type("status")[0]["escalation_reason"] == "dropped on the floor"
    assert stream.ids() == [1, 2]
    await stream.disconnect()


async def test_resume_sends_the_backlog_then_live_events(channel_layer):
    session = await new_session()
    for text in ("a", "b"):
        await sync_to_async(conversations.post_customer_message)(session, content=text)
    stream = await Stream(
        f"/api/sessions/{session.name}/events", await owner_cookie(session.name), last_event_id=2
    ).open()
    await stream.read_until(lambda s: len(s.ids()) >= 3)
    assert stream.ids() == [3, 4, 5]
    assert not stream.of_type("history")
    await sync_to_async(conversations.escalate)(session)
    await stream.read_until(lambda s: s.of_type("status"))
    assert stream.ids() == [3, 4, 5, 6]
    await stream.disconnect()


async def test_dropped_streams_leave_no_group_task_or_subscription_behind(settings):
    """Open and drop 300 streams; the hub, the layer and the loop are as before."""
    settings.REDIS_URL = ""
    settings.CHANNEL_LAYERS = {"default": LAYERS["in-memory"]("")}
    sessions = [await new_session() for _ in range(30)]
    cookie = await owner_cookie(*[s.name for s in sessions])
    warm = await Stream(f"/api/sessions/{sessions[0].name}/events", cookie).open()
    await warm.read_until(lambda s: s.of_type("history"))
    await warm.disconnect()
    hub = current_hub()
    await eventually(lambda: hub.groups == {} and not hub._background, what="the warm-up stream to leave")
    baseline = len(asyncio.all_tasks())

    streams = [Stream(f"/api/sessions/{sessions[i % 30].name}/events", cookie) for i in range(300)]
    for stream in streams:
        await stream.open()
    await asyncio.gather(*(s.read_until(lambda s: s.of_type("history"), timeout=60) for s in streams))
    assert sum(len(members) for group, members in hub.groups.items() if group != WAITING_GROUP) == 300
    assert len(hub.groups[WAITING_GROUP]) == 300  # customers' streams are told their place in the queue
    assert len(hub.groups) == 31
    await asyncio.gather(*(s.disconnect() for s in streams))

    layer = get_channel_layer()
    await eventually(lambda: hub.groups == {} and not hub._background, what="every stream to leave the hub")
    await eventually(lambda: all(not members for members in layer.groups.values()), what=f"{layer.groups} to empty")
    await eventually(lambda: len(asyncio.all_tasks()) <= baseline, what="the streams' tasks to end")
    assert await sync_to_async(Event.objects.count)() == 30


async def test_queue_stream_opens_with_a_snapshot_and_follows_changes(channel_layer, agent_user):
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = SessionStore()
    store[SESSION_KEY] = str(agent_user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = agent_user.get_session_auth_hash()
    await sync_to_async(store.save)()
    waiting = await new_session()
    await sync_to_async(conversations.escalate)(waiting)
    stream = await Stream("/workbench/api/events", f"sessionid={store.session_key}".encode()).open()
    assert stream.status == 200
    await stream.read_until(lambda s: s.of_type("queue"))
    assert [row["session_name"] for row in stream.of_type("queue")[0]["sessions"]] == [waiting.name]
    other = await new_session()
    await sync_to_async(conversations.escalate)(other)
    await stream.read_until(lambda s: s.of_type("status"))
    assert stream.of_type("status")[0]["session_name"] == other.name
    assert stream.ids() == []
    await stream.disconnect()


async def test_an_erased_conversation_ends_its_streams_with_a_final_event(channel_layer):
    """Erasing publishes ``deleted``: the stream sends it as its last frame, without an id, and ends."""
    session = await new_session()
    stream = await Stream(f"/api/sessions/{session.name}/events", await owner_cookie(session.name)).open()
    await stream.read_until(lambda s: s.of_type("history"))
    await sync_to_async(conversations.purge)(session)
    await stream.read_until(lambda s: s.of_type("deleted"))
    assert stream.events[-1] == (None, {"type": "deleted", "session_name": session.name})
    end = await stream.communicator.receive_output(10)
    assert end == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_an_erasure_the_layer_dropped_still_ends_the_stream_at_the_next_heartbeat(channel_layer):
    session = await new_session()
    stream = await Stream(f"/api/sessions/{session.name}/events", await owner_cookie(session.name)).open()
    await stream.read_until(lambda s: s.of_type("history"))

    with dropped_publishes():
        await sync_to_async(conversations.purge)(session)
    await stream.read_until(lambda s: s.of_type("deleted"), timeout=10)
    assert stream.of_type("deleted") == [{"type": "deleted", "session_name": session.name}]


async def test_a_stream_carries_on_past_an_event_deleted_behind_the_state_machines_back(channel_layer, caplog):
    """Defence in depth: a seq the database shows will never come (a row deleted
    outside the state machine) is logged once and skipped, not waited for forever."""
    session = await new_session()
    stream = await Stream(f"/api/sessions/{session.name}/events", await owner_cookie(session.name)).open()
    await stream.read_until(lambda s: s.of_type("history"))
    with dropped_publishes():
        await sync_to_async(conversations.post_customer_message)(session, content="kept")  # seq 2, bot reply 3
    # Seq 2 vanishes behind the state machine's back (raw SQL: the model forbids it).
    await sync_to_async(Event.objects.filter(session=session, seq=2).delete)()
    await sync_to_async(conversations.post_customer_message)(session, content="after the hole")  # 4 and 5
    await stream.read_until(lambda s: 5 in s.ids(), timeout=10)
    assert stream.ids() == [1, 3, 4, 5]
    assert [r.message for r in caplog.records if "missing from the database" in r.message] == [
        f"session.{session.name}: events 2-2 are missing from the database; streams skip them."
    ]
    await stream.disconnect()


@pytest.mark.parametrize("where", ["header", "query"])
async def test_a_superscript_last_event_id_is_a_fresh_history_not_a_500(where):
    """``²`` passes str.isdigit() and survives latin-1 decoding; int() refused it."""
    session = await new_session()
    headers = [(b"cookie", await owner_cookie(session.name))]
    scope = asgi_scope(f"/api/sessions/{session.name}/events", headers)
    if where == "header":
        headers.append((b"last-event-id", "²".encode("latin-1")))
    else:
        scope["query_string"] = b"last_event_id=%C2%B2"
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    assert (await communicator.receive_output(10))["status"] == 200
    body = b""
    while b'"type":"history"' not in body:
        body += (await communicator.receive_output(10))["body"]
    await communicator.send_input({"type": "http.disconnect"})
    await communicator.wait(10)


async def stream_answer(path: str, headers: list, **scope_changes) -> tuple[int, dict]:
    """Open a stream, read the response start, and hang up."""
    scope = {**asgi_scope(path, headers), **scope_changes}
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(10)
    await communicator.send_input({"type": "http.disconnect"})
    await communicator.wait(10)
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1:18604@evil.example", "testserver.evil.example"])
async def test_streams_refuse_a_host_that_is_not_allowed(settings, host):
    """The stream routes bypass Django's middleware; they apply ALLOWED_HOSTS themselves."""
    settings.ALLOWED_HOSTS = ["testserver"]
    session = await new_session()
    cookie = await owner_cookie(session.name)
    status, headers = await stream_answer(
        f"/api/sessions/{session.name}/events", [(b"cookie", cookie), (b"host", host.encode())]
    )
    assert status == 400 and headers["content-type"] == "application/json"
    status, _ = await stream_answer(
        f"/api/sessions/{session.name}/events", [(b"cookie", cookie), (b"host", b"testserver")]
    )
    assert status == 200


async def test_streams_follow_the_https_rules(settings):
    settings.ALLOWED_HOSTS = ["desk.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    session = await new_session()
    headers = [(b"cookie", await owner_cookie(session.name)), (b"host", b"desk.example.com")]
    path = f"/api/sessions/{session.name}/events"
    status, answer = await stream_answer(path, headers, query_string=b"last_event_id=1")
    assert status == 301 and answer["location"] == f"https://desk.example.com{path}?last_event_id=1"
    status, answer = await stream_answer(path, headers, scheme="https")
    assert status == 200
    assert answer["strict-transport-security"].startswith("max-age=3600")
