"""The conversation models shared by the customer and agent sides.

``workbench`` imports these; ``chatbot`` never imports ``workbench``.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models


def new_session_name() -> str:
    """A public, unguessable, URL-safe session id (128 random bits)."""
    return secrets.token_urlsafe(16)


class ChatSession(models.Model):
    """One customer conversation and where it stands in the state machine."""

    class Status(models.TextChoices):
        BOT_ACTIVE = "bot_active", "Bot answering"
        PENDING_MANUAL = "pending_manual", "Waiting for an agent"
        MANUAL_LIVE = "manual_live", "Agent live"
        CLOSED = "closed", "Closed"

    name = models.CharField(max_length=32, unique=True, default=new_session_name, editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BOT_ACTIVE)
    assigned_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_chat_sessions",
    )
    escalation_reason = models.CharField(max_length=500, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    customer_name = models.CharField(max_length=100, blank=True)
    customer_email = models.EmailField(blank=True)
    # Denormalised counters, changed only while the row is locked.
    last_seq = models.PositiveIntegerField(default=0, editable=False)
    message_count = models.PositiveIntegerField(default=0, editable=False)
    # Answers the bot could not give in a row; three escalate by themselves.
    bot_misses = models.PositiveSmallIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "escalated_at"], name="session_status_escalated"),
            models.Index(fields=["status", "updated_at"], name="session_status_updated"),
            models.Index(fields=["updated_at"], name="session_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class Message(models.Model):
    """A chat bubble: said by the customer, the bot, an agent or the system."""

    class Role(models.TextChoices):
        USER = "user", "Customer"
        BOT = "bot", "Bot"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField()
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Chosen by the sender; a repeated send with the same id creates nothing.
    client_id = models.UUIDField()
    # The customer message a bot reply answers, so a retried send can return it.
    reply_to = models.OneToOneField("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reply")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "client_id"], name="message_client_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class Event(models.Model):
    """The per-session event log: the truth every stream is built from.

    ``seq`` counts 1, 2, 3… per session without gaps and is allocated while
    the session row is locked, so seq order is commit order on every
    database.
    """

    class Kind(models.TextChoices):
        MESSAGE = "message", "Message"
        STATUS = "status", "Status change"

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The message this event carries (message events only), so a retried send
    # can return exactly what was stored.
    message = models.OneToOneField(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="event")
    # The JSON text a stream sends, exactly as written (text, not jsonb, so
    # nothing reorders or re-encodes it).
    payload = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="event_session_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.seq} {self.kind}"
