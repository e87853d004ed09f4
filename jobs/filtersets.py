"""The one FilterSet of jobs, used by JSON-RPC ``get_jobs``, the REST list and the web list.

Every value is checked here, so a malformed query is a field error on each face (a 400, -32602 or
an empty web list) rather than a database error: repeatable filters are bounded, strings obey
``core.validation.text_problem`` and dates must stay within range once in UTC.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, Q
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from core.validation import text_problem
from jobs.choices import CodeType, JobStatus
from jobs.inputs import MAX_FILTER_VALUES, MAX_JOB_IDS, MAX_METADATA_KEYS, MAX_TAGS, metadata_problem
from jobs.models import Job, Tag


class _BoundedMultipleChoiceField(forms.MultipleChoiceField):
    """Repeated values, at most ``max_values`` of them (counted before any value is checked)."""

    def __init__(self, *args, max_values: int = MAX_FILTER_VALUES, **kwargs) -> None:
        self.max_values = max_values
        super().__init__(*args, **kwargs)

    def validate(self, value) -> None:
        if len(value) > self.max_values:
            raise ValidationError(f"at most {self.max_values} values", code="max_values")
        super().validate(value)


class _MultipleStringField(_BoundedMultipleChoiceField):
    """Any strings, repeated (?tag=a&tag=b or a JSON list)."""

    default_error_messages = {"invalid_choice": "%(value)s is not a valid value: 1 to 200 characters, no NUL."}

    def valid_value(self, value) -> bool:
        return isinstance(value, str) and 0 < len(value) <= 200 and text_problem(value) is None


class _MultipleUUIDField(_BoundedMultipleChoiceField):
    default_error_messages = {"invalid_choice": "%(value)s is not a valid UUID."}

    def valid_value(self, value) -> bool:
        try:
            uuid.UUID(str(value))
        except ValueError:
            return False
        return True


class _UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 instant, converted to UTC here: one that leaves the datetime range on the way
    (``9999-12-31T23:59:59-23:59``) is a field error rather than an OverflowError when the database
    adapter converts it."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:
            raise ValidationError("out of range once converted to UTC", code="overflow") from exc


class _NotDistinct:
    """django-filter makes every multiple-choice filter DISTINCT, for to-many lookups. These test the job's
    own columns (or an EXISTS), which join nothing: DISTINCT over every column would only make the
    database sort all matching rows before it could cut the first page."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)


class BoundedMultipleChoiceFilter(_NotDistinct, django_filters.MultipleChoiceFilter):
    field_class = _BoundedMultipleChoiceField


# As _MultipleStringField checks (text_problem also refuses lone surrogates, which a URL cannot carry).
@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\u0000]*$"})
class MultipleStringFilter(_NotDistinct, django_filters.MultipleChoiceFilter):
    field_class = _MultipleStringField


@extend_schema_field(OpenApiTypes.UUID)
class MultipleUUIDFilter(_NotDistinct, django_filters.MultipleChoiceFilter):
    field_class = _MultipleUUIDField


def metadata_pair(text: str) -> tuple[str, Any]:
    """``key:value`` as a (key, value) metadata condition; the value is read as JSON where it is JSON."""
    key, sep, raw = text.partition(":")
    if not sep:
        raise ValidationError("must be key:value", code="invalid")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if metadata_problem("k", value):  # a list, an object, NaN: what no metadata holds is a string here
        value = raw
    problem = metadata_problem(key, value)
    if problem:
        raise ValidationError(problem, code="invalid")
    return key, value


class _MetadataField(_BoundedMultipleChoiceField):
    """Repeated ``key:value`` (?metadata=run:7&metadata=stage:"a"), or, from JSON-RPC, an object."""

    def to_python(self, value):
        if isinstance(value, dict):
            return [(key, item) for key, item in value.items()]
        return [metadata_pair(item) if isinstance(item, str) else item for item in super().to_python(value)]

    def validate(self, value) -> None:
        if len(value) > self.max_values:
            raise ValidationError(f"at most {self.max_values} values", code="max_values")
        for pair in value:
            if not (isinstance(pair, tuple) and len(pair) == 2) or metadata_problem(*pair):
                raise ValidationError("must be key:value pairs of metadata", code="invalid")


