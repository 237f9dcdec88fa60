"""The conversation state machine (DESIGN §2): one function per action.

Each function takes the conversation as a ``ChatSession`` or by its name,
validates its input, locks the session row (an unknown name is
``SessionNotFound``, 404), checks that the current status allows the action
(else ``IllegalTransition``, 409) and that the caller may make it (else
``NotAllowed``, 403), writes the change with its event rows in one
transaction, and hands the events to ``publish_on_commit``. This module is
the only place that writes events and the only place that publishes.

Views pass the name: the locked read is then the only read of the row (a
view that read it first, for its 404, read it twice). The order every client
sees stays 404 → 400 → 409 → 403: input is checked before the lock, and
only when it is refused is the name looked up first (``_checked``), so an
unknown conversation is a 404 whatever the body says.

Race safety lives in the database: every action locks the session row
(``SELECT … FOR UPDATE`` on PostgreSQL); SQLite transactions are
``IMMEDIATE`` (settings), so they take the database's write lock at
``BEGIN``. Either way a second writer waits, then sees the first one's result.

The statements every message runs (the lock, the message and event inserts,
the session update) are written as plain SQL through ``fiido.db.rows``: the
ORM's query building cost several times the database's work (``bench/NOTES.md``,
third round). They skip ``save()``: ``ChatSession``, ``Message`` and ``Event``
override no ``save`` and nobody listens to their save signals
(``tests/chatbot/test_conversations.py`` checks both).
"""

from __future__ import annotations

import json
import logging
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from chatbot import attachments, copilot, figures, hours, idle, mail, payloads
from chatbot import translation as machine_translation
from chatbot.bots import BotReply, get_bot
from chatbot.bots.base import REASON_ASKED, REASON_UNANSWERED
from chatbot.exceptions import AlreadyTaken, AtCapacity, IllegalTransition, InvalidInput, NotAllowed, SessionNotFound
from chatbot.models import (
    Attachment,
    ChatSession,
    ConversationSummary,
    Event,
    Message,
    MessageTranslation,
    Note,
    Rating,
)
from chatbot.selectors import SESSION_NAME
from chatbot.signals import desk_changed
from fiido.db import rows
from fiido.realtime import StoredEvent, publish_on_commit
from fiido.realtime.groups import WAITING_GROUP, agent_group, agents_group, session_group
from fiido.realtime.publish import notify_on_commit
from fiido.realtime.sse import dumps

logger = logging.getLogger(__name__)
T = TypeVar("T")

Status = ChatSession.Status
Role = Message.Role

# A conversation as the actions take it: the row, or its public name (views pass the name).
Conversation = ChatSession | str

BOT_HISTORY_MESSAGES = 20  # how much of the conversation the bot sees
BOT_MISSES_BEFORE_HANDOFF = 3  # unanswered questions in a row before a person is called
BOT_APOLOGY = gettext_lazy(
    "Sorry, I'm having trouble answering right now. Would you like to talk to a "
    "person? Press “Talk to a person” and an agent will join you."
)
REASON_MAX_CHARS = 500
# The assistant's answer to a photo or file: it cannot look at them, and says who can.
BOT_CANNOT_SEE_FILES = gettext_lazy(
    "Thanks, I have added your file to the conversation. I can't look at photos or files myself, "
    "but an agent can: press “Talk to a person” and they will see it."
)


@dataclass(frozen=True)
class Posted:
    """The outcome of sending a message: the stored message, the bot's reply, and
    whether this call created it (False for a repeated ``client_id``)."""

    message: dict[str, Any]
    reply: dict[str, Any] | None
    created: bool


# ---------------------------------------------------------------------------
# Customer actions
# ---------------------------------------------------------------------------
def start(
    *, customer_name: str = "", customer_email: str = "", language: str | None = None, visitor: str = ""
) -> ChatSession:
    """Open a new conversation in the customer's ``language`` (default: the
    active one); the bot greets the customer in it. ``visitor`` is the
    browser's id (agents see its earlier conversations)."""
    customer_name = _customer_name(customer_name)
    customer_email = _customer_email(customer_email)
    language = _customer_language(language)
    with transaction.atomic(durable=True):
        session = ChatSession.objects.create(
            customer_name=customer_name, customer_email=customer_email, language=language, visitor=visitor[:32]
        )
        changes = _Changes(session)
        with translation.override(language):
            greeting = get_bot().greeting()
        changes.message(Role.BOT, greeting)
        changes.save()
    return session


def identify(session: Conversation, *, details: dict[str, Any]) -> ChatSession:
    """The customer says who they are: ``customer_name`` and/or ``customer_email``
    from ``details`` (others are ignored; a key that is absent stays as it is).

    Agents see it live (a ``customer`` event, queue included). A malformed
    email or an over-long name is a 400; a closed conversation, 409.
    """
    fields = _checked(session, lambda: _customer_details(details))
    with transaction.atomic(durable=True):
        locked = _lock(session)
        if locked.status == Status.CLOSED:
            raise IllegalTransition("The conversation is closed.")
        changes = _Changes(locked)
        changes.customer(**fields)
        changes.save()
    return _settled(session, locked, changes)


def post_customer_message(session: Conversation, *, content: Any, client_id: Any = None) -> Posted:
    """Store a customer message; in ``bot_active`` the bot answers it.

    The message is committed (and published) before the bot is asked, so a
    slow or failing bot never loses it, and the session is not locked while
    the bot thinks.
    """
    content, client_uuid = _checked(session, lambda: (_message_content(content), _client_uuid(client_id)))
    try:
        with transaction.atomic(durable=True):
            locked = _lock(session)
            if locked.status == Status.CLOSED:
                _raise_if_repeated(locked, client_uuid, Role.USER)
                raise IllegalTransition("This conversation is closed.")
            changes = _Changes(locked)
            message = changes.message(Role.USER, content, client_id=client_uuid)
            if locked.offline_request and locked.status != Status.PENDING_MANUAL:
                locked.offline_request = False  # the customer is back: replies reach them here, not by email
                changes.touch("offline_request")
            changes.save()
            machine_translation.schedule(message, locked)  # after the publish, off this request
    except _Repeated as repeated:
        return repeated.earlier
    reply = _bot_answer(locked, message) if locked.status == Status.BOT_ACTIVE else None
    _refresh(session, locked)
    return Posted(message=changes.payload_of(message), reply=reply, created=True)


