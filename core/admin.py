"""Admin pieces every app's logs share: read-only admins and inlines, and a bounded JSON preview."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.utils.html import format_html

PREVIEW_CHARS = 4000


def pre(value: Any, limit: int = PREVIEW_CHARS) -> str:
    """A JSON value (or text) in a <pre>, cut at ``limit`` characters: a result can be megabytes."""
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, indent=1, sort_keys=True)
    if len(text) > limit:
        text = f"{text[:limit]}\n… ({len(text) - limit} more characters)"
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)


class ReadOnly:
    """Listed and shown, never added, changed or deleted by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    """A log: listed and shown, never edited."""


class ReadOnlyInline(ReadOnly, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False
