"""Hostile input: no body sent to a JSON POST endpoint makes a 500.

Hypothesis sends every POST endpoint arbitrary bodies: JSON of any shape and
type, objects with the endpoint's own field names bound to any value, text
with lone surrogates and NUL escapes, and bytes that are not JSON or not
UTF-8. Every answer must be a success or a JSON ``{"error"}`` 4xx, and a
refused request must change nothing in the database.

The Django test client re-raises any exception a view lets escape, so a 500
fails the test with its traceback.
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatbot import conversations
from chatbot.models import Attachment, ChatSession, Event, Message, Note, Rating
from tests.chatbot.test_attachments import GIF, HTML, PDF, SVG, files_in, image_bytes, jpeg_with_gps
from workbench.models import AgentPreferences, ReadMarker

FIELDS = ["content", "client_id", "reason", "customer_name", "customer_email"]

# Text including lone surrogates and control characters: json.dumps escapes
# them ("\\ud800", "\\u0000"), valid JSON that no database stores as is.
hostile_text = st.text(st.characters(codec=None, categories=["Cs", "Cc"]) | st.characters(), min_size=1, max_size=20)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
    | hostile_text
    | st.uuids().map(str)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
field_objects = st.dictionaries(
    st.sampled_from(FIELDS), json_values | hostile_text | st.text(min_size=0, max_size=3000), max_size=5
)


def encoded(value) -> bytes:
    return json.dumps(value).encode()


# Raw bodies JSON's encoder never writes: escapes for lone surrogates and NUL,
# NaN, duplicate keys, deep nesting, truncation, invalid UTF-8.
RAW_BODIES = [
    b"",
    b"null",
    b"NaN",
    b"{",
    b'{"content": "\\ud800"}',
    b'{"content": "ok \\udfff ok", "client_id": "\\ud83d"}',
    b'{"\\ud800": 1}',
    b'{"content": "a\\u0000b"}',
    b'{"reason": "\\u0000"}',
    b'{"customer_name": "x\\u0000"}',
    b'{"content": 1e999}',
    b'{"content": "a", "content": 5}',
    b"[" * 3000 + b"]" * 3000,
    b'{"content": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    b"\xff\xfe\x00",
    b'{"content": "\xc3\x28"}',
    '{"content": "caf\u00e9 \U0001f6b2"}'.encode(),
]
raw_bodies = st.sampled_from(RAW_BODIES)
bodies = (
    json_values.map(encoded)
    | field_objects.map(encoded)
    | raw_bodies
    | st.binary(max_size=200)
    | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # no example database on disk: CI runs from a fresh clone
)


class Desk:
    """A customer with one conversation, an agent, and the counts that must not move."""

    def __init__(self) -> None:
        from workbench.management.commands.create_agent import ensure_agent

        self.customer = Client()
        response = self.customer.post("/api/sessions", b"{}", content_type="application/json")
        self.name = response.json()["session_name"]
        self.agent = Client()
        self.agent.force_login(ensure_agent("alice", None, first_name="Alice")[0])

    def lead(self) -> Client:
        """A team lead (a superuser) for the reports, made once."""
        if not hasattr(self, "_lead"):
            from django.contrib.auth import get_user_model

            self._lead = Client()
            self._lead.force_login(get_user_model().objects.create_superuser("lead", "lead@example.com", None))
        return self._lead

    def state(self) -> tuple:
        session = ChatSession.objects.get(name=self.name)
        return (
            ChatSession.objects.count(),
            Message.objects.count(),
            Event.objects.count(),
            Note.objects.count(),
            Attachment.objects.count(),
            Rating.objects.count(),
            ReadMarker.objects.values_list("seq", flat=True).first(),
            list(AgentPreferences.objects.values_list("user_id", "away")),
            session.status,
            session.assigned_agent_id,
            session.escalation_reason,
            session.last_seq,
        )

    def reset(self, status: str) -> None:
        """Put the conversation in ``status`` again, through the state machine (fuzzing may have moved it)."""
        session = ChatSession.objects.get(name=self.name)
        if session.status == status:
            return
        if session.status == ChatSession.Status.CLOSED:
            self.name = self.customer.post("/api/sessions", b"{}", content_type="application/json").json()[
                "session_name"
            ]
            session = ChatSession.objects.get(name=self.name)
        if session.status == ChatSession.Status.MANUAL_LIVE:
            conversations.release(session, by=session.assigned_agent)
        if session.status == ChatSession.Status.PENDING_MANUAL and status == ChatSession.Status.BOT_ACTIVE:
            conversations.cancel_escalation(session)
        if status in {ChatSession.Status.PENDING_MANUAL, ChatSession.Status.MANUAL_LIVE}:
            if session.status == ChatSession.Status.BOT_ACTIVE:
                conversations.escalate(session, reason="fuzz")
            if status == ChatSession.Status.MANUAL_LIVE:
                from django.contrib.auth import get_user_model

                conversations.take_over(session, agent=get_user_model().objects.get(username="alice"))
        assert ChatSession.objects.get(name=self.name).status == status


@pytest.fixture
def desk(db, settings) -> Desk:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return Desk()


def check(response, before: tuple, after: tuple) -> None:
    assert response.status_code < 500
    if response.status_code == 204:
        assert response.content == b""
        return
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    data = json.loads(response.content)
    if response.status_code >= 400:
        assert set(data) == {"error"} and isinstance(data["error"], str) and data["error"], data
        assert after == before, "a refused request changed the database"
    else:
        assert response.status_code in {200, 201}
        assert isinstance(data, dict) and "error" not in data


STATUSES = [s for s in ChatSession.Status.values if s != ChatSession.Status.CLOSED]


CUSTOMER_ACTIONS = ["messages", "escalate", "cancel-escalation", "close", "typing", "attachments", "rating"]
AGENT_ACTIONS = [
    *("takeover", "release", "close", "messages", "transfer", "return-to-queue", "notes", "read", "typing"),
    *("attachments", "summary", "suggestions"),
]


@pytest.mark.parametrize("body", RAW_BODIES, ids=range(len(RAW_BODIES)))
def test_every_hostile_body_on_every_endpoint_in_every_status(desk, body):
    """The hand-picked bodies, each tried everywhere (Hypothesis then explores around them)."""
    for status in STATUSES:
        for side, actions in (("customer", CUSTOMER_ACTIONS), ("agent", AGENT_ACTIONS)):
            for action in actions:
                desk.reset(status)
                before = desk.state()
                if side == "customer":
                    url, client = f"/api/sessions/{desk.name}/{action}", desk.customer
                else:
                    url, client = f"/workbench/api/sessions/{desk.name}/{action}", desk.agent
                response = client.post(url, body, content_type="application/json")
                check(response, before, desk.state())
    before = ChatSession.objects.count(), Message.objects.count(), Event.objects.count()
    response = desk.customer.post("/api/sessions", body, content_type="application/json")
    check(response, before, (ChatSession.objects.count(), Message.objects.count(), Event.objects.count()))


@FUZZ
@given(body=bodies)
def test_starting_a_conversation_survives_any_body(desk, body):
    before = ChatSession.objects.count(), Message.objects.count(), Event.objects.count()
    response = desk.customer.post("/api/sessions", body, content_type="application/json")
    after = ChatSession.objects.count(), Message.objects.count(), Event.objects.count()
    check(response, before, after)
    if response.status_code == 201:
        assert after[0] == before[0] + 1


@FUZZ
@given(action=st.sampled_from(CUSTOMER_ACTIONS), status=st.sampled_from(STATUSES), body=bodies)
def test_customer_actions_survive_any_body(desk, action, status, body):
    desk.reset(status)
    before = desk.state()
    response = desk.customer.post(f"/api/sessions/{desk.name}/{action}", body, content_type="application/json")
    check(response, before, desk.state())


@FUZZ
@given(action=st.sampled_from(AGENT_ACTIONS), status=st.sampled_from(STATUSES), body=bodies)
def test_agent_actions_survive_any_body(desk, action, status, body):
    desk.reset(status)
    before = desk.state()
    response = desk.agent.post(f"/workbench/api/sessions/{desk.name}/{action}", body, content_type="application/json")
    check(response, before, desk.state())


@FUZZ
@given(status=st.sampled_from([*STATUSES, ChatSession.Status.CLOSED]), body=bodies)
def test_saying_who_the_customer_is_survives_any_body(desk, status, body):
    if status == ChatSession.Status.CLOSED:
        desk.reset(ChatSession.Status.BOT_ACTIVE)
        conversations.close(ChatSession.objects.get(name=desk.name))
    else:
        desk.reset(status)
    before = desk.state() + tuple(
        ChatSession.objects.filter(name=desk.name).values_list("customer_name", "customer_email")
    )
    response = desk.customer.patch(f"/api/sessions/{desk.name}", body, content_type="application/json")
    after = desk.state() + tuple(
        ChatSession.objects.filter(name=desk.name).values_list("customer_name", "customer_email")
    )
    check(response, before, after)


@FUZZ
@given(body=bodies)
def test_saying_online_or_away_survives_any_body(desk, body):
    before = desk.state()
    response = desk.agent.put("/workbench/api/me/presence", body, content_type="application/json")
    check(response, before, desk.state())
    if response.status_code == 200:
        assert response.json()["presence"] in {"online", "away", "offline"}


@FUZZ
@given(
    content=st.one_of(json_values, hostile_text, st.text(max_size=2100)),
    client_id=st.one_of(st.none(), st.uuids().map(str), json_values),
)
def test_a_message_is_stored_exactly_when_it_is_accepted(desk, content, client_id):
    """Any content and client_id: 201 stores one customer message (plus the bot's reply), anything else none."""
    desk.reset(ChatSession.Status.PENDING_MANUAL)  # no bot reply: the message is the only new row
    body = {"content": content} if client_id is None else {"content": content, "client_id": client_id}
    before = Message.objects.filter(session__name=desk.name).count()
    response = desk.customer.post(
        f"/api/sessions/{desk.name}/messages", json.dumps(body), content_type="application/json"
    )
    after = Message.objects.filter(session__name=desk.name).count()
    assert response.status_code in {200, 201, 400}, response.content
    if response.status_code == 201:
        assert after == before + 1
        stored = response.json()["message"]
        assert stored["content"] == content.strip()
        if client_id is not None:
            assert stored["client_id"] == str(uuid.UUID(client_id))
    else:
        assert after == before
        if response.status_code == 400:
            assert set(response.json()) == {"error"}


@FUZZ
@given(body=bodies)
def test_rating_a_closed_conversation_survives_any_body(desk, body):
    desk.reset(ChatSession.Status.BOT_ACTIVE)
    conversations.close(ChatSession.objects.get(name=desk.name))
    before = desk.state()
    response = desk.customer.post(f"/api/sessions/{desk.name}/rating", body, content_type="application/json")
    check(response, before, desk.state())
    if response.status_code == 201:
        assert desk.state()[5] == before[5] + 1  # one rating stored


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["from", "to", "group", "tz", "format"]),
        st.text(max_size=30) | st.dates().map(str) | st.sampled_from(["day", "agent", "csv", "json", "UTC"]),
        max_size=5,
    )
)
def test_reports_survive_any_query(desk, query):
    """Any dates (year 1 to 9999 too), groups, zones and formats: figures, or a JSON 400."""
    response = desk.lead().get("/workbench/api/reports", query)
    assert response.status_code in {200, 400}, (query, response.status_code)
    if response["Content-Type"].startswith("text/csv"):
        assert response.content.startswith(b"key,conversations,")
    elif response.status_code == 400:
        assert set(response.json()) == {"error"}
    else:
        assert set(response.json()) == {"rows", "totals"}


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["status", "history", "before", "limit", "cursor", "x"]), st.text(max_size=30), max_size=3
    ),
    name=st.text(alphabet=st.characters(codec="ascii", exclude_characters="/?#%"), min_size=1, max_size=70),
)
def test_reads_survive_any_query_and_name(desk, query, name):
    """GETs: any query string and any session name answer JSON, never a 500."""
    for client, path in (
        (desk.customer, f"/api/sessions/{name}"),
        (desk.customer, f"/api/sessions/{name}/messages"),
        (desk.customer, f"/api/sessions/{desk.name}/messages"),
        (desk.agent, f"/workbench/api/sessions/{name}"),
        (desk.agent, f"/workbench/api/sessions/{desk.name}/messages"),
        (desk.agent, "/workbench/api/sessions"),
    ):
        response = client.get(path, query)
        assert response.status_code < 500
        if response["Content-Type"].startswith("application/json"):
            data = response.json()
            if response.status_code >= 400:
                assert set(data) == {"error"}
        else:
            assert response.status_code == 404  # a name the URL pattern does not route (e.g. spaces)


