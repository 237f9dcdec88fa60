"""The agent's day, on the server: join, transfer, return to the queue, private
notes, what each agent has read, canned replies, the agents list."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from chatbot import conversations, selectors
from chatbot.exceptions import IllegalTransition, NotAllowed
from chatbot.models import ChatSession, Event, Message, Note
from workbench import selectors as workbench_selectors
from workbench.models import CannedReply

pytestmark = pytest.mark.django_db
Status = ChatSession.Status


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, path: str, body=None):
    return client.post(path, json.dumps(body if body is not None else {}), content_type="application/json")


def live(agent) -> ChatSession:
    session = conversations.start()
    conversations.escalate(session, reason="help")
    conversations.take_over(session, agent=agent)
    return session


def system_texts(session: ChatSession) -> list[str]:
    return list(Message.objects.filter(session=session, role="system").values_list("code", flat=True))


# ---------------------------------------------------------------------------
# Join, transfer, return to the queue
# ---------------------------------------------------------------------------
def test_an_agent_may_join_a_conversation_still_with_the_bot(agent_user):
    session = conversations.start()
    response = post(client_of(agent_user), f"/workbench/api/sessions/{session.name}/takeover")
    assert response.status_code == 200 and response.json()["status"] == "manual_live"
    assert system_texts(session) == ["agent_joined"]
    conversations.post_customer_message(session, content="still there?")
    assert not Message.objects.filter(session=session, role="bot").exclude(id=session.messages.first().id).exists()


def test_a_transfer_hands_the_chat_to_another_agent_and_alerts_them(agent_user, other_agent, published_events):
    session = live(agent_user)
    with published_events() as sent:
        response = post(client_of(agent_user), f"/workbench/api/sessions/{session.name}/transfer", {"to": "bob"})
    assert response.status_code == 200
    assert response.json()["assigned_agent"] == {"username": "bob", "name": "Bob"}
    assert response.json()["status"] == "manual_live"
    assert system_texts(session)[-1] == "transferred"
    status = [json.loads(m["data"]) for g, m in sent if g.startswith("session.") and '"status"' in m["data"]]
    assert status[0]["previous"] == "manual_live" and status[0]["agent"]["username"] == "bob"
    alerts = [json.loads(m["data"]) for g, m in sent if g == f"agent.{other_agent.pk}"]
    session.refresh_from_db()
    assert alerts == [
        {"type": "alert", "kind": "transfer", "session_name": session.name, "by": "Alice", "seq": session.last_seq}
    ]


def test_transfer_refusals(agent_user, other_agent, django_user_model):
    session = live(agent_user)
    alice, bob = client_of(agent_user), client_of(other_agent)
    url = f"/workbench/api/sessions/{session.name}/transfer"
    before = Event.objects.filter(session=session).count()
    for body in ({"to": "nobody"}, {"to": ""}, {}, {"to": ["bob"]}):
        assert post(alice, url, body).status_code == 400
    assert post(alice, url, {"to": "alice"}).status_code == 409  # already the holder
    assert post(bob, url, {"to": "alice"}).status_code == 409  # to the holder: a 409, before asking who bob is
    carol = django_user_model.objects.create_user("carol", password="carol-password-1")
    carol.groups.add(*agent_user.groups.all())
    assert post(bob, url, {"to": "carol"}).status_code == 403
    assert Event.objects.filter(session=session).count() == before
    assert post(alice, "/workbench/api/sessions/no-such/transfer", {"to": "bob"}).status_code == 404


def test_two_transfers_at_once_only_one_wins(agent_user, other_agent, django_user_model):
    """The second sees the first's holder: the original holder may no longer transfer."""
    session = live(agent_user)
    carol = django_user_model.objects.create_user("carol", password="carol-password-1")
    carol.groups.add(*agent_user.groups.all())
    conversations.transfer(session, by=agent_user, to=other_agent)
    with pytest.raises(NotAllowed):
        conversations.transfer(session, by=agent_user, to=carol)
    session.refresh_from_db()
    assert session.assigned_agent == other_agent


def test_returning_to_the_queue_keeps_the_customers_place(agent_user):
    first = conversations.start()
    conversations.escalate(first)
    second = conversations.start()
    conversations.escalate(second)
    escalated_at = ChatSession.objects.get(pk=first.pk).escalated_at
    conversations.take_over(first, agent=agent_user)
    response = post(client_of(agent_user), f"/workbench/api/sessions/{first.name}/return-to-queue")
    assert response.status_code == 200 and response.json()["status"] == "pending_manual"
    first.refresh_from_db()
    assert first.escalated_at == escalated_at and first.assigned_agent is None
    assert selectors.queue_position(first) == 1 and selectors.queue_position(second) == 2
    assert system_texts(first)[-1] == "returned_to_queue"


