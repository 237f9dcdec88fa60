"""The state machine: every legal transition, every illegal one, and the events each writes."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import transaction

from chatbot import conversations
from chatbot.exceptions import AlreadyTaken, IllegalTransition, InvalidInput, NotAllowed
from chatbot.models import ChatSession, Event, Message

pytestmark = pytest.mark.django_db

Status = ChatSession.Status


def events_of(session: ChatSession) -> list[dict]:
    return [
        json.loads(p) for p in Event.objects.filter(session=session).order_by("seq").values_list("payload", flat=True)
    ]


def in_status(status: str, agent=None) -> ChatSession:
    session = conversations.start()
    if status in {Status.PENDING_MANUAL, Status.MANUAL_LIVE}:
        conversations.escalate(session, reason="test")
    if status == Status.MANUAL_LIVE:
        conversations.take_over(session, agent=agent)
    if status == Status.CLOSED:
        conversations.close(session)
    return session


def snapshot(session: ChatSession) -> tuple:
    session.refresh_from_db()
    return (
        session.status,
        session.assigned_agent_id,
        session.last_seq,
        Message.objects.filter(session=session).count(),
        Event.objects.filter(session=session).count(),
    )


def test_start_greets_the_customer_with_event_one():
    session = conversations.start(customer_name="Ann")
    assert session.status == Status.BOT_ACTIVE
    assert session.last_seq == 1
    (greeting,) = events_of(session)
    assert greeting["type"] == "message" and greeting["seq"] == 1
    assert greeting["message"]["role"] == "bot"
    assert 'data-message-id="' in greeting["message"]["html"]


def test_session_names_are_random_and_url_safe():
    names = {conversations.start().name for _ in range(20)}
    assert len(names) == 20
    assert all(len(n) >= 20 and n.replace("-", "").replace("_", "").isalnum() for n in names)


def test_escalate_records_reason_and_time_and_publishes_to_queue(published_events):
    session = conversations.start()
    with published_events(expect=1) as sent:
        conversations.escalate(session, reason="Broken battery")
    assert session.status == Status.PENDING_MANUAL
    assert session.escalation_reason == "Broken battery"
    assert session.escalated_at is not None
    groups = [g for g, _ in sent]
    assert groups == [f"session.{session.name}", "workbench.queue", "queue.waiting"]
    status = json.loads(sent[0][1]["data"])
    assert status["type"] == "status"
    assert status["previous"] == "bot_active" and status["status"] == "pending_manual"


def test_cancel_escalation_returns_to_the_bot():
    session = in_status(Status.PENDING_MANUAL)
    conversations.cancel_escalation(session)
    assert session.status == Status.BOT_ACTIVE
    assert session.escalated_at is None


def test_take_over_assigns_the_agent_and_tells_the_customer(agent_user, published_events):
    session = in_status(Status.PENDING_MANUAL)
    with published_events(expect=2):
        conversations.take_over(session, agent=agent_user)
    assert session.status == Status.MANUAL_LIVE
    assert session.assigned_agent == agent_user
    status, system = events_of(session)[-2:]
    assert status["type"] == "status" and status["agent"] == {"username": "alice", "name": "Alice"}
    assert system["message"]["role"] == "system"
    assert system["message"]["content"] == "Alice has joined the chat"


def test_a_second_take_over_is_refused_and_names_the_winner(agent_user, other_agent):
    session = in_status(Status.MANUAL_LIVE, agent_user)
    before = snapshot(session)
    with pytest.raises(AlreadyTaken, match="Alice took this conversation"):
        conversations.take_over(session, agent=other_agent)
    assert snapshot(session) == before


def test_release_hands_back_to_the_bot(agent_user):
    session = in_status(Status.MANUAL_LIVE, agent_user)
    conversations.release(session, by=agent_user)
    assert session.status == Status.BOT_ACTIVE
    assert session.assigned_agent is None
    assert events_of(session)[-1]["message"]["content"] == "Alice left; the assistant is back"


def test_only_the_assigned_agent_may_release(agent_user, other_agent):
    session = in_status(Status.MANUAL_LIVE, agent_user)
    before = snapshot(session)
    with pytest.raises(NotAllowed):
        conversations.release(session, by=other_agent)
    assert snapshot(session) == before


def test_a_superuser_may_force_a_release(agent_user, django_user_model):
    boss = django_user_model.objects.create_superuser("boss", password="pw-boss-123")
    session = in_status(Status.MANUAL_LIVE, agent_user)
    conversations.release(session, by=boss)
    assert session.status == Status.BOT_ACTIVE


@pytest.mark.parametrize("status", [Status.BOT_ACTIVE, Status.PENDING_MANUAL, Status.MANUAL_LIVE])
def test_the_customer_may_close_any_open_session(status, agent_user):
    session = in_status(status, agent_user)
    conversations.close(session)
    assert session.status == Status.CLOSED
    assert events_of(session)[-1]["message"]["content"] == "The customer ended the chat"


def test_any_agent_may_close_a_waiting_session(other_agent):
    session = in_status(Status.PENDING_MANUAL)
    conversations.close(session, by=other_agent)
    assert session.status == Status.CLOSED
    assert events_of(session)[-1]["message"]["content"] == "Bob closed the chat"


@pytest.mark.parametrize("status", [Status.BOT_ACTIVE, Status.MANUAL_LIVE])
def test_another_agent_may_not_close_a_session_not_waiting(status, agent_user, other_agent):
    session = in_status(status, agent_user)
    before = snapshot(session)
    with pytest.raises(NotAllowed):
        conversations.close(session, by=other_agent)
    assert snapshot(session) == before


def test_the_assigned_agent_may_close(agent_user):
    session = in_status(Status.MANUAL_LIVE, agent_user)
    conversations.close(session, by=agent_user)
    assert session.status == Status.CLOSED


ILLEGAL = [
    ("escalate", Status.PENDING_MANUAL),
    ("escalate", Status.MANUAL_LIVE),
    ("escalate", Status.CLOSED),
    ("cancel_escalation", Status.BOT_ACTIVE),
    ("cancel_escalation", Status.MANUAL_LIVE),
    ("cancel_escalation", Status.CLOSED),
    ("take_over", Status.CLOSED),  # from bot_active it is a join (tests/workbench/test_agent_day.py)
    ("transfer", Status.BOT_ACTIVE),
    ("transfer", Status.PENDING_MANUAL),
    ("transfer", Status.CLOSED),
    ("return_to_queue", Status.BOT_ACTIVE),
    ("return_to_queue", Status.PENDING_MANUAL),
    ("return_to_queue", Status.CLOSED),
    ("release", Status.BOT_ACTIVE),
    ("release", Status.PENDING_MANUAL),
    ("release", Status.CLOSED),
    ("close", Status.CLOSED),
    ("post_agent_message", Status.BOT_ACTIVE),
    ("post_agent_message", Status.PENDING_MANUAL),
    ("post_agent_message", Status.CLOSED),
    ("post_customer_message", Status.CLOSED),
]


@pytest.mark.parametrize(("action", "status"), ILLEGAL)
def test_illegal_transitions_are_refused_and_change_nothing(action, status, agent_user, other_agent):
    session = in_status(status, agent_user)
    before = snapshot(session)
    calls = {
        "escalate": lambda: conversations.escalate(session, reason="x"),
        "cancel_escalation": lambda: conversations.cancel_escalation(session),
        "take_over": lambda: conversations.take_over(session, agent=agent_user),
        "release": lambda: conversations.release(session, by=agent_user),
        "transfer": lambda: conversations.transfer(session, by=agent_user, to=other_agent),
        "return_to_queue": lambda: conversations.return_to_queue(session, by=agent_user),
        "close": lambda: conversations.close(session),
        "post_agent_message": lambda: conversations.post_agent_message(session, agent=agent_user, content="hi"),
        "post_customer_message": lambda: conversations.post_customer_message(session, content="hi"),
    }
    with pytest.raises(IllegalTransition):
        calls[action]()
    assert snapshot(session) == before


def test_status_is_checked_before_the_caller(agent_user, other_agent):
    """A second release by another agent gets 409 (status), not 403 (caller)."""
    session = in_status(Status.MANUAL_LIVE, agent_user)
    conversations.release(session, by=agent_user)
    with pytest.raises(IllegalTransition):
        conversations.release(session, by=other_agent)


def test_customer_message_in_bot_active_is_answered_by_the_bot(published_events):
    session = conversations.start()
    with published_events(expect=2):
        posted = conversations.post_customer_message(session, content="What is the meaning of life?")
    assert posted.created
    assert posted.message["role"] == "user"
    assert posted.reply is not None and posted.reply["role"] == "bot"
    assert [e["seq"] for e in events_of(session)] == [1, 2, 3]


def test_customer_message_while_waiting_goes_to_the_agent_without_a_bot_reply():
    session = in_status(Status.PENDING_MANUAL)
    posted = conversations.post_customer_message(session, content="Still there?")
    assert posted.reply is None


def test_agent_message_only_from_the_assigned_agent(agent_user, other_agent):
    session = in_status(Status.MANUAL_LIVE, agent_user)
    posted = conversations.post_agent_message(session, agent=agent_user, content="Hello, I'm Alice")
    assert posted.message["role"] == "agent"
    assert posted.message["agent"] == {"username": "alice", "name": "Alice"}
    before = snapshot(session)
    with pytest.raises(NotAllowed):
        conversations.post_agent_message(session, agent=other_agent, content="Hi")
    assert snapshot(session) == before


def test_a_repeated_client_id_returns_the_original_and_creates_nothing():
    session = conversations.start()
    client_id = str(uuid.uuid4())
    first = conversations.post_customer_message(session, content="Hello?", client_id=client_id)
    before = snapshot(session)
    again = conversations.post_customer_message(session, content="Hello?", client_id=client_id)
    assert not again.created
    assert again.message == first.message
    assert again.reply == first.reply
    assert snapshot(session) == before


def test_a_retry_after_the_conversation_moved_on_gets_the_first_outcome(agent_user):
    """A client that lost the response retries; meanwhile the state changed so that
    a new send would be refused. The retry still gets what the first send did."""
    session = in_status(Status.MANUAL_LIVE, agent_user)
    client_id = str(uuid.uuid4())
    first = conversations.post_agent_message(session, agent=agent_user, content="One moment", client_id=client_id)
    conversations.release(session, by=agent_user)
    again = conversations.post_agent_message(session, agent=agent_user, content="One moment", client_id=client_id)
    assert (again.created, again.message) == (False, first.message)

    customer_id = str(uuid.uuid4())
    said = conversations.post_customer_message(session, content="Thanks", client_id=customer_id)
    conversations.close(session)
    before = snapshot(session)
    assert conversations.post_customer_message(session, content="Thanks", client_id=customer_id).message == said.message
    assert snapshot(session) == before


def test_a_client_id_of_another_role_is_refused(agent_user):
    session = in_status(Status.MANUAL_LIVE, agent_user)
    client_id = str(uuid.uuid4())
    conversations.post_customer_message(session, content="Hello", client_id=client_id)
    before = snapshot(session)
    with pytest.raises(InvalidInput):
        conversations.post_agent_message(session, agent=agent_user, content="Hi", client_id=client_id)
    assert snapshot(session) == before


def test_another_agent_replaying_the_holders_client_id_is_refused_not_answered(agent_user, other_agent):
    """The check order (404, 409, 403) holds: a non-holder gets 403, never the holder's message."""
    session = in_status(Status.MANUAL_LIVE, agent_user)
    client_id = str(uuid.uuid4())
    conversations.post_agent_message(session, agent=agent_user, content="Alice's words", client_id=client_id)
    before = snapshot(session)
    with pytest.raises(NotAllowed):
        conversations.post_agent_message(session, agent=other_agent, content="replay", client_id=client_id)
    assert snapshot(session) == before
    repeated = conversations.post_agent_message(session, agent=agent_user, content="Alice's words", client_id=client_id)
    assert repeated.created is False and repeated.message["content"] == "Alice's words"


