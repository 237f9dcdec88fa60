"""The conversation models shared by the customer and agent sides.

``workbench`` imports these; ``chatbot`` never imports ``workbench``.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, URLValidator
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import pgettext_lazy


def customer_language_choices() -> list[tuple[str, str]]:
    """The shop's languages (``settings.CUSTOMER_LANGUAGES``), named as in ``settings.LANGUAGES``."""
    names = dict(settings.LANGUAGES)
    return [(code, names.get(code, code)) for code in settings.CUSTOMER_LANGUAGES]


def new_session_name() -> str:
    """A public, unguessable, URL-safe session id (128 random bits)."""
    return secrets.token_urlsafe(16)


class ChatSession(models.Model):
    """One customer conversation and where it stands in the state machine."""

    class Status(models.TextChoices):
        BOT_ACTIVE = "bot_active", pgettext_lazy("conversation status", "Bot answering")
        PENDING_MANUAL = "pending_manual", pgettext_lazy("conversation status", "Waiting for an agent")
        MANUAL_LIVE = "manual_live", pgettext_lazy("conversation status", "Agent live")
        CLOSED = "closed", pgettext_lazy("conversation status", "Closed")

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
    # When the conversation was closed; retention (purge_conversations) counts from it.
    closed_at = models.DateTimeField(null=True, blank=True)
    customer_name = models.CharField(max_length=100, blank=True)
    customer_email = models.EmailField(blank=True)
    # The browser that started it (a random id kept in its Django session):
    # agents see the customer's earlier conversations from the same browser.
    visitor = models.CharField(max_length=32, blank=True, db_index=True, editable=False)
    # The customer's language when the conversation started: the bot answers in
    # it, and agents see it. Never machine-translated.
    language = models.CharField(max_length=10, default="en")
    # Denormalised counters, changed only while the row is locked.
    last_seq = models.PositiveIntegerField(default=0, editable=False)
    last_note_seq = models.PositiveIntegerField(default=0, editable=False)  # the agents-only log (Note)
    message_count = models.PositiveIntegerField(default=0, editable=False)
    # Answers the bot could not give in a row; three escalate by themselves.
    bot_misses = models.PositiveSmallIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The last sign of life: a customer's or an agent's message, or a change of
    # status (not the bot's or the system's messages). Idle conversations close
    # themselves by it (chatbot/idle.py); the warning before is noted once.
    last_activity_at = models.DateTimeField(default=timezone.now, editable=False)
    idle_warned_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Asked for a person while support was closed: it waits in "Offline requests"
    # (not the live queue), and agents' replies are emailed until the customer is back.
    offline_request = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "escalated_at"], name="session_status_escalated"),
            models.Index(fields=["status", "updated_at"], name="session_status_updated"),
            models.Index(fields=["updated_at"], name="session_updated"),
            models.Index(fields=["status", "closed_at"], name="session_status_closed"),
            models.Index(fields=["status", "last_activity_at"], name="session_status_activity"),
            # History, newest first, paged by (created_at, id) (workbench/history.py).
            models.Index(fields=["created_at", "id"], name="session_created"),
            # The customer's earlier conversations by email (iexact: UPPER(email) on PostgreSQL).
            models.Index(Upper("customer_email"), name="session_email_upper"),
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
    # What was said; a system message's text in English (for the admin and
    # search), rendered for each reader in their own language from code and params.
    content = models.TextField()
    code = models.CharField(max_length=40, blank=True)
    params = models.JSONField(default=dict, blank=True)
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
        CUSTOMER = "customer", "Customer details"
        RATING = "rating", "Rating"

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The message this event carries (message events only), so a retried send
    # can return exactly what was stored. RESTRICT: a message cannot be deleted
    # on its own (that would punch a hole in the seq); it goes only with its
    # whole conversation (conversations.purge), whose cascade takes both.
    message = models.OneToOneField(Message, null=True, blank=True, on_delete=models.RESTRICT, related_name="event")
    # The JSON text a stream sends, exactly as written (text, not jsonb, so
    # nothing reorders or re-encodes it).
    payload = models.TextField()
    # What reports (workbench/reports.py) compute from, as columns so the database
    # can aggregate without parsing payloads: a status event's new status and the
    # agent holding the conversation after it; an agent message's author.
    status = models.CharField(max_length=20, blank=True, default="", editable=False)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="event_session_seq_unique"),
        ]
        indexes = [
            # Reports read only status changes and agents' messages (a third of
            # the log): on PostgreSQL this partial index answers them alone.
            models.Index(
                fields=["session", "seq"],
                include=["created_at", "status", "agent"],
                condition=models.Q(status__gt="") | models.Q(agent__isnull=False),
                name="event_report",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.seq} {self.kind}"


class Rating(models.Model):
    """How the customer rated a closed conversation: once, 1 to 5, with an
    optional comment (``conversations.rate``). Reports average it by the day
    the conversation closed."""

    session = models.OneToOneField(ChatSession, on_delete=models.CASCADE, related_name="rating")
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(score__gte=1, score__lte=5), name="rating_score_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}: {self.score}/5"


class ReportSample(models.Model):
    """One figure of a closed conversation for the team's reports, settled
    from its event log when it closes (``chatbot/figures.py``).

    A closed conversation's log never changes again, so its figures are
    derived once, in the close's transaction, and reports over long ranges
    aggregate these rows instead of windowing the log. The event log stays
    the truth: ``manage.py settle_report_figures`` derives them again, and a
    conversation without its ``conversation`` row is read from the log.
    """

    class Metric(models.IntegerChoices):  # small integers: reports group and sort by them
        CONVERSATION = 1, "conversation"  # one per conversation; value: 1 if it escalated, + 2 if an agent held it
        HELD = 2, "held"  # one per agent who held it; value: 1 if it escalated
        WAIT = 3, "wait"  # microseconds from an escalation to its answer; agent: who answered
        FIRST_RESPONSE = (
            4,
            "first response",
        )  # microseconds to the agent's first message (NULL: no reply); agent: assigned
        RESOLUTION = 5, "resolution"  # microseconds from the first escalation to the close; agent: the last holder

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()  # the conversation's created_at: reports count it on that day
    metric = models.PositiveSmallIntegerField(choices=Metric.choices)
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    value = models.BigIntegerField(null=True)

    class Meta:
        constraints = [
            # Settled once (metric 1: Metric.CONVERSATION): the close and the command may both try, one row wins.
            models.UniqueConstraint(
                fields=["session"], condition=models.Q(metric=1), name="report_sample_settled_once"
            ),
        ]
        indexes = [
            # Each of a report's aggregates reads one metric over the range, from the index alone.
            models.Index(fields=["metric", "started_at"], include=["agent", "value"], name="report_sample_range"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id} {self.get_metric_display()}={self.value}"


class Note(models.Model):
    """A private note on a conversation: only agents ever see it.

    Notes are a log of their own, apart from ``Event`` (which customers read):
    numbered 1, 2, 3… per session (``seq``, allocated under the session's row
    lock like event seqs), published only to the agents' group of the session
    and read only by agents' streams and pages. No query that builds what a
    customer receives touches this table, so no byte of a note can reach one.
    ``after_seq`` is the event seq it was written after, to place it among
    the messages.
    """

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="notes")
    seq = models.PositiveIntegerField()
    after_seq = models.PositiveIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    content = models.TextField()
    client_id = models.UUIDField()
    # Usernames @mentioned in the note (each is alerted).
    mentions = models.JSONField(default=list, blank=True)
    # The JSON agents' streams send, exactly as written.
    payload = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="note_session_seq_unique"),
            models.UniqueConstraint(fields=["session", "client_id"], name="note_client_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id} note #{self.seq}"


class OutgoingEmail(models.Model):
    """An email to a customer, written in the same transaction as what it tells
    (an agent's reply to an offline request) and sent by ``chatbot.mail``
    afterwards: a mail server that is down delays it, never loses it."""

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="emails")
    to = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["sent_at", "id"], name="email_unsent")]

    def __str__(self) -> str:
        return f"to {self.to}: {self.subject}"