def escalate(session: Conversation, *, reason: str = "", offline: bool = False) -> ChatSession:
    """Ask for a person: ``bot_active`` -> ``pending_manual``.

    ``offline`` (support is closed, ``chatbot.hours``): a message left for
    later. It needs the customer's email (400 without), waits in "Offline
    requests" instead of the live queue, and agents' replies are emailed.
    """
    reason = _checked(session, lambda: _optional_text(reason, "reason", REASON_MAX_CHARS))
    with transaction.atomic(durable=True):
        locked = _lock(session)
        _require(locked, Status.BOT_ACTIVE, "The conversation is not with the bot.")
        if offline and not locked.customer_email:
            raise InvalidInput("Support is closed: give your email (customer_email) so an agent can answer you.")
        changes = _Changes(locked)
        _escalate_locked(changes, reason=reason, offline=offline)
        changes.save()
    return _settled(session, locked, changes)


def cancel_escalation(session: Conversation) -> ChatSession:
    """Stop waiting for a person: ``pending_manual`` -> ``bot_active``."""
    with transaction.atomic(durable=True):
        locked = _lock(session)
        _require(locked, Status.PENDING_MANUAL, "No request for a person is waiting.")
        changes = _Changes(locked)
        changes.transition(Status.BOT_ACTIVE, escalated_at=None, escalation_reason="")
        changes.save()
    return _settled(session, locked, changes)


def rate(session: Conversation, *, score: Any, comment: Any = "") -> Rating:
    """The customer rates their closed conversation: ``score`` 1 to 5, an
    optional ``comment`` (at most ``MESSAGE_MAX_CHARS``).

    Once only: a conversation still open (409) has nothing to rate yet, and
    a second rating is refused (409) rather than replacing the first, so a
    report already read never changes under the team lead. Bad input is a 400.
    The rating is written first, then its event (agents see it live).
    """
    score, comment = _checked(
        session, lambda: (_score(score), _optional_text(comment, "comment", settings.MESSAGE_MAX_CHARS))
    )
    with transaction.atomic(durable=True):
        locked = _lock(session)
        _require(locked, Status.CLOSED, "Rate the conversation once it is closed.")
        if Rating.objects.filter(session=locked).exists():  # the row lock makes this check race-free
            raise IllegalTransition("This conversation is already rated.")
        rating = Rating.objects.create(session=locked, score=score, comment=comment)
        changes = _Changes(locked)
        changes.rating(rating)
        changes.save()
    _refresh(session, locked)
    return rating


# ---------------------------------------------------------------------------
# Agent actions
# ---------------------------------------------------------------------------
def take_over(
    session: Conversation, *, agent: AbstractBaseUser, max_live: int | None = None, language: str | None = None
) -> ChatSession:
    """Give a conversation to ``agent``: one waiting in the queue
    (``pending_manual``), or one still with the bot (``bot_active``: the agent
    joins it, and the bot stops answering) -> ``manual_live``.

    Exactly one of several concurrent callers wins, across processes: the
    others wait for the row lock, then find the status changed and get
    ``AlreadyTaken``. With ``max_live`` (the agent's capacity), an agent who
    already holds that many live conversations gets ``AtCapacity`` (409).
    With ``COPILOT`` on, the agents then get a summary in ``language`` (the
    agent's), made once, after the commit, off this request.
    """
    with transaction.atomic(durable=True):
        locked = _lock(session)
        if locked.status == Status.MANUAL_LIVE:
            holder = payloads.display_name(locked.assigned_agent) if locked.assigned_agent else "Another agent"
            raise AlreadyTaken(f"{holder} took this conversation.")
        if locked.status not in {Status.PENDING_MANUAL, Status.BOT_ACTIVE}:
            raise IllegalTransition("The conversation is closed.")
        changes = _give_to(locked, agent, max_live=max_live, language=language)
    return _settled(session, locked, changes)


def assign(session: ChatSession, *, agent: AbstractBaseUser, max_live: int, language: str | None = None) -> ChatSession:
    """Give a waiting conversation to the agent the desk chose (``AUTO_ASSIGN``,
    ``workbench.assignment``): ``pending_manual`` -> ``manual_live``, as if the
    agent had taken it over, never beyond their capacity (``AtCapacity``);
    the summary (``COPILOT``) in ``language``, the agent's chosen one."""
    with transaction.atomic(durable=True):
        locked = _lock(session)
        _require(locked, Status.PENDING_MANUAL, "The conversation is no longer waiting.")
        changes = _give_to(locked, agent, max_live=max_live, language=language)
    return _settled(session, locked, changes)


def _give_to(locked: ChatSession, agent: AbstractBaseUser, *, max_live: int | None, language: str | None) -> _Changes:
    """The one way a conversation becomes an agent's (take-over, assignment):
    within their capacity, announced to the customer, summarised for the agent."""
    _require_room(agent, max_live)
    changes = _Changes(locked)
    changes.transition(Status.MANUAL_LIVE, assigned_agent=agent)
    changes.system_message("agent_joined", agent=payloads.display_name(agent))
    changes.save()
    copilot.schedule_summary(locked, language=language or settings.LANGUAGE_CODE)
    return changes


