"""What an agent chose for their workbench."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q


def agent_language_choices() -> list[tuple[str, str]]:
    """The agents' languages (``settings.AGENT_LANGUAGES``), named as in ``settings.LANGUAGES``."""
    names = dict(settings.LANGUAGES)
    return [(code, names.get(code, code)) for code in settings.AGENT_LANGUAGES]


class AgentPreferences(models.Model):
    """An agent's own settings; without a language, the browser's is used.

    ``away`` is what the agent said in the workbench (online or away; offline
    is not a choice but the absence of any open workbench page). ``max_live``
    overrides ``AGENT_MAX_LIVE`` for this agent; ``last_assigned_at`` breaks
    ties when conversations are assigned automatically.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_preferences")
    language = models.CharField(max_length=10, blank=True, choices=agent_language_choices)
    away = models.BooleanField(default=False, help_text="The agent said they are away: no automatic assignments.")
    max_live = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Live conversations this agent may hold at once; empty: the AGENT_MAX_LIVE setting.",
    )
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "agent preferences"

    def __str__(self) -> str:
        return f"{self.user} ({self.language or 'browser'})"


class CannedReply(models.Model):
    """A ready answer an agent inserts with ``/shortcut``: shared (``owner`` None,
    kept by staff in the admin) or personal to one agent. Its body may hold
    ``{customer_name}``, ``{agent_name}`` and ``{order_number}``, filled in for
    the conversation when inserted (``workbench.canned.fill``)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="canned_replies"
    )
    shortcut = models.CharField(
        max_length=32,
        validators=[RegexValidator(r"^[a-z0-9-]{1,32}$", "Lower-case letters, digits and hyphens, at most 32.")],
        help_text="Typed after “/” in the composer, e.g. “refund-time”.",
    )
    title = models.CharField(max_length=100)
    body = models.TextField()
    use_count = models.PositiveIntegerField(default=0, editable=False)  # most used first in the list
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-use_count", "shortcut"]
        verbose_name_plural = "canned replies"
        constraints = [
            models.UniqueConstraint(fields=["owner", "shortcut"], name="canned_owner_shortcut_unique"),
            models.UniqueConstraint(
                fields=["shortcut"], condition=Q(owner__isnull=True), name="canned_shared_shortcut_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"

    @property
    def shared(self) -> bool:
        return self.owner_id is None


class ReadMarker(models.Model):
    """How far an agent has read a conversation (an event seq): customer messages
    after it are unread for that agent."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey("chatbot.ChatSession", on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "session"], name="read_marker_unique")]

    def __str__(self) -> str:
        return f"{self.agent_id} read {self.session_id} to #{self.seq}"


class Report(models.Model):
    """No table: the owner of the ``view_reports`` permission (workbench/reports.py),
    which lets an agent who is not staff read the team's reports."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_reports", "Can view the team's reports")]

    def __str__(self) -> str:
        return "Reports"