def test_only_the_holder_returns_a_chat_to_the_queue(agent_user, other_agent):
    session = live(agent_user)
    assert post(client_of(other_agent), f"/workbench/api/sessions/{session.name}/return-to-queue").status_code == 403
    with pytest.raises(IllegalTransition):
        conversations.close(session)
        conversations.return_to_queue(session, by=agent_user)


def test_the_agents_list_counts_live_conversations(agent_user, other_agent, settings):
    settings.AGENT_MAX_LIVE = 5
    live(agent_user)
    live(agent_user)
    agents = client_of(other_agent).get("/workbench/api/agents").json()["agents"]
    assert {"username": "alice", "name": "Alice", "presence": "offline", "live_count": 2, "max_live": 5} in agents
    assert {"username": "bob", "name": "Bob", "presence": "offline", "live_count": 0, "max_live": 5} in agents


# ---------------------------------------------------------------------------
# Private notes
# ---------------------------------------------------------------------------
def test_a_note_is_for_agents_only_and_never_in_the_customers_log(agent_user, other_agent, published_events):
    visitor = Client()
    name = post(visitor, "/api/sessions").json()["session_name"]
    session = ChatSession.objects.get(name=name)
    conversations.escalate(session)
    conversations.close(session)  # any status, closed included
    secret = f"Customer seems upset, refund approved {uuid.uuid4().hex} @bob"
    with published_events() as sent:
        response = post(client_of(agent_user), f"/workbench/api/sessions/{name}/notes", {"content": secret})
    assert response.status_code == 201
    note = response.json()["note"]
    assert note["content"] == secret and note["role"] == "note" and note["mentions"] == ["bob"]
    assert {g for g, _ in sent} == {f"agents.{name}", f"agent.{other_agent.pk}"}
    assert secret not in json.dumps([m for g, m in sent if g.startswith("session.")])
    # Nowhere the customer reads: the event log, their API, their stream opening, their page.
    assert not Event.objects.filter(session=session, payload__contains=secret[:20]).exists()
    assert secret not in visitor.get(f"/api/sessions/{name}?history=1").content.decode()
    assert secret not in visitor.get(f"/api/sessions/{name}/messages").content.decode()
    frames, _, _ = selectors.stream_opening(session.pk, None, "en")
    assert secret not in b"".join(frames).decode()
    assert all(secret not in text for _, text in selectors.events_after(session.pk, 0, language="en"))
    # Agents see it: the API, the page, the notes log.
    detail = client_of(other_agent).get(f"/workbench/api/sessions/{name}").json()
    assert [n["content"] for n in detail["notes"]] == [secret]
    assert secret in client_of(other_agent).get(f"/workbench/sessions/{name}").content.decode()
    assert Note.objects.get(session=session).after_seq == session.last_seq


def test_notes_are_idempotent_by_client_id(agent_user, other_agent):
    session = live(agent_user)
    url = f"/workbench/api/sessions/{session.name}/notes"
    body = {"content": "Check the warranty", "client_id": str(uuid.uuid4())}
    first = post(client_of(agent_user), url, body)
    again = post(client_of(agent_user), url, body)
    assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
    assert post(client_of(other_agent), url, body).status_code == 400  # someone else's client_id
    for bad in ({"content": ""}, {"content": "x" * 3000}, {"content": 5}, {"content": "ok", "client_id": "nope"}):
        assert post(client_of(agent_user), url, bad).status_code == 400
    assert Note.objects.filter(session=session).count() == 1
    assert Client().post(url, "{}", content_type="application/json").status_code == 401