def test_a_new_holder_cannot_reuse_the_previous_holders_client_id(agent_user, other_agent):
    session = in_status(Status.MANUAL_LIVE, agent_user)
    client_id = str(uuid.uuid4())
    conversations.post_agent_message(session, agent=agent_user, content="from Alice", client_id=client_id)
    conversations.release(session, by=agent_user)
    conversations.escalate(session)
    conversations.take_over(session, agent=other_agent)
    before = snapshot(session)
    with pytest.raises(InvalidInput):
        conversations.post_agent_message(session, agent=other_agent, content="from Bob", client_id=client_id)
    assert snapshot(session) == before


def test_only_the_bot_can_post_product_cards(agent_user):
    """A customer's or an agent's [PRODUCT] block stays text (no pixel, no fake Track link)."""
    block = (
        "[PRODUCT]https://evil.example/p.gif|Refund approved|1|£0|Refunded|Fiido|RF1|https://evil.example/x[/PRODUCT]"
    )
    session = in_status(Status.MANUAL_LIVE, agent_user)
    by_customer = conversations.post_customer_message(session, content=block).message
    by_agent = conversations.post_agent_message(session, agent=agent_user, content=block).message
    for message in (by_customer, by_agent):
        assert message["parts"] == [{"type": "text", "text": block}]
        assert "evil.example/p.gif" not in message["html"].split("<p")[0]
        assert "<img" not in message["html"] and "card" not in message["html"]
    bot = conversations.start()
    with transaction.atomic(durable=True):
        changes = conversations._Changes(conversations._lock(bot))
        stored = changes.message(Message.Role.BOT, block)
        changes.save()
    assert [part["type"] for part in changes.payload_of(stored)["parts"]] == ["card"]