class Attachment(models.Model):
    """A photo or file sent in a conversation, carried by one message.

    The bytes live in the ``attachments`` storage (``settings.STORAGES``),
    which no URL serves: they go out only through the access-checked view
    (``chatbot.views.attachment``). What is stored was checked by its content
    and, for images, re-encoded without metadata (``chatbot.attachments``).
    """

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        FILE = "file", "File"

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="attachments")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="attachment")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Decided from the bytes, never from the name or the browser's word.
    content_type = models.CharField(max_length=50)
    # The sender's file name, cleaned, with the extension of its real type.
    name = models.CharField(max_length=120)
    size = models.PositiveBigIntegerField()  # bytes stored
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    # Names in the attachments storage; an image too small for one has no thumbnail.
    path = models.CharField(max_length=255)
    thumbnail_path = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}"


# ---------------------------------------------------------------------------
# The built-in bot's knowledge: FAQ entries and orders (editable in the admin)
# ---------------------------------------------------------------------------
class FaqEntry(models.Model):
    """A question the built-in bot answers, found by its keywords or by resemblance."""

    # One topic ("delivery"), answered in several languages: the customer's, or English.
    topic = models.SlugField(max_length=50, help_text="The same topic in every language, e.g. “delivery”.")
    language = models.CharField(max_length=10, default="en", choices=customer_language_choices)
    question = models.CharField(max_length=200)
    keywords = models.CharField(
        max_length=500,
        blank=True,
        help_text="Comma-separated words or phrases, in any language (e.g. “delivery, shipping, 发货”).",
    )
    answer = models.TextField()
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["topic", "language", "question"]
        verbose_name = "FAQ entry"
        verbose_name_plural = "FAQ entries"
        constraints = [
            models.UniqueConstraint(fields=["topic", "language"], name="faq_topic_language_unique"),
            models.UniqueConstraint(fields=["question", "language"], name="faq_question_language_unique"),
        ]

    def __str__(self) -> str:
        return self.question

    def keyword_list(self) -> list[str]:
        return [word.strip().lower() for word in self.keywords.split(",") if word.strip()]


