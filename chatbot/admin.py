"""Admin: inspect any session with its messages and event log, read-only;
change conversations only through state-machine actions."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.utils import timezone

from chatbot import conversations
from chatbot.bots.orders import money
from chatbot.exceptions import ConversationError
from chatbot.models import ChatSession, Event, FaqEntry, Message, Note, Order, OrderItem, Shipment


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ["created_at", "role", "agent", "content", "client_id"]
    readonly_fields = fields
    fk_name = "session"


class EventInline(ReadOnlyInline):
    model = Event
    fields = ["seq", "kind", "created_at", "payload"]
    readonly_fields = fields


class NoteInline(ReadOnlyInline):
    """Agents' private notes, shown apart from the transcript the customer sees."""

    model = Note
    verbose_name_plural = "notes · only agents see these"
    fields = ["seq", "created_at", "author", "content"]
    readonly_fields = fields


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    """Conversations, read-only: every change goes through the state machine.

    Closing, releasing and erasing are admin actions that call
    ``chatbot.conversations``, so they write their events and reach every
    open screen like any other caller; nothing here edits a field directly.
    """

    list_display = [
        "name",
        "status",
        "assigned_agent",
        "waiting_time",
        "message_count",
        "created_at",
        "updated_at",
    ]
    list_filter = ["status", "assigned_agent", "rating__score"]
    search_fields = ["name", "customer_name", "customer_email", "messages__content"]
    list_select_related = ["assigned_agent"]
    inlines = [MessageInline, NoteInline, EventInline]
    date_hierarchy = "created_at"
    actions = ["close_conversations", "release_conversations", "erase_conversations"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # conversations start on the chat page

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # read-only: the change page is a view page

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # erase_conversations goes through the state machine
        return actions

    @admin.display(description="waiting")
    def waiting_time(self, obj: ChatSession) -> str:
        if obj.status != ChatSession.Status.PENDING_MANUAL or obj.escalated_at is None:
            return "—"
        seconds = int((timezone.now() - obj.escalated_at).total_seconds())
        minutes, seconds = divmod(seconds, 60)
        return f"{minutes} min {seconds:02d} s"

    @admin.action(description="Close the selected conversations", permissions=["view"])
    def close_conversations(self, request, queryset) -> None:
        self._apply(request, queryset, "closed", lambda session: conversations.close(session, by=request.user))

    @admin.action(description="Release the selected conversations to the assistant", permissions=["view"])
    def release_conversations(self, request, queryset) -> None:
        self._apply(request, queryset, "released", lambda session: conversations.release(session, by=request.user))

    @admin.action(description="Erase the selected conversations (messages and events too)", permissions=["delete"])
    def erase_conversations(self, request, queryset) -> None:
        self._apply(request, queryset, "erased", conversations.purge)

    def get_deleted_objects(self, objs, request):
        """Messages and events go with their conversation: the conversation's own
        delete permission is enough (they cannot be deleted alone)."""
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request, obj: ChatSession) -> None:
        conversations.purge(obj)  # the delete view: the state machine erases and ends the streams

    def delete_queryset(self, request, queryset) -> None:
        for session in queryset:
            conversations.purge(session)

    def _apply(self, request, queryset, done: str, action: Callable[[ChatSession], object]) -> None:
        """Run ``action`` on each conversation; report what was refused, and why."""
        changed = 0
        for session in queryset.select_related("assigned_agent"):
            try:
                action(session)
            except ConversationError as error:
                self.message_user(request, f"{session.name}: {error.message}", messages.WARNING)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{changed} conversation(s) {done}.", messages.SUCCESS)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Messages, read-only; one is deleted only with its whole conversation."""

    list_display = ["created_at", "session", "role", "agent", "short_content"]
    list_filter = ["role"]
    search_fields = ["content", "session__name"]
    list_select_related = ["session", "agent"]
    readonly_fields = ["session", "role", "content", "agent", "client_id", "reply_to", "created_at"]

    @admin.display(description="content")
    def short_content(self, obj: Message) -> str:
        return obj.content[:80]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# ---------------------------------------------------------------------------
# The built-in bot's knowledge: FAQ and orders
# ---------------------------------------------------------------------------
@admin.register(FaqEntry)
class FaqEntryAdmin(admin.ModelAdmin):
    """One row per topic and language; a topic without the customer's language is answered in English."""

    list_display = ["topic", "language", "question", "keywords", "is_active", "updated_at"]
    list_filter = ["language", "is_active"]
    list_editable = ["is_active"]
    search_fields = ["topic", "question", "keywords", "answer"]
    fields = ["topic", "language", "question", "keywords", "answer", "is_active"]


class ShipmentInline(admin.TabularInline):
    model = Shipment
    extra = 0
    fields = ["carrier", "tracking_number", "tracking_url", "status", "shipped_at"]


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    fields = ["product_name", "image_url", "quantity", "price", "status", "shipment"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "shipment":
            # Only this order's parcels (none yet while the order is being added).
            object_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            kwargs["queryset"] = Shipment.objects.filter(order_id=object_id) if object_id else Shipment.objects.none()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "status", "total_display", "placed_at", "customer_name", "customer_email"]
    list_filter = ["status", "currency"]
    search_fields = ["number", "customer_name", "customer_email", "items__product_name", "shipments__tracking_number"]
    date_hierarchy = "placed_at"
    inlines = [ShipmentInline, OrderItemInline]

    @admin.display(description="total", ordering="total")
    def total_display(self, obj: Order) -> str:
        return money(obj.total, obj.currency)