def test_the_same_client_id_in_another_session_is_a_new_message():
    client_id = str(uuid.uuid4())
    one, two = conversations.start(), conversations.start()
    assert conversations.post_customer_message(one, content="a", client_id=client_id).created
    assert conversations.post_customer_message(two, content="a", client_id=client_id).created


@pytest.mark.parametrize(
    ("content", "client_id"),
    [
        (None, None),
        (42, None),
        ("", None),
        ("   \n ", None),
        ("x" * 2001, None),
        ("fine", "not-a-uuid"),
        ("fine", 12345),
    ],
)
def test_bad_messages_are_refused_and_change_nothing(content, client_id):
    session = conversations.start()
    before = snapshot(session)
    with pytest.raises(InvalidInput):
        conversations.post_customer_message(session, content=content, client_id=client_id)
    assert snapshot(session) == before


def test_event_seqs_are_strictly_increasing_without_gaps(agent_user):
    session = conversations.start()
    conversations.post_customer_message(session, content="hi")
    conversations.escalate(session)
    conversations.take_over(session, agent=agent_user)
    conversations.post_agent_message(session, agent=agent_user, content="hello")
    conversations.release(session, by=agent_user)
    conversations.close(session)
    seqs = [e["seq"] for e in events_of(session)]
    assert seqs == list(range(1, len(seqs) + 1))
    session.refresh_from_db()
    assert session.last_seq == seqs[-1]
    assert session.message_count == Message.objects.filter(session=session).count()