# ---------------------------------------------------------------------------
# What each agent has read
# ---------------------------------------------------------------------------
def test_unread_counts_follow_each_agents_read_marker(agent_user, other_agent, published_events):
    session = live(agent_user)
    for text in ("one", "two", "three"):
        conversations.post_customer_message(session, content=text)
    rows = client_of(agent_user).get("/workbench/api/sessions").json()["sessions"]
    assert [row["unread_count"] for row in rows if row["session_name"] == session.name] == [3]
    session.refresh_from_db()
    second_message = Event.objects.filter(session=session, kind="message", message__content="two").get().seq
    with published_events() as sent:
        response = post(client_of(agent_user), f"/workbench/api/sessions/{session.name}/read", {"seq": second_message})
    assert response.status_code == 204
    assert [json.loads(m["data"]) for g, m in sent] == [
        {"type": "read", "session_name": session.name, "seq": second_message, "unread_count": 1}
    ]
    assert workbench_selectors.unread_counts(agent_user.pk, [session]) == {session.pk: 1}
    assert workbench_selectors.unread_counts(other_agent.pk, [session]) == {session.pk: 3}  # bob read nothing
    post(client_of(agent_user), f"/workbench/api/sessions/{session.name}/read", {"seq": 1})  # never back
    assert workbench_selectors.unread_counts(agent_user.pk, [session]) == {session.pk: 1}
    for bad in ({"seq": -1}, {"seq": "3"}, {"seq": True}, {}):
        assert post(client_of(agent_user), f"/workbench/api/sessions/{session.name}/read", bad).status_code == 400


# ---------------------------------------------------------------------------
# Canned replies
# ---------------------------------------------------------------------------
def test_canned_replies_are_listed_created_edited_and_deleted(agent_user, other_agent):
    CannedReply.objects.create(shortcut="hours", title="Opening hours", body="We answer 9–18.")
    alice = client_of(agent_user)
    created = post(
        alice, "/workbench/api/canned-replies", {"shortcut": "refund", "title": "Refund", "body": "Refund in 5 days."}
    )
    assert created.status_code == 201 and created.json()["shared"] is False
    listed = alice.get("/workbench/api/canned-replies").json()["canned_replies"]
    assert {r["shortcut"] for r in listed} == {"hours", "refund"}
    assert [r["shortcut"] for r in alice.get("/workbench/api/canned-replies?q=ref").json()["canned_replies"]] == [
        "refund"
    ]
    reply_id = created.json()["id"]
    edited = alice.patch(
        f"/workbench/api/canned-replies/{reply_id}",
        json.dumps({"body": "Refund in 3 days."}),
        content_type="application/json",
    )
    assert edited.status_code == 200 and edited.json()["body"] == "Refund in 3 days."
    # Bob sees the shared one, not Alice's, and may not touch hers (404) or the shared one (403).
    bob = client_of(other_agent)
    assert {r["shortcut"] for r in bob.get("/workbench/api/canned-replies").json()["canned_replies"]} == {"hours"}
    assert bob.delete(f"/workbench/api/canned-replies/{reply_id}").status_code == 404
    shared = CannedReply.objects.get(shortcut="hours").pk
    assert bob.delete(f"/workbench/api/canned-replies/{shared}").status_code == 403
    assert alice.delete(f"/workbench/api/canned-replies/{reply_id}").status_code == 204
    assert not CannedReply.objects.filter(pk=reply_id).exists()


@pytest.mark.parametrize(
    "body, status",
    [
        ({"shortcut": "Bad Shortcut", "title": "t", "body": "b"}, 400),
        ({"shortcut": "x" * 33, "title": "t", "body": "b"}, 400),
        ({"shortcut": "ok", "title": "t", "body": "  "}, 400),
        ({"shortcut": "ok", "title": "t", "body": "x" * 2001}, 400),
        ({"shortcut": "ok", "title": "", "body": "b"}, 400),
        ({"shortcut": "ok", "body": "b"}, 400),
        ({"shortcut": "taken", "title": "t", "body": "b"}, 409),
    ],
)
def test_bad_canned_replies_are_refused(agent_user, body, status):
    CannedReply.objects.create(owner=agent_user, shortcut="taken", title="Taken", body="b")
    response = post(client_of(agent_user), "/workbench/api/canned-replies", body)
    assert response.status_code == status and set(response.json()) == {"error"}
    assert CannedReply.objects.count() == 1


def test_a_canned_reply_is_filled_in_for_the_conversation(agent_user):
    session = live(agent_user)
    conversations.post_customer_message(session, content="It is about order UK22080, and also EU30517")
    reply = CannedReply.objects.create(
        owner=agent_user,
        shortcut="hi",
        title="Hi",
        body="Hi {customer_name}, {agent_name} here about {order_number} {x}.",
    )
    response = client_of(agent_user).get(f"/workbench/api/sessions/{session.name}/canned-replies/{reply.pk}")
    assert response.json() == {"body": "Hi customer, Alice here about EU30517 {x}."}
    ChatSession.objects.filter(pk=session.pk).update(customer_name="Dana")
    response = client_of(agent_user).get(f"/workbench/api/sessions/{session.name}/canned-replies/{reply.pk}")
    assert response.json()["body"].startswith("Hi Dana,")
    reply.refresh_from_db()
    assert reply.use_count == 2
