"""Admin: staff keep the shared canned replies; agents keep their own in the workbench."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin

from workbench.models import CannedReply


class CannedReplyForm(forms.ModelForm):
    class Meta:
        model = CannedReply
        fields = ["owner", "shortcut", "title", "body"]

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if len(body) > settings.MESSAGE_MAX_CHARS:
            raise forms.ValidationError(f"At most {settings.MESSAGE_MAX_CHARS} characters: it is sent as one message.")
        return body


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    """Shared replies (no owner) are every agent's; a personal one belongs to its owner."""

    form = CannedReplyForm
    list_display = ["shortcut", "title", "owner", "use_count", "updated_at"]
    list_filter = [("owner", admin.EmptyFieldListFilter)]
    search_fields = ["shortcut", "title", "body"]
    list_select_related = ["owner"]
    readonly_fields = ["use_count", "created_at", "updated_at"]
