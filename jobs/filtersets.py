"""The one FilterSet of jobs, used by JSON-RPC ``get_jobs`` (and the REST list and web list)."""

from __future__ import annotations

import uuid

import django_filters
from django import forms
from django.db.models import Q

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


class MultipleStringFilter(django_filters.MultipleChoiceFilter):
    field_class = _MultipleStringField


class MultipleUUIDFilter(django_filters.MultipleChoiceFilter):
    field_class = _MultipleUUIDField


class JobFilterSet(django_filters.FilterSet):
    job_id = MultipleUUIDFilter(field_name="job_id")
    status = django_filters.MultipleChoiceFilter(field_name="status", choices=JobStatus.choices)
    backend = django_filters.CharFilter(field_name="backend__name")
    code_type = django_filters.ChoiceFilter(field_name="code_type", choices=CodeType.choices)
    # conjoined: a job must carry every tag asked for.
    tag = MultipleStringFilter(field_name="tags__name", conjoined=True)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="filter_search")

    class Meta:
        model = Job
        fields = ["job_id", "status", "backend", "code_type", "tag", "created_after", "created_before", "q"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(job_name__icontains=value) | Q(description__icontains=value))