def test_a_failing_bot_never_loses_the_message(settings, caplog):
    settings.CHATBOT_BACKEND = "tests.chatbot.test_conversations.BrokenBot"
    session = conversations.start()
    posted = conversations.post_customer_message(session, content="Hello?")
    assert Message.objects.filter(session=session, role="user", content="Hello?").exists()
    assert posted.reply is not None and "trouble" in posted.reply["content"]
    assert "failed to answer" in caplog.text


class BrokenBot:
    def greeting(self) -> str:
        return "Hello"

    def reply(self, session, history):
        raise RuntimeError("model exploded")


def test_the_plain_sql_writes_skip_nothing_these_models_have():
    """Messages, events and the session row are written without ``save()`` (fiido.db.rows):
    none of the three overrides it, and nobody listens to their save signals."""
    from django.db.models import Model
    from django.db.models.signals import post_save, pre_save

    for model in (ChatSession, Message, Event):
        assert model.save is Model.save, model
        assert not pre_save.has_listeners(model) and not post_save.has_listeners(model), model


def test_what_the_plain_sql_writes_reads_back_through_the_orm(agent_user):
    session = in_status(Status.MANUAL_LIVE, agent=agent_user)
    before = ChatSession.objects.get(pk=session.pk)
    client_id = uuid.uuid4()
    posted = conversations.post_agent_message(session.name, agent=agent_user, content="Hi", client_id=str(client_id))
    message = Message.objects.select_related("event").get(pk=posted.message["id"])
    assert (message.role, message.content, message.client_id, message.agent, message.params) == (
        "agent",
        "Hi",
        client_id,
        agent_user,
        {},
    )
    assert posted.message["created_at"] == message.created_at.isoformat().replace("+00:00", "Z")
    assert json.loads(message.event.payload)["message"] == posted.message
    assert message.event.seq == posted.message["seq"] == before.last_seq + 1
    after = ChatSession.objects.get(pk=session.pk)
    assert (after.last_seq, after.message_count) == (before.last_seq + 1, before.message_count + 1)
    assert after.updated_at > before.updated_at and after.assigned_agent == agent_user


def test_actions_by_name_return_the_locked_row_with_its_agent(agent_user, django_assert_num_queries):
    session = in_status(Status.PENDING_MANUAL)
    taken = conversations.take_over(session.name, agent=agent_user)
    assert taken.status == Status.MANUAL_LIVE and taken.pk == session.pk
    with django_assert_num_queries(0):
        assert taken.assigned_agent.username == agent_user.username
    with pytest.raises(conversations.SessionNotFound):
        conversations.release("no-such-session", by=agent_user)
    with pytest.raises(conversations.SessionNotFound):
        conversations.close("not a name", by=agent_user)