class CardStatus(models.TextChoices):
    """The status vocabulary of product cards (DESIGN §7): the values travel in the
    blocks as they are; the labels are what a reader sees, in their language."""

    PENDING = "Pending", pgettext_lazy("card status", "Pending")
    SHIPPED = "Shipped", pgettext_lazy("card status", "Shipped")
    IN_TRANSIT = "In Transit", pgettext_lazy("card status", "In Transit")
    OUT_FOR_DELIVERY = "Out for Delivery", pgettext_lazy("card status", "Out for Delivery")
    DELIVERY_FAILED = "Delivery Failed", pgettext_lazy("card status", "Delivery Failed")
    RECEIVED = "Received", pgettext_lazy("card status", "Received")
    RETURNED_REFUNDED = "Returned & Refunded", pgettext_lazy("card status", "Returned & Refunded")
    REFUNDED = "Refunded", pgettext_lazy("card status", "Refunded")
    CANCELLED = "Cancelled", pgettext_lazy("card status", "Cancelled")
    ACTIVE = "Active", pgettext_lazy("card status", "Active")
    EXPIRED = "Expired", pgettext_lazy("card status", "Expired")


_http_url = URLValidator(schemes=["http", "https"])


class Order(models.Model):
    """A shop order the bot can look up by its number (``UK22080``)."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("order status", "Pending")
        PROCESSING = "processing", pgettext_lazy("order status", "Processing")
        PARTIALLY_SHIPPED = "partially_shipped", pgettext_lazy("order status", "Partially shipped")
        SHIPPED = "shipped", pgettext_lazy("order status", "Shipped")
        DELIVERED = "delivered", pgettext_lazy("order status", "Delivered")
        REFUNDED = "refunded", pgettext_lazy("order status", "Refunded")
        CANCELLED = "cancelled", pgettext_lazy("order status", "Cancelled")

    class Currency(models.TextChoices):
        GBP = "GBP", "£ (GBP)"
        USD = "USD", "$ (USD)"
        EUR = "EUR", "€ (EUR)"
        PLN = "PLN", "zł (PLN)"

    number = models.CharField(
        max_length=20,
        unique=True,
        validators=[RegexValidator(r"^(US|UK|EU|DE|FR|IT|ES|NL|PL)\d{3,12}$", "A prefix such as UK, then digits.")],
        help_text="Upper case, e.g. UK22080.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROCESSING)
    currency = models.CharField(max_length=3, choices=Currency.choices, default=Currency.GBP)
    total = models.DecimalField(max_digits=10, decimal_places=2)
    placed_at = models.DateTimeField(default=timezone.now)
    customer_name = models.CharField(max_length=100, blank=True)
    customer_email = models.EmailField(blank=True)

    class Meta:
        ordering = ["-placed_at"]

    def __str__(self) -> str:
        return self.number

    def save(self, *args, **kwargs) -> None:
        self.number = self.number.strip().upper()
        super().save(*args, **kwargs)


class Shipment(models.Model):
    """A parcel of an order: carrier, tracking number and where to track it."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    carrier = models.CharField(max_length=50)
    tracking_number = models.CharField(max_length=60, blank=True)
    tracking_url = models.CharField(max_length=500, blank=True, validators=[_http_url])
    status = models.CharField(max_length=20, choices=CardStatus.choices, default=CardStatus.SHIPPED)
    shipped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}".strip()