@extend_schema_field(
    {"type": "string", "pattern": "^(?=[A-Za-z0-9_]{1,64}:)[A-Za-z](?:_?[A-Za-z0-9])*:[^\\u0000]{0,1000}$"}
)
class MetadataFilter(_NotDistinct, django_filters.MultipleChoiceFilter):
    field_class = _MetadataField


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = _UTCDateTimeField


class JobOrderingFilter(django_filters.OrderingFilter):
    """``ordering=job_priority,-created_at``; then by job_id, so pages of a list never overlap or
    skip a job whose sort key ties, and jobs without the key (``ended_at`` of a running job) last
    on every database. Without a value: newest first."""

    DEFAULT = ("-created_at",)

    NULLABLE = frozenset({"ended_at"})

    def _order(self, key: str):
        # NULLS LAST only where a column has nulls: on a NOT NULL column it would stop PostgreSQL from
        # reading its (DESC, NULLS FIRST) index in order.
        name = key.lstrip("-")
        if name not in self.NULLABLE:
            return F(name).desc() if key.startswith("-") else F(name).asc()
        return F(name).desc(nulls_last=True) if key.startswith("-") else F(name).asc(nulls_last=True)

    def filter(self, qs, value):
        keys = [self.get_ordering_value(param) for param in value or () if param] or list(self.DEFAULT)
        order = [self._order(key) for key in keys]
        tiebreak = "-job_id" if keys[-1].startswith("-") else "job_id"
        return qs.order_by(*order, tiebreak)


class JobFilterSet(django_filters.FilterSet):
    """Conditions AND together. DELETED jobs are tombstones: left out unless ``status`` asks for them."""

    job_id = MultipleUUIDFilter(
        field_name="job_id", max_values=MAX_JOB_IDS, help_text="Repeatable: jobs with any of these ids."
    )
    status = BoundedMultipleChoiceFilter(
        field_name="status", choices=JobStatus.choices, help_text="Repeatable: jobs in any of these statuses."
    )
    backend = django_filters.CharFilter(field_name="backend__name", help_text="Backend name.")
    code_type = django_filters.ChoiceFilter(field_name="code_type", choices=CodeType.choices)
    tag = MultipleStringFilter(
        method="filter_tags", max_values=MAX_TAGS, help_text=f"Repeatable (at most {MAX_TAGS}): jobs carrying all."
    )
    project = django_filters.UUIDFilter(field_name="project__project_id", help_text="A project's project_id.")
    user = django_filters.UUIDFilter(field_name="user__user_id", help_text="A user's user_id.")
    created_after = UTCDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601; created at or after."
    )
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt", help_text="ISO 8601; created before.")
    experiment_id = django_filters.CharFilter(
        field_name="experiment_id", max_length=200, help_text="One experiment's jobs."
    )
    metadata = MetadataFilter(
        method="filter_metadata",
        max_values=MAX_METADATA_KEYS,
        help_text='Repeatable key:value: jobs whose metadata has them all; the value read as JSON (7, true, "7"), '
        "else as a string.",
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
            "experiment_id",
            "metadata",
            "q",
            "ordering",
        ]

    def filter_queryset(self, queryset):
        if not self.form.cleaned_data.get("status"):
            queryset = queryset.exclude(status=JobStatus.DELETED)
        return super().filter_queryset(queryset)

    def filter_tags(self, queryset, name, value):
        # One EXISTS per tag, on the tag's id: the database walks the jobs in their order and probes the
        # (job, tag) index for each, so the first page costs the same however many jobs carry the tag.
        # (One join per tag, django-filter's conjoined, fails on SQLite beyond 64 tables in a join.)
        names = set(value)
        tag_ids = list(Tag.objects.filter(name__in=names).values_list("pk", flat=True))
        if len(tag_ids) < len(names):
            return queryset.none()  # a tag no job carries
        carrying = Job.tags.through.objects.filter(job_id=OuterRef("pk"))
        for tag_id in tag_ids:
            queryset = queryset.filter(Exists(carrying.filter(tag_id=tag_id)))
        return queryset

    def filter_metadata(self, queryset, name, value):
        # Keys are names (jobs.inputs.METADATA_KEY), so a key can never be read as a lookup path.
        for key, wanted in value:
            queryset = queryset.filter(**{f"metadata__{key}": wanted})
        return queryset

    @extend_schema_field(OpenApiTypes.STR)
    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(job_name__icontains=value) | Q(description__icontains=value))