def transfer(
    session: ChatSession, *, by: AbstractBaseUser, to: AbstractBaseUser, max_live: int | None = None
) -> ChatSession:
    """Hand a live conversation to another agent: it stays ``manual_live``.

    Only the holder may transfer, or a superuser; ``to`` must be an active
    agent (the caller checks) other than the holder (409). Two transfers at
    once: the row lock makes the second see the first's holder, so exactly
    one wins. The receiving agent is alerted.
    """
    with transaction.atomic(durable=True):
        locked = _lock(session)
        _require(locked, Status.MANUAL_LIVE, "The conversation is not with an agent.")
        if _is_assigned(locked, to):
            raise IllegalTransition(f"{payloads.display_name(to)} already has this conversation.")
        if not (_is_assigned(locked, by) or by.is_superuser):
            raise NotAllowed("Only the agent in this conversation can transfer it.")
        _require_room(to, max_live)
        changes = _Changes(locked)
        changes.transition(Status.MANUAL_LIVE, assigned_agent=to)
        changes.system_message("transferred", agent=payloads.display_name(by), to=payloads.display_name(to))
        changes.alert(to, "transfer", by=payloads.display_name(by))
        changes.save()
    return _settled(session, locked, changes)


def return_to_queue(session: ChatSession, *, by: AbstractBaseUser) -> ChatSession:
    """Put a live conversation back in the queue: ``manual_live`` -> ``pending_manual``.

    The holder only (or a superuser). It keeps its original ``escalated_at``,
    so the customer keeps their place (one an agent joined from the bot gets
    one now).
    """
    with transaction.atomic(durable=True):
        locked = _lock(session)
        _require(locked, Status.MANUAL_LIVE, "The conversation is not with an agent.")
        if not (_is_assigned(locked, by) or by.is_superuser):
            raise NotAllowed("Only the agent in this conversation can return it to the queue.")
        changes = _Changes(locked)
        _back_to_queue(changes, by=by)
        changes.save()
    return _settled(session, locked, changes)


def _back_to_queue(changes: _Changes, *, by: AbstractBaseUser) -> None:
    """``manual_live`` -> ``pending_manual``, keeping the customer's place (one
    an agent joined from the bot gets one now), and say who let go."""
    waiting_since = changes.session.escalated_at or timezone.now()
    changes.transition(Status.PENDING_MANUAL, assigned_agent=None, escalated_at=waiting_since)
    changes.system_message("returned_to_queue", agent=payloads.display_name(by))


def hand_back_held(agent: AbstractBaseUser) -> int:
    """Return every conversation ``agent`` holds to the queue, each keeping its
    place, and say so to its customer; how many. The agent is leaving the desk
    (deleted, deactivated, no longer an agent): nobody could answer those
    customers, and a deleted agent's conversations would otherwise be left live
    with nobody, changed by the database's ``SET NULL`` without an event.

    Unlike the other actions this joins the caller's transaction (the admin's
    delete or save runs in one), so it is undone with it; the events and the
    queue's signal go out when it commits.
    """
    held = list(
        ChatSession.objects.filter(status=Status.MANUAL_LIVE, assigned_agent_id=agent.pk).values_list("pk", flat=True)
    )
    returned = []
    for pk in held:
        with transaction.atomic():
            locked = _lock(ChatSession(pk=pk))
            if locked.status != Status.MANUAL_LIVE or locked.assigned_agent_id != agent.pk:
                continue  # taken back or closed meanwhile
            changes = _Changes(locked)
            _back_to_queue(changes, by=agent)
            changes.save()
        returned.append(locked)
    if returned:
        transaction.on_commit(lambda: desk_changed.send(sender=ChatSession, session=returned[-1]))
    return len(returned)


def release(session: Conversation, *, by: AbstractBaseUser) -> ChatSession:
    """Hand a live conversation back to the bot: ``manual_live`` -> ``bot_active``.

    Only the assigned agent may release, or a superuser forcing it.
    """
    with transaction.atomic(durable=True):
        locked = _lock(session)
        _require(locked, Status.MANUAL_LIVE, "The conversation is not with an agent.")
        if not (_is_assigned(locked, by) or by.is_superuser):
            raise NotAllowed("Only the agent in this conversation can release it.")
        changes = _Changes(locked)
        changes.transition(Status.BOT_ACTIVE, assigned_agent=None, escalated_at=None, escalation_reason="")
        changes.system_message("agent_left", agent=payloads.display_name(by))
        changes.save()
    return _settled(session, locked, changes)


def close(session: Conversation, *, by: AbstractBaseUser | None = None) -> ChatSession:
    """End the conversation; ``by`` is None when the customer ends it.

    Agents may close a session they hold, or any session still waiting in
    the queue; a superuser may close any session.
    """
    with transaction.atomic(durable=True):
        locked = _lock(session)
        if locked.status == Status.CLOSED:
            raise IllegalTransition("The conversation is already closed.")
        if by is not None and not (
            by.is_superuser or _is_assigned(locked, by) or locked.status == Status.PENDING_MANUAL
        ):
            raise NotAllowed("Only the agent in this conversation can close it.")
        changes = _Changes(locked)
        changes.transition(Status.CLOSED, closed_at=timezone.now())
        if by is None:
            changes.system_message("customer_closed")
        else:
            changes.system_message("agent_closed", agent=payloads.display_name(by))
        changes.save()
    return _settled(session, locked, changes)


def warn_idle(session: ChatSession, *, now: datetime, closes_at: datetime) -> bool:
    """Tell the customer a quiet conversation will close at ``closes_at``, once.

    Run by the idle sweep; under the lock it checks again that nothing has
    happened since the sweep looked (False: it had, or the warning was given).
    """
    with transaction.atomic(durable=True):
        locked = _lock(session)
        limit = idle.limit_for(locked)
        if limit is None or locked.idle_warned_at is not None or locked.last_activity_at + limit != closes_at:
            return False
        changes = _Changes(locked)
        minutes = max(1, round((closes_at - now).total_seconds() / 60))
        changes.system_message("idle_warning", minutes=str(minutes))
        locked.idle_warned_at = now
        changes.touch("idle_warned_at")
        changes.save()
    return True


