"""The one FilterSet of jobs, used by JSON-RPC ``get_jobs``, the REST list and the web list."""

from __future__ import annotations

import uuid

import django_filters
from django import forms
from django.db.models import F, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from jobs.choices import CodeType, JobStatus
from jobs.models import Job


class _MultipleStringField(forms.MultipleChoiceField):
    """Any strings, repeated (?tag=a&tag=b or a JSON list)."""

    def valid_value(self, value) -> bool:
        return isinstance(value, str) and 0 < len(value) <= 200


class _MultipleUUIDField(_MultipleStringField):
    def valid_value(self, value) -> bool:
        try:
            uuid.UUID(str(value))
        except ValueError:
            return False
        return True


@extend_schema_field(OpenApiTypes.STR)
class MultipleStringFilter(django_filters.MultipleChoiceFilter):
    field_class = _MultipleStringField


@extend_schema_field(OpenApiTypes.UUID)
class MultipleUUIDFilter(django_filters.MultipleChoiceFilter):
    field_class = _MultipleUUIDField


class JobOrderingFilter(django_filters.OrderingFilter):
    """``ordering=job_priority,-created_at``; then by job_id, so pages of a list never overlap or
    skip a job whose sort key ties, and jobs without the key (``ended_at`` of a running job) last
    on every database. Without a value: newest first."""

    DEFAULT = ("-created_at",)

    def filter(self, qs, value):
        keys = [self.get_ordering_value(param) for param in value or () if param] or list(self.DEFAULT)
        order = [F(k[1:]).desc(nulls_last=True) if k.startswith("-") else F(k).asc(nulls_last=True) for k in keys]
        tiebreak = "-job_id" if keys[-1].startswith("-") else "job_id"
        return qs.order_by(*order, tiebreak)


class JobFilterSet(django_filters.FilterSet):
    """Conditions AND together. DELETED jobs are tombstones: left out unless ``status`` asks for them."""

    job_id = MultipleUUIDFilter(field_name="job_id", help_text="Repeatable: jobs with any of these ids.")
    status = django_filters.MultipleChoiceFilter(
        field_name="status", choices=JobStatus.choices, help_text="Repeatable: jobs in any of these statuses."
    )
    backend = django_filters.CharFilter(field_name="backend__name", help_text="Backend name.")
    code_type = django_filters.ChoiceFilter(field_name="code_type", choices=CodeType.choices)
    # conjoined: a job must carry every tag asked for.
    tag = MultipleStringFilter(field_name="tags__name", conjoined=True, help_text="Repeatable: jobs carrying all.")
    project = django_filters.UUIDFilter(field_name="project__project_id", help_text="A project's project_id.")
    user = django_filters.UUIDFilter(field_name="user__user_id", help_text="A user's user_id.")
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601; created at or after."
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="ISO 8601; created before."
    )
    q = django_filters.CharFilter(method="filter_search", help_text="Text in the job's name or description.")
    ordering = JobOrderingFilter(
        fields=("created_at", "job_priority", "ended_at"), help_text="Sort keys, comma-separated; - for descending."
    )

    class Meta:
        model = Job
        fields = [
            "job_id",
            "status",
            "backend",
            "code_type",
            "tag",
            "project",
            "user",
            "created_after",
            "created_before",
            "q",
            "ordering",
        ]

    def filter_queryset(self, queryset):
        if not self.form.cleaned_data.get("status"):
            queryset = queryset.exclude(status=JobStatus.DELETED)
        return super().filter_queryset(queryset)

    @extend_schema_field(OpenApiTypes.STR)
    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(job_name__icontains=value) | Q(description__icontains=value))
