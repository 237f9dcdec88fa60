"""The authorization matrix: every endpoint × every kind of caller, each cell asserted.

Callers: anonymous, the owning customer, another customer, an agent, the
assigned agent, another agent, an admin (superuser), and a logged-in user who
is not an agent (the one caller the agents' 403 is for).

The session a cell acts on is set up for the endpoint (DESIGN §2, §4):
customer endpoints act on a session in the state their owner may change it
from; agent endpoints act on a ``manual_live`` session held by the assigned
agent, except for "an agent", who acts on a session waiting in the queue
(``pending_manual``, nobody assigned): the case where any agent may act.

Customers are bound to their conversation by their Django session cookie:
anyone else, agents and admins included, gets 404 from the customer side.
The API and the streams answer 401 JSON to someone not logged in; pages
redirect to the login page. Checks run 404 -> 409 -> 403.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from channels.testing import ApplicationCommunicator
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from chatbot import conversations
from chatbot.models import Attachment, ChatSession, Event, Message
from tests.chatbot.test_attachments import image_bytes
from tests.support import asgi_scope

Status = ChatSession.Status

ROLES = ["anonymous", "owner", "other_customer", "agent", "assigned_agent", "other_agent", "admin", "non_agent_user"]
CUSTOMERS = {"anonymous", "owner", "other_customer"}
AGENTS = {"agent", "assigned_agent", "other_agent", "admin"}

NOT_FOUND = {"error": "Session not found."}
NOT_LOGGED_IN = {"error": "Log in as an agent first."}
AGENTS_ONLY = {"error": "Agents only."}


# ---------------------------------------------------------------------------
# Callers and sessions
# ---------------------------------------------------------------------------
class World:
    """One session owned by ``owner`` and a client for every kind of caller."""

    def __init__(self, django_user_model) -> None:
        from workbench.management.commands.create_agent import ensure_agent

        self.users = {
            "agent": ensure_agent("carol", "carol-password", first_name="Carol")[0],
            "assigned_agent": ensure_agent("alice", "alice-password", first_name="Alice")[0],
            "other_agent": ensure_agent("bob", "bob-password", first_name="Bob")[0],
            "admin": django_user_model.objects.create_superuser("root", "root@example.com", "root-password"),
            "non_agent_user": django_user_model.objects.create_user("mallory", password="mallory-password"),
        }
        self.clients = {role: Client() for role in ROLES}
        for role, user in self.users.items():
            self.clients[role].force_login(user)
        self.name = self._start("owner")
        self._start("other_customer")  # another customer, with a conversation of their own
        self.session = ChatSession.objects.get(name=self.name)

    def _start(self, role: str) -> str:
        response = self.clients[role].post("/api/sessions", {}, content_type="application/json")
        assert response.status_code == 201, response.content
        return response.json()["session_name"]

    def put_in(self, status: str) -> None:
        """Move the owner's session to ``status`` through the state machine."""
        session = self.session
        if status in {Status.PENDING_MANUAL, Status.MANUAL_LIVE}:
            conversations.escalate(session, reason="Please help")
        if status == Status.MANUAL_LIVE:
            conversations.take_over(session, agent=self.users["assigned_agent"])
        if status == Status.CLOSED:
            conversations.close(session)
        session.refresh_from_db()
        assert session.status == status

    def cookie_header(self, role: str) -> bytes:
        cookies = self.clients[role].cookies
        return "; ".join(f"{key}={morsel.value}" for key, morsel in cookies.items()).encode()

    def footprint(self) -> tuple[int, int, int, str]:
        """What a refused request must leave unchanged."""
        self.session.refresh_from_db()
        return Message.objects.count(), Event.objects.count(), Attachment.objects.count(), self.session.status


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """Five users per test: a cheap hasher keeps the matrix quick (passwords are not under test)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db, django_user_model) -> World:
    return World(django_user_model)


PHOTO = image_bytes("PNG", (64, 48))


def call(client: Client, method: str, url: str, body: dict | None = None):
    if method == "get":
        return client.get(url)
    if method == "upload":  # multipart: a photo in the field "file", and the body's fields
        return client.post(url, {"file": SimpleUploadedFile("rack.png", PHOTO), **(body or {})})
    return getattr(client, method)(url, json.dumps(body or {}), content_type="application/json")


def assert_json_error(response, status: int, body: dict | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    if body is not None:
        assert data == body
    else:
        assert set(data) == {"error"} and isinstance(data["error"], str) and data["error"]


# ---------------------------------------------------------------------------
# Customer API
# ---------------------------------------------------------------------------
MESSAGE = {"content": "Where is my order?", "client_id": "5f0c6a3e-8f4b-4e8e-9a53-7d7a6c7f1a01"}
# endpoint: (method, path, status the session starts in, body, the owner's success code, status after)
CUSTOMER_API = {
    "detail": ("get", "/api/sessions/{name}", Status.BOT_ACTIVE, None, 200, Status.BOT_ACTIVE),
    "earlier": ("get", "/api/sessions/{name}/messages", Status.BOT_ACTIVE, None, 200, Status.BOT_ACTIVE),
    "messages": ("post", "/api/sessions/{name}/messages", Status.BOT_ACTIVE, MESSAGE, 201, Status.BOT_ACTIVE),
    "escalate": (
        "post",
        "/api/sessions/{name}/escalate",
        Status.BOT_ACTIVE,
        {"reason": "A person, please"},
        200,
        Status.PENDING_MANUAL,
    ),
    "cancel": (
        "post",
        "/api/sessions/{name}/cancel-escalation",
        Status.PENDING_MANUAL,
        None,
        200,
        Status.BOT_ACTIVE,
    ),
    "close": ("post", "/api/sessions/{name}/close", Status.BOT_ACTIVE, None, 200, Status.CLOSED),
    "typing": ("post", "/api/sessions/{name}/typing", Status.BOT_ACTIVE, None, 204, Status.BOT_ACTIVE),
    "identify": ("patch", "/api/sessions/{name}", Status.BOT_ACTIVE, {"customer_name": "Ann"}, 200, Status.BOT_ACTIVE),
    "attachments": (
        "upload",
        "/api/sessions/{name}/attachments",
        Status.PENDING_MANUAL,
        {"client_id": "8d1f3c2a-2222-4b4b-9c9c-abcdefabcdef"},
        201,
        Status.PENDING_MANUAL,
    ),
    "rating": ("post", "/api/sessions/{name}/rating", Status.CLOSED, {"score": 5}, 201, Status.CLOSED),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", CUSTOMER_API)
def test_customer_api_serves_only_the_owner(world, endpoint, role):
    """Only the conversation's owner may read or change it; everyone else,
    agents and admins included, gets the same 404 and changes nothing."""
    method, path, status, body, success, after = CUSTOMER_API[endpoint]
    world.put_in(status)
    before = world.footprint()
    response = call(world.clients[role], method, path.format(name=world.name), body)
    if role == "owner":
        assert response.status_code == success, response.content
        data = response.json() if response.content else {}
        if endpoint == "typing":
            assert response.content == b""
        elif endpoint == "messages":
            assert data["message"]["content"] == MESSAGE["content"] and data["message"]["role"] == "user"
        elif endpoint == "earlier":
            assert data["messages"] and data["has_earlier"] is False
        elif endpoint == "attachments":
            assert data["message"]["role"] == "user" and data["message"]["parts"][0]["type"] == "image"
        elif endpoint == "rating":
            assert data["rating"]["score"] == 5 and world.session.rating.score == 5
        else:
            assert (data["session_name"], data["status"]) == (world.name, after)
        world.session.refresh_from_db()
        assert world.session.status == after
    else:
        assert_json_error(response, 404, NOT_FOUND)
        assert world.footprint() == before


@pytest.mark.parametrize("role", ROLES)
def test_anyone_may_start_a_conversation_and_owns_only_that_one(world, role):
    response = world.clients[role].post("/api/sessions", {}, content_type="application/json")
    assert response.status_code == 201
    mine = response.json()["session_name"]
    assert mine != world.name
    assert world.clients[role].get(f"/api/sessions/{mine}").status_code == 200
    if role != "owner":
        assert_json_error(world.clients[role].get(f"/api/sessions/{world.name}"), 404, NOT_FOUND)


# ---------------------------------------------------------------------------
# Agent API
# ---------------------------------------------------------------------------
AGENT_MESSAGE = {"content": "Hello, I am here to help.", "client_id": "0b3c2d1e-1111-4a4a-8b8b-123456789abc"}
# endpoint: (method, path, body, {role: expected status for the agents' side})
# "agent" acts on a waiting session; the others on one live with the assigned agent.
AGENT_API = {
    "list": ("get", "/workbench/api/sessions", None, dict.fromkeys(AGENTS, 200)),
    "detail": ("get", "/workbench/api/sessions/{name}", None, dict.fromkeys(AGENTS, 200)),
    "earlier": ("get", "/workbench/api/sessions/{name}/messages", None, dict.fromkeys(AGENTS, 200)),
    # Taking over: any agent may take a waiting session; a live one is taken (409), whoever asks.
    "takeover": (
        "post",
        "/workbench/api/sessions/{name}/takeover",
        None,
        {"agent": 200, "assigned_agent": 409, "other_agent": 409, "admin": 409},
    ),
    # Releasing: only from manual_live (409 while waiting); the assigned agent, or a superuser forcing it.
    "release": (
        "post",
        "/workbench/api/sessions/{name}/release",
        None,
        {"agent": 409, "assigned_agent": 200, "other_agent": 403, "admin": 200},
    ),
    # Closing: any agent while it waits; the assigned agent or a superuser while it is live.
    "close": (
        "post",
        "/workbench/api/sessions/{name}/close",
        None,
        {"agent": 200, "assigned_agent": 200, "other_agent": 403, "admin": 200},
    ),
    # Messages: only the assigned agent of a live session (a superuser too is refused).
    "messages": (
        "post",
        "/workbench/api/sessions/{name}/messages",
        AGENT_MESSAGE,
        {"agent": 409, "assigned_agent": 201, "other_agent": 403, "admin": 403},
    ),
    # Transfer (to bob): only from manual_live; the holder, or a superuser forcing it.
    "transfer": (
        "post",
        "/workbench/api/sessions/{name}/transfer",
        {"to": "bob"},
        {"agent": 409, "assigned_agent": 200, "other_agent": 403, "admin": 200},
    ),
    "return_to_queue": (
        "post",
        "/workbench/api/sessions/{name}/return-to-queue",
        None,
        {"agent": 409, "assigned_agent": 200, "other_agent": 403, "admin": 200},
    ),
    # Notes and read markers: any agent, any status.
    "notes": (
        "post",
        "/workbench/api/sessions/{name}/notes",
        {"content": "Only agents see this."},
        dict.fromkeys(AGENTS, 201),
    ),
    "read": ("post", "/workbench/api/sessions/{name}/read", {"seq": 1}, dict.fromkeys(AGENTS, 204)),
    "agents": ("get", "/workbench/api/agents", None, dict.fromkeys(AGENTS, 200)),
    "canned_replies": ("get", "/workbench/api/canned-replies", None, dict.fromkeys(AGENTS, 200)),
    # Typing: only the holder of a live conversation (409 while it waits).
    "typing": (
        "post",
        "/workbench/api/sessions/{name}/typing",
        None,
        {"agent": 409, "assigned_agent": 204, "other_agent": 403, "admin": 403},
    ),
    "presence": ("put", "/workbench/api/me/presence", {"presence": "away"}, dict.fromkeys(AGENTS, 200)),
    # Photos and files: like messages, only the assigned agent of a live session.
    "attachments": (
        "upload",
        "/workbench/api/sessions/{name}/attachments",
        None,
        {"agent": 409, "assigned_agent": 201, "other_agent": 403, "admin": 403},
    ),
    # The copilot: the stored summary for any agent; asking for one or for suggestions is 409
    # while COPILOT is off (as in these tests), after the same access checks.
    "summary": ("get", "/workbench/api/sessions/{name}/summary", None, dict.fromkeys(AGENTS, 200)),
    "summary_again": ("post", "/workbench/api/sessions/{name}/summary", None, dict.fromkeys(AGENTS, 409)),
    "suggestions": ("post", "/workbench/api/sessions/{name}/suggestions", None, dict.fromkeys(AGENTS, 409)),
}
WITHOUT_SESSION = {"list", "agents", "canned_replies", "presence"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", AGENT_API)
def test_agent_api_matrix(world, endpoint, role):
    method, path, body, expected = AGENT_API[endpoint]
    world.put_in(Status.PENDING_MANUAL if role == "agent" else Status.MANUAL_LIVE)
    before = world.footprint()
    response = call(world.clients[role], method, path.format(name=world.name), body)
    if role in CUSTOMERS:
        assert_json_error(response, 401, NOT_LOGGED_IN)  # customers are not logged in
    elif role == "non_agent_user":
        assert_json_error(response, 403, AGENTS_ONLY)
    elif expected[role] < 400:
        assert response.status_code == expected[role], response.content
        assert_agent_success(world, endpoint, role, response.json() if response.content else {})
        return
    else:
        assert_json_error(response, expected[role])
    if method != "get":
        assert world.footprint() == before


def assert_agent_success(world: World, endpoint: str, role: str, data: dict) -> None:
    """What an allowed agent action did, read back from the database."""
    world.session.refresh_from_db()
    if endpoint == "list":
        assert world.name in {row["session_name"] for row in data["sessions"]}
    elif endpoint == "detail":
        assert data["session_name"] == world.name and data["messages"]
    elif endpoint == "earlier":
        assert data["messages"] and data["has_earlier"] is False
    elif endpoint == "messages":
        assert data["message"]["role"] == "agent" and data["message"]["content"] == AGENT_MESSAGE["content"]
    elif endpoint == "attachments":
        assert data["message"]["role"] == "agent" and data["message"]["parts"][0]["type"] == "image"
    elif endpoint == "notes":
        assert data["note"]["content"] == "Only agents see this." and data["note"]["author"]["username"]
    elif endpoint in {"read", "typing"}:
        assert data == {}
    elif endpoint == "presence":
        assert data == {"username": world.users[role].get_username(), "presence": "offline"}  # no page open
    elif endpoint == "agents":
        assert {"alice", "bob", "carol"} <= {agent["username"] for agent in data["agents"]}
    elif endpoint == "canned_replies":
        assert data == {"canned_replies": []}
    elif endpoint == "summary":
        assert data == {"summary": None}
    elif endpoint == "transfer":
        assert data["status"] == Status.MANUAL_LIVE and data["assigned_agent"]["username"] == "bob"
    else:
        after = {
            "takeover": Status.MANUAL_LIVE,
            "release": Status.BOT_ACTIVE,
            "close": Status.CLOSED,
            "return_to_queue": Status.PENDING_MANUAL,
        }[endpoint]
        assert data["status"] == world.session.status == after
        if endpoint == "takeover":
            assert world.session.assigned_agent == world.users[role]


@pytest.mark.parametrize("role", sorted(AGENTS))
@pytest.mark.parametrize("endpoint", [e for e in AGENT_API if e not in WITHOUT_SESSION])
def test_agent_api_answers_404_for_an_unknown_session_before_anything_else(world, endpoint, role):
    method, path, body, _ = AGENT_API[endpoint]
    response = call(world.clients[role], method, path.format(name="no-such-session"), body)
    assert_json_error(response, 404, NOT_FOUND)


# Bodies each refused with 400 on a conversation that exists.
BAD_BODIES = ["not json", '"a string"', '{"content": "  "}', '{"content": "hi", "client_id": "not-a-uuid"}']


@pytest.mark.parametrize("body", BAD_BODIES)
def test_an_unknown_session_is_404_whatever_the_body(world, body):
    """The actions read the conversation once, under its lock; a refused body
    still answers 404 for a conversation that does not exist, and 400 for one that does."""
    world.put_in(Status.MANUAL_LIVE)
    agent = world.clients["assigned_agent"]
    for name, status in (("no-such-session", 404), (world.name, 400)):
        url = f"/workbench/api/sessions/{name}/messages"
        assert_json_error(agent.post(url, body, content_type="application/json"), status)
    # The customer's own conversation, erased meanwhile: 404; an open one: 400.
    owner = world.clients["owner"]
    assert_json_error(owner.post(f"/api/sessions/{world.name}/messages", body, content_type="application/json"), 400)
    conversations.purge(world.session)
    response = owner.post(f"/api/sessions/{world.name}/messages", body, content_type="application/json")
    assert_json_error(response, 404, NOT_FOUND)


@pytest.mark.parametrize("endpoint", ["takeover", "release", "close"])
def test_agent_actions_on_an_erased_session_are_404(world, endpoint):
    world.put_in(Status.MANUAL_LIVE)
    conversations.purge(world.session)
    response = world.clients["assigned_agent"].post(f"/workbench/api/sessions/{world.name}/{endpoint}")
    assert_json_error(response, 404, NOT_FOUND)


@pytest.mark.parametrize(
    ("endpoint", "role"),
    [
        ("release", "other_agent"),
        ("close", "other_agent"),
        ("messages", "other_agent"),
        ("messages", "admin"),
        ("attachments", "other_agent"),
        ("attachments", "admin"),
    ],
)
def test_status_is_checked_before_the_caller_409_before_403(world, endpoint, role):
    """On a closed session every agent gets the same 409, even one who would get 403 on a live one."""
    method, path, body, _ = AGENT_API[endpoint]
    world.put_in(Status.MANUAL_LIVE)
    conversations.close(world.session, by=world.users["assigned_agent"])
    before = world.footprint()
    response = call(world.clients[role], method, path.format(name=world.name), body)
    assert_json_error(response, 409)
    assert world.footprint() == before


def test_a_customer_message_to_a_closed_session_is_409_for_the_owner_and_404_for_others(world):
    conversations.close(world.session)
    url = f"/api/sessions/{world.name}/messages"
    assert_json_error(call(world.clients["owner"], "post", url, MESSAGE), 409)
    assert_json_error(call(world.clients["other_customer"], "post", url, MESSAGE), 404, NOT_FOUND)


@pytest.mark.parametrize("role", ROLES)
def test_a_conversations_files_are_served_to_its_customer_and_agents_only(world, role):
    """The one URL of a photo answers its customer and every agent (an admin
    too); anyone else, logged in or not, gets the 404 of a file that does not
    exist, for the photo and for its thumbnail."""
    posted = call(world.clients["owner"], "upload", f"/api/sessions/{world.name}/attachments")
    part = posted.json()["message"]["parts"][0]
    for url in (part["url"], part["thumbnail"]):
        response = world.clients[role].get(url)
        if role == "owner" or role in AGENTS:
            assert response.status_code == 200, (role, response.status_code)
            assert response["Content-Type"] == "image/png"
            assert response["X-Content-Type-Options"] == "nosniff"
        else:
            assert_json_error(response, 404, {"error": "File not found."})


@pytest.mark.parametrize("role", ROLES)
def test_reports_are_for_team_leads(world, role):
    """Reports (API and page) answer staff and holders of ``view_reports``:
    here only the superuser; agents and other users 403, visitors 401 / login."""
    api, page = "/workbench/api/reports", "/workbench/reports"
    response, shown = world.clients[role].get(api), world.clients[role].get(page)
    if role == "admin":
        assert response.status_code == 200 and set(response.json()) == {"rows", "totals"}
        assert shown.status_code == 200
    elif role in CUSTOMERS:
        assert_json_error(response, 401)
        login_redirect(shown, reverse("workbench:login"), page)
    else:
        assert_json_error(response, 403)
        assert shown.status_code == 403


# ---------------------------------------------------------------------------
# Pages and admin
# ---------------------------------------------------------------------------
def login_redirect(response, login_url: str, next_url: str) -> None:
    assert response.status_code == 302, response.status_code
    assert response["Location"].startswith(f"{login_url}?next=")
    assert next_url in response["Location"].replace("%2F", "/")


@pytest.mark.parametrize("role", ROLES)
def test_chat_page_shows_each_visitor_only_their_own_conversation(world, role):
    response = world.clients[role].get("/")
    assert response.status_code == 200
    page = response.content.decode()
    if role == "owner":
        assert f'data-session="{world.name}"' in page
    else:
        assert world.name not in page


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", ["queue", "session"])
def test_workbench_pages_are_for_agents(world, page, role):
    url = "/workbench/" if page == "queue" else f"/workbench/sessions/{world.name}"
    response = world.clients[role].get(url)
    if role in CUSTOMERS:
        login_redirect(response, reverse("workbench:login"), url)
    elif role == "non_agent_user":
        assert response.status_code == 403
    else:
        assert response.status_code == 200
        if page == "session":
            assert world.name in response.content.decode()


@pytest.mark.parametrize("role", sorted(AGENTS))
def test_workbench_session_page_is_404_for_an_unknown_session(world, role):
    assert world.clients[role].get("/workbench/sessions/no-such-session").status_code == 404


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", ["index", "change"])
def test_admin_is_for_superusers(world, page, role):
    """Agents are not staff: the admin sends everyone but the superuser to its login page."""
    url = (
        reverse("admin:index")
        if page == "index"
        else reverse("admin:chatbot_chatsession_change", args=[world.session.pk])
    )
    response = world.clients[role].get(url)
    if role == "admin":
        assert response.status_code == 200
        if page == "change":
            assert world.name in response.content.decode()
    else:
        login_redirect(response, reverse("admin:login"), url)


# ---------------------------------------------------------------------------
# Streams (raw ASGI, routed in fiido.asgi before Django)
# ---------------------------------------------------------------------------
async def open_stream(path: str, cookie: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
    """GET ``path`` from the ASGI application; for a 200, read up to the
    ``connected`` event, then disconnect. Returns (status, headers, body)."""
    from fiido.asgi import application

    headers = [(b"host", b"testserver"), (b"accept", b"text/event-stream"), (b"cookie", cookie)]
    communicator = ApplicationCommunicator(application, asgi_scope(path, headers))
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(timeout=10)
    assert start["type"] == "http.response.start"
    headers = dict(start["headers"])
    body = b""
    if start["status"] == 200:
        while b'"type":"connected"' not in body:
            message = await communicator.receive_output(timeout=10)
            body += message.get("body", b"")
        await communicator.send_input({"type": "http.disconnect"})
        await communicator.wait(timeout=10)
    else:
        message = await communicator.receive_output(timeout=10)
        body = message["body"]
        await communicator.wait(timeout=10)
    return start["status"], headers, body


STREAMS = {
    "customer": ("/api/sessions/{name}/events", {"owner": 200}, {r: 404 for r in ROLES if r != "owner"}),
    "agent_session": (
        "/workbench/api/sessions/{name}/events",
        dict.fromkeys(AGENTS, 200),
        {**dict.fromkeys(CUSTOMERS, 401), "non_agent_user": 403},
    ),
    "queue": (
        "/workbench/api/events",
        dict.fromkeys(AGENTS, 200),
        {**dict.fromkeys(CUSTOMERS, 401), "non_agent_user": 403},
    ),
}
STREAM_ERRORS = {401: NOT_LOGGED_IN, 403: AGENTS_ONLY, 404: NOT_FOUND}


@pytest.mark.django_db(transaction=True)  # the stream reads the database from its own threads
@pytest.mark.parametrize("stream", STREAMS)
def test_stream_matrix(django_user_model, stream):
    world = World(django_user_model)
    world.put_in(Status.MANUAL_LIVE)
    path_template, allowed, refused = STREAMS[stream]
    path = path_template.format(name=world.name)
    for role in ROLES:
        status, headers, body = asyncio.run(open_stream(path, world.cookie_header(role)))
        assert headers[b"x-content-type-options"] == b"nosniff", role
        if role in allowed:
            assert status == 200, (role, body)
            assert headers[b"content-type"].startswith(b"text/event-stream")
            assert headers[b"cache-control"] == b"no-cache"
            connected = json.loads(body.split(b"data: ", 1)[1].split(b"\n", 1)[0])
            assert connected["type"] == "connected"
            if stream != "queue":
                assert connected["session_name"] == world.name
        else:
            assert status == refused[role], (role, status, body)
            assert headers[b"content-type"] == b"application/json"
            assert json.loads(body) == STREAM_ERRORS[status], role

    # An unknown session is 404 for whoever may use the stream.
    if stream != "queue":
        unknown = path_template.format(name="no-such-session")
        for role in allowed:
            status, _, body = asyncio.run(open_stream(unknown, world.cookie_header(role)))
            assert (status, json.loads(body)) == (404, NOT_FOUND), role


def test_session_cookie_is_http_only_and_the_csrf_token_is_required_for_api_posts(world):
    """The API keeps Django's CSRF protection: a POST without the token is a JSON 403 and changes nothing."""
    strict = Client(enforce_csrf_checks=True)
    name = world.name
    strict.cookies = world.clients["owner"].cookies
    before = world.footprint()
    response = strict.post(
        f"/api/sessions/{name}/messages",
        json.dumps({"content": "hi", "client_id": str(uuid.uuid4())}),
        content_type="application/json",
    )
    assert_json_error(response, 403)
    assert world.footprint() == before
    assert world.clients["owner"].cookies[settings.SESSION_COOKIE_NAME]["httponly"]
