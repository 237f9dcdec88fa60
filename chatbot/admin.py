"""Admin: inspect any session with its messages and event log, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from chatbot.bots.orders import money
from chatbot.models import ChatSession, Event, FaqEntry, Message, Order, OrderItem, Shipment


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


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "status",
        "assigned_agent",
        "waiting_time",
        "message_count",
        "created_at",
        "updated_at",
    ]
    list_filter = ["status", "assigned_agent"]
    search_fields = ["name", "customer_name", "customer_email", "messages__content"]
    readonly_fields = ["name", "last_seq", "message_count", "bot_misses", "created_at", "updated_at"]
    list_select_related = ["assigned_agent"]
    inlines = [MessageInline, EventInline]
    date_hierarchy = "created_at"

    @admin.display(description="waiting")
    def waiting_time(self, obj: ChatSession) -> str:
        if obj.status != ChatSession.Status.PENDING_MANUAL or obj.escalated_at is None:
            return "—"
        seconds = int((timezone.now() - obj.escalated_at).total_seconds())
        minutes, seconds = divmod(seconds, 60)
        return f"{minutes} min {seconds:02d} s"


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
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


# ---------------------------------------------------------------------------
# The built-in bot's knowledge: FAQ and orders
# ---------------------------------------------------------------------------
@admin.register(FaqEntry)
class FaqEntryAdmin(admin.ModelAdmin):
    list_display = ["question", "keywords", "is_active", "updated_at"]
    list_filter = ["is_active"]
    list_editable = ["is_active"]
    search_fields = ["question", "keywords", "answer"]


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
