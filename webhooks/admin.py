"""Admin for callback deliveries and their attempts: logs, shown and never edited."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from core.admin import ReadOnlyAdmin, ReadOnlyInline, pre
from jobs.admin import JobLogAdmin
from webhooks.models import CallbackAttempt, CallbackDelivery


class CallbackAttemptInline(ReadOnlyInline):
    model = CallbackAttempt
    fields = ["at", "status_code", "error", "duration"]
    readonly_fields = fields


@admin.register(CallbackDelivery)
class CallbackDeliveryAdmin(JobLogAdmin):
    list_display = [
        "delivery_id", "job_link", "name", "event", "job_status", "status", "tries", "url", "created_at", "updated_at",
    ]  # fmt: skip
    list_filter = ["status", "type", "job_status"]
    show_full_result_count = False
    search_fields = ["=delivery_id", "^job__job_id", "name", "url"]
    fields = [
        "delivery_id", "job", "callback_index", "name", "type", "method", "url", "event", "job_status", "status",
        "tries", "created_at", "updated_at", "body_preview",
    ]  # fmt: skip
    readonly_fields = fields
    inlines = [CallbackAttemptInline]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body")

    @admin.display(description="attempts")
    def tries(self, obj: CallbackDelivery) -> str:
        return f"{obj.attempts} / {obj.max_attempts}"

    @admin.display(description="body")
    def body_preview(self, obj: CallbackDelivery) -> str:
        return pre(obj.body) if obj.body else "— (a results body is built at the first attempt)"


@admin.register(CallbackAttempt)
class CallbackAttemptAdmin(ReadOnlyAdmin):
    list_display = ["at", "delivery_link", "status_code", "error", "duration"]
    list_filter = [("at", admin.DateFieldListFilter)]
    search_fields = ["=delivery__delivery_id", "^delivery__job__job_id", "error"]
    show_full_result_count = False
    fields = ["delivery", "at", "status_code", "error", "duration"]
    readonly_fields = fields

    @admin.display(description="delivery", ordering="delivery")
    def delivery_link(self, obj: CallbackAttempt) -> str:
        url = reverse("admin:webhooks_callbackdelivery_change", args=[obj.delivery_id])
        return format_html('<a href="{}">{}</a>', url, obj.delivery_id)