# ---------------------------------------------------------------------------
# Uploads: hostile multipart bodies and hostile files
# ---------------------------------------------------------------------------
BOUNDARY = "fuzzboundary"
FILE_CONTENTS = [
    SVG,
    HTML,
    GIF,
    PDF,
    b"",
    b"\x00" * 64,
    image_bytes("PNG", (20, 10)),
    image_bytes("WEBP", (20, 10)),
    jpeg_with_gps()[:300],  # a JPEG cut short
    b"\xff\xd8\xff" + SVG,
    b"%PDF-" + HTML,  # a PDF by its first bytes: stored, and only ever served as a sandboxed download
]
file_contents = st.sampled_from(FILE_CONTENTS) | st.binary(max_size=300)
file_names = st.sampled_from(["photo.jpg", "../../x.svg", "a\u202egpj.exe", "", ".", "x" * 300]) | hostile_text


def multipart(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    """A multipart/form-data body: (field name, file name or None, content) each."""
    body = b""
    for field, filename, content in parts:
        disposition = f'form-data; name="{field}"' + (f'; filename="{filename}"' if filename is not None else "")
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode("utf-8", "surrogatepass")
        body += content + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


multipart_bodies = st.lists(
    st.tuples(
        st.sampled_from(["file", "client_id", "file", "other"]),
        st.none() | file_names,
        file_contents
        | st.uuids().map(lambda u: str(u).encode())
        | hostile_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    ),
    max_size=3,
).map(multipart)
upload_bodies = multipart_bodies | bodies | multipart_bodies.map(lambda b: b[: len(b) // 2])


@FUZZ
@given(side=st.sampled_from(["customer", "agent"]), status=st.sampled_from(STATUSES), body=upload_bodies)
def test_uploads_survive_any_multipart_body(desk, attachments_root, side, status, body):
    """Any multipart body (or none) to either upload endpoint in any status: no
    500, every refusal JSON, and a refused upload leaves no row and no file."""
    desk.reset(status)
    before, stored = desk.state(), files_in(attachments_root)
    client, prefix = (desk.customer, "") if side == "customer" else (desk.agent, "/workbench")
    response = client.post(
        f"{prefix}/api/sessions/{desk.name}/attachments", body, content_type=f"multipart/form-data; boundary={BOUNDARY}"
    )
    check(response, before, desk.state())
    if response.status_code >= 400:
        assert files_in(attachments_root) == stored, "a refused upload left a file behind"
    else:
        part = response.json()["message"]["parts"][0]
        assert part["type"] in {"image", "file"} and part["name"]