class OrderItem(models.Model):
    """A line item; the bot shows one product card per item."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product_name = models.CharField(max_length=200)
    image_url = models.CharField(max_length=500, blank=True, validators=[_http_url])
    quantity = models.PositiveIntegerField(default=1)
    price = models.DecimalField(max_digits=10, decimal_places=2, help_text="The line's price, in the order's currency.")
    # Empty: the item shows its shipment's status (or Pending before it ships).
    status = models.CharField(max_length=20, choices=CardStatus.choices, blank=True)
    shipment = models.ForeignKey(Shipment, null=True, blank=True, on_delete=models.SET_NULL, related_name="items")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_name}"

    def clean(self) -> None:
        if self.shipment_id is not None and self.shipment.order_id != self.order_id:
            raise ValidationError({"shipment": "The shipment belongs to another order."})

    @property
    def card_status(self) -> str:
        if self.status:
            return self.status
        return self.shipment.status if self.shipment is not None else CardStatus.PENDING


class MessageTranslation(models.Model):
    """A message machine-translated into one language (``TRANSLATION``, chatbot/translation.py).

    Stored once per message and language, so no viewer or reload asks the
    LLM again; the original ``Message`` is never changed. Read by whoever the
    language is for: agents (a customer's message in their language) or the
    customer (an agent's message in theirs).
    """

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(max_length=10)
    # The language the original was written in, as far as the desk knows it
    # (the conversation's for a customer, the agent's chosen one for an agent).
    source_language = models.CharField(max_length=10)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "language"], name="message_translation_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.language}"


class ConversationSummary(models.Model):
    """What an agent taking over reads first: three lines by the LLM (chatbot/copilot.py).

    Agents only, like notes: no query that builds what a customer receives
    reads this table. ``upto_seq`` is the newest event it covers.
    """

    session = models.OneToOneField(ChatSession, on_delete=models.CASCADE, related_name="summary")
    text = models.TextField()
    upto_seq = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"summary of {self.session_id}"
