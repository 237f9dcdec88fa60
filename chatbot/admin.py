"""Admin: inspect any session with its messages and event log, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from chatbot.models import ChatSession, Event, Message


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
