"""The FilterSet of timeslots (the REST list): a malformed value is a field error, a 400."""

from __future__ import annotations

import django_filters
from django.utils import timezone

from backends.models import Timeslot


class TimeslotFilterSet(django_filters.FilterSet):
    backend = django_filters.CharFilter(field_name="backend__name", max_length=64, help_text="One backend's slots.")
    project_id = django_filters.UUIDFilter(field_name="project__project_id", help_text="One project's slots.")
    ended = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_ended", empty_label=None,
        help_text="true: the slots that have ended too (by default only those running or to come).",
    )  # fmt: skip

    class Meta:
        model = Timeslot
        fields = ["backend", "project_id", "ended"]

    def filter_queryset(self, queryset):
        if self.form.cleaned_data.get("ended") != "true":
            queryset = queryset.filter(end_at__gt=timezone.now())
        return super().filter_queryset(queryset)

    def filter_ended(self, queryset, name, value):
        return queryset  # applied in filter_queryset, whether given or not