def close_idle(session: ChatSession, *, now: datetime) -> bool:
    """Close a conversation nobody has written in for its status's limit
    (``IDLE_CLOSE_*``), with a system message that says why.

    Two sweeps at once (several workers): the second finds it closed, or
    active again, under the lock and does nothing, so it closes once, with
    one status event. False when it did not close it.
    """
    with transaction.atomic(durable=True):
        locked = _lock(session)
        limit = idle.limit_for(locked)
        if limit is None or locked.last_activity_at + limit > now:
            return False
        changes = _Changes(locked)
        changes.transition(Status.CLOSED, closed_at=now)
        if limit.total_seconds() % 3600 == 0 and limit.total_seconds() >= 7200:
            changes.system_message("idle_closed_hours", hours=str(int(limit.total_seconds() // 3600)))
        else:
            changes.system_message("idle_closed_minutes", minutes=str(int(limit.total_seconds() // 60)))
        changes.save()
    _settled(session, locked, changes)
    return True


def post_agent_message(
    session: Conversation,
    *,
    agent: AbstractBaseUser,
    content: Any,
    client_id: Any = None,
    language: str | None = None,
) -> Posted:
    """Store a message from the agent holding a ``manual_live`` conversation,
    written in ``language`` (the agent's; with ``TRANSLATION`` on, the
    customer then also gets it in theirs, after it is published)."""
    content, client_uuid = _checked(session, lambda: (_message_content(content), _client_uuid(client_id)))
    try:
        with transaction.atomic(durable=True):
            locked = _lock(session)
            if locked.status != Status.MANUAL_LIVE or not _is_assigned(locked, agent):
                _raise_if_repeated(locked, client_uuid, Role.AGENT, agent=agent)
                _require(locked, Status.MANUAL_LIVE, "The conversation is not live with an agent.")
                raise NotAllowed("Only the agent in this conversation can send messages to it.")
            changes = _Changes(locked)
            message = changes.message(Role.AGENT, content, agent=agent, client_id=client_uuid)
            if locked.offline_request and locked.customer_email:
                mail.queue_reply(locked, message)  # the customer left: the reply goes by email too
            changes.save()
            machine_translation.schedule(message, locked, source_language=language)
    except _Repeated as repeated:
        return repeated.earlier
    _refresh(session, locked)
    return Posted(message=changes.payload_of(message), reply=None, created=True)


def post_attachment(
    session: ChatSession, *, upload: Any, client_id: Any = None, agent: AbstractBaseUser | None = None
) -> Posted:
    """Store a photo or PDF as a message: from the customer (``agent`` None) in
    any status but ``closed``, or from the agent holding a ``manual_live``
    conversation, like a text message from either.

    The file is checked by its content and images re-encoded first
    (``chatbot.attachments.prepare``: 400, 413, 415), then written to the
    attachments storage, then the message and its ``Attachment`` committed
    as one event. If the transaction refuses (409, 403) or fails, the written
    files are deleted again, so a refusal leaves no orphan behind. A repeated
    ``client_id`` returns the first outcome and stores nothing; one already
    stored is answered before the file is even read.

    The assistant cannot look at files: in ``bot_active`` it answers with a
    short text saying an agent can (``BOT_CANNOT_SEE_FILES``), in the same
    transaction, and is not asked.
    """
    client_uuid = _client_uuid(client_id)
    role = Role.USER if agent is None else Role.AGENT
    try:
        _raise_if_repeated(session, client_uuid, role, agent=agent)
    except _Repeated as repeated:
        return repeated.earlier
    stored = attachments.save(attachments.prepare(upload))
    try:
        with transaction.atomic(durable=True):
            locked = _lock(session)
            if agent is None and locked.status == Status.CLOSED:
                _raise_if_repeated(locked, client_uuid, role)
                raise IllegalTransition("This conversation is closed.")
            if agent is not None and (locked.status != Status.MANUAL_LIVE or not _is_assigned(locked, agent)):
                _raise_if_repeated(locked, client_uuid, role, agent=agent)
                _require(locked, Status.MANUAL_LIVE, "The conversation is not live with an agent.")
                raise NotAllowed("Only the agent in this conversation can send files to it.")
            changes = _Changes(locked)
            message = changes.message(role, stored.prepared.name, agent=agent, client_id=client_uuid, attachment=stored)
            reply = None
            if locked.status == Status.BOT_ACTIVE:
                with translation.override(locked.language):
                    reply = changes.message(Role.BOT, str(BOT_CANNOT_SEE_FILES), reply_to=message)
            changes.save()
    except _Repeated as repeated:
        attachments.delete(stored.paths())
        return repeated.earlier
    except BaseException:
        attachments.delete(stored.paths())
        raise
    _refresh(session, locked)
    answer = changes.payload_of(reply) if reply is not None else None
    return Posted(message=changes.payload_of(message), reply=answer, created=True)


# ---------------------------------------------------------------------------
# Private notes (agents only)
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Noted:
    """The outcome of adding a note: its payload, and whether this call created it."""

    note: dict[str, Any]
    created: bool


def add_note(
    session: ChatSession,
    *,
    agent: AbstractBaseUser,
    content: Any,
    client_id: Any = None,
    mentioned: Sequence[AbstractBaseUser] = (),
) -> Noted:
    """A private note on a conversation, in any status, by any agent.

    It goes into the session's agents-only log (``Note``, published to the
    agents' group alone), never into the event log customers read. Each of
    ``mentioned`` (the agents it ``@mentions``; the caller resolves them) is
    alerted. A repeated ``client_id`` returns the first outcome and creates
    nothing.
    """
    content = _message_content(content)
    client_uuid = _client_uuid(client_id)
    with transaction.atomic(durable=True):
        locked = _lock(session)
        earlier = Note.objects.filter(session=locked, client_id=client_uuid).first()
        if earlier is not None:
            if earlier.author_id != agent.pk:
                raise InvalidInput("client_id is already used by another note.")
            return Noted(json.loads(earlier.payload)["note"], created=False)
        mentioned = [user for user in mentioned if user.pk != agent.pk]
        changes = _Changes(locked)
        note = changes.note(agent, content, client_uuid, [user.get_username() for user in mentioned])
        for user in mentioned:
            changes.alert(user, "mention", by=payloads.display_name(agent), note_seq=note.seq)
        changes.save()
    return Noted(json.loads(note.payload)["note"], created=True)


# ---------------------------------------------------------------------------
# Machine translations and summaries (chatbot/translation.py, chatbot/copilot.py)
# ---------------------------------------------------------------------------
def add_translation(message: Message, row: MessageTranslation, *, text: str) -> bool:
    """Store the translation of ``message`` that ``row`` waits for, then tell its readers.

    A conditional update (only an empty row is filled), so of two jobs that
    translated the same message at once exactly one stores and publishes.
    A customer's message goes to the session's agents; an agent's to the
    customer (marked machine-translated) and, as a confirmation, to agents.
    Notices, not events: the stored row is the truth, and history carries it.
    """
    with transaction.atomic(durable=True):
        if not MessageTranslation.objects.filter(pk=row.pk, text="").update(text=text):
            return False
        row.text = text
        _announce_translation(message, row)
    return True


def translation_missing(message: Message, row: MessageTranslation) -> None:
    """Tell the session's agents that ``message`` stays untranslated for now (a retry follows)."""
    if not row.text:
        with transaction.atomic(durable=True):
            _announce_translation(message, row)


def _announce_translation(message: Message, row: MessageTranslation) -> None:
    name = message.session.name
    stored = _stored_message(message)
    if message.role == Role.AGENT and row.text:
        with translation.override(row.language):
            shown = payloads.with_translation(stored, row, replaces=True)
        notify_on_commit(
            session_group(name), payloads.translation_event(name, shown, reader=row.language), audience="customers"
        )
    agents_read = row.language if message.role == Role.USER else row.source_language
    with translation.override(agents_read):
        shown = payloads.with_translation(stored, row, replaces=False)
    notify_on_commit(agents_group(name), payloads.translation_event(name, shown, reader=agents_read))


def save_summary(session: ChatSession, *, text: str, upto_seq: int) -> dict[str, Any]:
    """Store the conversation's summary (replacing an older one) and show it to its agents only.

    Kept apart from the event log and published to the agents' group alone,
    like a note: no byte of it can reach the customer.
    """
    with transaction.atomic(durable=True):
        summary, _ = ConversationSummary.objects.update_or_create(
            session=session, defaults={"text": text, "upto_seq": upto_seq}
        )
        data = payloads.summary_payload(summary)
        notify_on_commit(agents_group(session.name), payloads.summary_event(session.name, data))
    return data


def copilot_failed(session: ChatSession, *, what: str) -> None:
    """Tell the session's agents that the copilot could not make ``what`` (they may ask again)."""
    notify_on_commit(agents_group(session.name), {"type": what, "session_name": session.name, "failed": True})


def offer_suggestions(session: ChatSession, *, request_id: str, suggestions: list[str] | None) -> None:
    """Hand suggested replies (None: they failed) to the agents' pages; the one
    that asked (``request_id``) shows them. Never stored, never a customer's."""
    notice = {"type": "suggestions", "session_name": session.name, "request_id": request_id}
    notice |= {"suggestions": suggestions} if suggestions is not None else {"suggestions": [], "failed": True}
    notify_on_commit(agents_group(session.name), notice)


# ---------------------------------------------------------------------------
# Erasure
# ---------------------------------------------------------------------------
def purge(session: ChatSession) -> None:
    """Erase a conversation with its messages and event log (a customer's
    request, a retention policy).

    The only way messages and events are deleted (``Event.message`` is
    RESTRICT). Every open stream of the conversation gets a final ``deleted``
    event and ends, and queue pages drop it; a stream that misses the notice
    finds the conversation gone at its next catch-up and ends the same way.
    Unlike the other actions it may run inside a caller's transaction (the
    admin's delete view is one); the notice then goes out when that commits.
    """
    with transaction.atomic():
        locked = _lock(session)
        name, status = locked.name, locked.status
        files = attachments.stored_paths(locked.pk)
        locked.delete()
        if files:  # the rows go with the conversation; their files once that is committed
            transaction.on_commit(lambda: attachments.delete(files))
        notice = dumps(payloads.deleted_event(name))
        publish_on_commit([StoredEvent(name, 0, notice, to_queue=True, final=True)])
        if status == Status.PENDING_MANUAL:
            notify_on_commit(WAITING_GROUP, {"type": "queue_changed"})


# ---------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------
class _Changes:
    """Collects one transaction's writes: seqs, event rows, events to publish."""

    def __init__(self, session: ChatSession) -> None:
        self.session = session
        self.events: list[StoredEvent] = []
        self.alerts: list[tuple[int, dict[str, Any]]] = []  # (agent id, notice) for one agent each
        self.queue_moved = False  # someone joined or left the queue: waiting customers' places change
        self.capacity_freed = False  # an agent holds one conversation fewer
        self.closed = False  # closed now: its report figures are settled on save
        self._payloads: dict[int, dict[str, Any]] = {}
        self._fields = {"last_seq", "message_count", "updated_at"}

    def _next_seq(self) -> int:
        self.session.last_seq += 1
        return self.session.last_seq

    def _append(
        self,
        kind: str,
        seq: int,
        data: dict[str, Any],
        *,
        message=None,
        to_queue: bool,
        status: str = "",
        agent_id: int | None = None,
    ) -> None:
        text = dumps(data)
        event = Event(session=self.session, seq=seq, kind=kind, payload=text, message=message, status=status)
        event.agent_id = agent_id  # the report columns (workbench/reports.py)
        rows.insert(event)
        self.events.append(StoredEvent(self.session.name, seq, text, to_queue))

    def message(
        self,
        role: str,
        content: str,
        *,
        agent: AbstractBaseUser | None = None,
        client_id: uuid.UUID | None = None,
        reply_to: Message | None = None,
        code: str = "",
        params: dict[str, Any] | None = None,
        attachment: attachments.Stored | None = None,
    ) -> Message:
        fields = {
            "session": self.session,
            "role": role,
            "content": content,
            "agent": agent,
            "reply_to": reply_to,
            "code": code,
            "params": params or {},
        }
        if client_id is None:
            message = Message(client_id=uuid.uuid4(), **fields)
            rows.insert(message)
        else:
            message = _create_once(client_id, fields)
        parts = None
        if attachment is not None:
            row = Attachment.objects.create(session=self.session, message=message, **attachment.fields())
            parts = [attachments.part(row, self.session.name)]
        self.session.message_count += 1
        if role in (Role.USER, Role.AGENT):
            self.active()
        seq = self._next_seq()
        data = payloads.message_payload(message, seq=seq, parts=parts)
        self._payloads[message.id] = data
        self._append(
            Event.Kind.MESSAGE,
            seq,
            payloads.message_event(self.session, data),
            message=message,
            to_queue=role == Role.USER,
            agent_id=agent.pk if role == Role.AGENT and agent is not None else None,
        )
        return message

    def system_message(self, code: str, *, reply_to: Message | None = None, **params: str) -> Message:
        """A system message, stored as ``code`` and ``params`` (each reader sees it
        in their own language) and, for the admin and search, in English."""
        with translation.override(settings.LANGUAGE_CODE):
            content = payloads.system_text(code, params)
        return self.message(Role.SYSTEM, content, code=code, params=params, reply_to=reply_to)

    def transition(self, status: str, **fields: Any) -> None:
        previous = self.session.status
        holder = self.session.assigned_agent_id
        self.session.status = status
        for name, value in fields.items():
            setattr(self.session, name, value)
        self._fields.update(fields, ["status"])
        self.active()
        seq = self._next_seq()
        data = payloads.status_event(self.session, previous=previous, seq=seq)
        self._append(
            Event.Kind.STATUS, seq, data, to_queue=True, status=status, agent_id=self.session.assigned_agent_id
        )
        self.queue_moved |= Status.PENDING_MANUAL in (previous, status)
        self.closed = status == Status.CLOSED
        self.capacity_freed |= previous == Status.MANUAL_LIVE and (
            status != Status.MANUAL_LIVE or self.session.assigned_agent_id != holder
        )

    def customer(self, **fields: str) -> None:
        """New customer details, and their event (agents' pages and queue rows update)."""
        for name, value in fields.items():
            setattr(self.session, name, value)
        self._fields.update(fields)
        seq = self._next_seq()
        self._append(Event.Kind.CUSTOMER, seq, payloads.customer_event(self.session, seq=seq), to_queue=True)

    def rating(self, rating: Rating) -> None:
        """The customer's rating, as an event agents' pages show (not the queue)."""
        seq = self._next_seq()
        self._append(Event.Kind.RATING, seq, payloads.rating_event(self.session, rating, seq=seq), to_queue=False)

    def active(self) -> None:
        """A sign of life: the idle clock (chatbot/idle.py) starts again."""
        self.session.last_activity_at = timezone.now()
        self.session.idle_warned_at = None
        self._fields.update(["last_activity_at", "idle_warned_at"])

    def touch(self, *fields: str) -> None:
        """Mark session fields changed outside ``transition`` for saving."""
        self._fields.update(fields)

    def payload_of(self, message: Message) -> dict[str, Any]:
        return self._payloads[message.id]

    def alert(self, agent: AbstractBaseUser, kind: str, **params: Any) -> None:
        """Tell one agent, on every workbench page they have open, after commit.
        ``seq`` (the conversation's newest event) tells one alert from another."""
        notice = {"type": "alert", "kind": kind, "session_name": self.session.name, "seq": self.session.last_seq}
        self.alerts.append((agent.pk, {**notice, **params}))

    def note(self, author: AbstractBaseUser, content: str, client_id: uuid.UUID, mentions: list[str]) -> Note:
        """A private note, numbered in the session's agents-only log (``Note``)."""
        self.session.last_note_seq += 1
        self._fields.add("last_note_seq")
        self._fields.discard("updated_at")  # the conversation itself did not change
        note = Note(
            session=self.session,
            seq=self.session.last_note_seq,
            after_seq=self.session.last_seq,
            author=author,
            content=content,
            client_id=client_id,
            mentions=mentions,
        )
        note.created_at = timezone.now()
        note.payload = dumps(payloads.note_event(self.session, payloads.note_payload(note)))
        note.save()
        self.events.append(StoredEvent(self.session.name, note.seq, note.payload, to_queue=False, agents_only=True))
        return note

    def save(self) -> None:
        rows.update(self.session, sorted(self._fields))  # session.save(update_fields=...)
        if self.closed:  # its log is final: store the figures reports read (chatbot/figures.py)
            figures.settle([self.session.pk])
        publish_on_commit(self.events)
        for agent_id, notice in self.alerts:
            notify_on_commit(agent_group(agent_id), notice)
        if self.queue_moved:
            notify_on_commit(WAITING_GROUP, {"type": "queue_changed"})


def _lock(session: Conversation) -> ChatSession:
    """The conversation's row with its assigned agent, locked until the
    transaction ends; ``SessionNotFound`` if there is none.

    ``select_for_update(of=("self",)).select_related("assigned_agent")`` by
    primary key or name, as one plain ``SELECT``.
    """
    if isinstance(session, ChatSession):
        key, value = "id", session.pk
    elif SESSION_NAME.fullmatch(session):  # never issued; and PostgreSQL refuses a NUL in a query
        key, value = "name", session
    else:
        raise SessionNotFound()
    assigned_agent = ChatSession._meta.get_field("assigned_agent")
    sessions, connection = rows.table(ChatSession, write=True)
    agents, _ = rows.table(assigned_agent.related_model)
    sql = (
        f"SELECT {sessions.columns('s')}, {agents.columns('a')} FROM {sessions.name} s"
        f" LEFT JOIN {agents.name} a ON a.{agents.column(assigned_agent.target_field.attname)}"
        f" = s.{sessions.column(assigned_agent.attname)}"
        f" WHERE s.{sessions.column(key)} = %s"
    )
    if connection.features.has_select_for_update:  # PostgreSQL; SQLite's IMMEDIATE transaction holds the lock
        sql += " FOR UPDATE OF s" if connection.features.has_select_for_update_of else " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [ChatSession._meta.get_field(key).get_db_prep_value(value, connection)])
        row = cursor.fetchone()
    if row is None:
        raise SessionNotFound()
    locked = sessions.instance(row[: sessions.width], connection)
    locked.assigned_agent = (
        agents.instance(row[sessions.width :], connection) if locked.assigned_agent_id is not None else None
    )
    return locked


def _require_room(agent: AbstractBaseUser, max_live: int | None) -> None:
    """Refuse a conversation to an agent who holds ``max_live`` already.

    The agent's row is locked first (after the session's: every action locks
    in that order), so two assignments to one agent at once cannot both see
    room for one more.
    """
    if max_live is None:
        return
    list(get_user_model().objects.select_for_update().filter(pk=agent.pk).values_list("pk", flat=True))
    live = ChatSession.objects.filter(status=Status.MANUAL_LIVE, assigned_agent=agent).count()
    if live >= max_live:
        raise AtCapacity(
            f"{payloads.display_name(agent)} already has {live} live conversations (the most is {max_live})."
        )


def _settled(session: Conversation, locked: ChatSession, changes: _Changes) -> ChatSession:
    """After the commit: say so when the queue moved or an agent has room again
    (automatic assignment listens), and return the caller's refreshed instance."""
    if changes.queue_moved or changes.capacity_freed:
        desk_changed.send(sender=ChatSession, session=locked)
    return _refresh(session, locked)


def _checked(session: Conversation, check: Callable[[], T]) -> T:
    """``check()``, the input's validation; when it refuses the input, a
    conversation that does not exist is a 404 first (the order every client sees)."""
    try:
        return check()
    except InvalidInput:
        if not isinstance(session, ChatSession) and not (
            SESSION_NAME.fullmatch(session) and ChatSession.objects.filter(name=session).exists()
        ):
            raise SessionNotFound() from None
        raise


def _refresh(session: Conversation, locked: ChatSession) -> ChatSession:
    """Copy the committed state onto the caller's instance and return it; with
    only a name, return the locked instance."""
    if not isinstance(session, ChatSession):
        return locked
    for field in ChatSession._meta.concrete_fields:
        setattr(session, field.attname, getattr(locked, field.attname))
    session.assigned_agent = locked.assigned_agent
    return session


def _require(session: ChatSession, status: str, message: str) -> None:
    if session.status != status:
        raise IllegalTransition(message)


def _is_assigned(session: ChatSession, user: AbstractBaseUser) -> bool:
    return session.assigned_agent_id is not None and session.assigned_agent_id == user.pk


def _escalate_locked(
    changes: _Changes, *, reason: str, offline: bool = False, reply_to: Message | None = None
) -> Message | None:
    """The hand-over itself; an offline request also says so (that message is returned)."""
    changes.session.offline_request = offline
    changes.touch("offline_request")
    changes.transition(Status.PENDING_MANUAL, escalated_at=timezone.now(), escalation_reason=reason[:REASON_MAX_CHARS])
    if offline:
        return changes.system_message("offline_request", reply_to=reply_to)
    return None


def _bot_hands_over(
    changes: _Changes, *, reason: str, support_open: bool, reply_to: Message | None = None
) -> Message | None:
    """The bot asks for a person. While support is closed (``chatbot.hours``)
    that is an offline request, as the customer's own button makes one, when
    the customer's email is known; without it nobody could answer, so the bot
    keeps the conversation and says how to leave a message. Returns the system
    message that says what happens instead of a person joining, if any."""
    if support_open or changes.session.customer_email:
        return _escalate_locked(changes, reason=reason, offline=not support_open, reply_to=reply_to)
    return changes.system_message("support_closed", reply_to=reply_to)


class _Repeated(Exception):
    """A send repeated with the same ``client_id``: ``earlier`` is its first outcome."""

    def __init__(self, earlier: Posted) -> None:
        self.earlier = earlier


def _create_once(client_uuid: uuid.UUID, fields: dict[str, Any]) -> Message:
    """Insert a client's message, or raise ``_Repeated`` if its ``client_id`` is stored.

    The unique constraint decides (``ON CONFLICT DO NOTHING`` on its columns:
    no savepoint, no look-up in the usual case, a new message); a client
    retrying after a lost response gets what its first send produced. A
    ``client_id`` someone else used is a 400. Any other constraint raises.
    """
    message = Message(client_id=client_uuid, **fields)
    if rows.insert(message, on_conflict=("session_id", "client_id")):
        return message
    earlier = _sent_before(fields["session"], client_uuid)  # there: the session is locked
    if not _same_sender(earlier, fields["role"], fields["agent"]):
        raise InvalidInput("client_id is already used by another message.")
    raise _Repeated(_outcome(earlier))


def _raise_if_repeated(
    session: ChatSession, client_uuid: uuid.UUID, role: str, *, agent: AbstractBaseUser | None = None
) -> None:
    """Before refusing a send: raise ``_Repeated`` if this sender already sent it.

    A retry of a message that went through before the conversation changed
    gets its outcome, not an error; anyone else replaying that ``client_id``
    (another agent) gets the refusal everyone else gets.
    """
    earlier = _sent_before(session, client_uuid)
    if earlier is not None and _same_sender(earlier, role, agent):
        raise _Repeated(_outcome(earlier))


def _sent_before(session: ChatSession, client_uuid: uuid.UUID) -> Message | None:
    return Message.objects.filter(session=session, client_id=client_uuid).select_related("event").first()


def _same_sender(message: Message, role: str, agent: AbstractBaseUser | None) -> bool:
    return message.role == role and (agent is None or message.agent_id == agent.pk)


def _outcome(message: Message) -> Posted:
    reply = Message.objects.filter(reply_to=message).select_related("event").first()
    return Posted(message=_stored_message(message), reply=_stored_message(reply) if reply else None, created=False)


def _stored_message(message: Message) -> dict[str, Any]:
    return json.loads(message.event.payload)["message"]


def _bot_answer(session: ChatSession, question: Message) -> dict[str, Any] | None:
    """Ask the bot, then store its reply if the bot still holds the conversation."""
    history = list(Message.objects.filter(session=session).order_by("-id")[:BOT_HISTORY_MESSAGES])[::-1]
    reply = _ask_bot(session, history)
    # Whether anyone answers (a presence read) is asked before the lock, and only when the bot may hand over.
    support_open = hours.status()["open"] if reply.escalate or not reply.answered else True
    with transaction.atomic(durable=True):
        locked = _lock(session)
        if locked.status != Status.BOT_ACTIVE:
            return None  # a person was asked for meanwhile; the bot stays quiet
        changes = _Changes(locked)
        locked.bot_misses = 0 if reply.answered else locked.bot_misses + 1
        changes.touch("bot_misses")
        if reply.escalate and not support_open:
            # The bot's words promise a person ("connecting you now") whom nobody
            # can be now: the message that says what happens instead answers.
            message = _bot_hands_over(
                changes, reason=reply.reason or REASON_ASKED, support_open=False, reply_to=question
            )
        else:
            message = changes.message(Role.BOT, reply.text, reply_to=question)
            if reply.escalate:
                _bot_hands_over(changes, reason=reply.reason or REASON_ASKED, support_open=True)
            elif locked.bot_misses >= BOT_MISSES_BEFORE_HANDOFF:
                locked.bot_misses = 0
                _bot_hands_over(changes, reason=REASON_UNANSWERED, support_open=support_open)
        changes.save()
    session.status = locked.status
    _settled(session, locked, changes)
    return changes.payload_of(message)


def _ask_bot(session: ChatSession, history: list[Message]) -> BotReply:
    """The bot's reply, or an apology when it fails.

    Bots that call out over the network bound their own time with
    ``settings.CHATBOT_TIMEOUT_SECONDS`` and raise when it runs out.
    """
    with translation.override(session.language):
        try:
            reply = get_bot().reply(session, history)
            if not isinstance(reply, BotReply) or not reply.text.strip():
                raise TypeError(f"bot returned {reply!r}, not a BotReply with text")
            return reply
        except Exception:
            logger.exception("The bot failed to answer session %s", session.name)
            return BotReply(str(BOT_APOLOGY), answered=False)


def _message_content(content: Any) -> str:
    if not isinstance(content, str):
        raise InvalidInput("content must be a string.")
    if len(content) > settings.MESSAGE_MAX_CHARS:
        raise InvalidInput(f"content is longer than {settings.MESSAGE_MAX_CHARS} characters.")
    content = content.strip()
    if not content:
        raise InvalidInput("content must not be blank.")
    return content


def _score(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise InvalidInput("score must be a whole number from 1 to 5.")
    return value


def _client_uuid(client_id: Any) -> uuid.UUID:
    if client_id is None:
        return uuid.uuid4()
    if not isinstance(client_id, str):
        raise InvalidInput("client_id must be a UUID string.")
    try:
        return uuid.UUID(client_id)
    except ValueError:
        raise InvalidInput("client_id must be a UUID.") from None


def _customer_language(value: str | None) -> str:
    """One of the shop's languages: ``value``, else the active one, else the default."""
    for candidate in (value, translation.get_language()):
        if candidate in settings.CUSTOMER_LANGUAGES:
            return candidate
    return settings.LANGUAGE_CODE


def _customer_name(value: Any) -> str:
    """A name the customer chose, without the invisible characters (bidi
    overrides, zero-width joiners) that would let it pose as something else."""
    name = _optional_text(value, "customer_name", 100)
    visible = "".join(char for char in name if unicodedata.category(char) not in {"Cf", "Cc", "Co", "Cs"})
    return " ".join(visible.split())


def _customer_details(details: dict[str, Any]) -> dict[str, str]:
    fields = {}
    if "customer_name" in details:
        fields["customer_name"] = _customer_name(details["customer_name"])
    if "customer_email" in details:
        fields["customer_email"] = _customer_email(details["customer_email"])
    if not fields:
        raise InvalidInput("Give customer_name, customer_email or both.")
    return fields


def _customer_email(value: Any) -> str:
    email = _optional_text(value, "customer_email", 254)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInput("customer_email is not an email address.") from None
    return email


def _optional_text(value: Any, name: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string.")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters.")
    return value
