"""REST shapes of backends and their timeslots: the serializers made from the shapes that render the
answers, and the strict request bodies."""

from __future__ import annotations

from rest_framework import serializers

from backends.presenters import BACKEND, TIMESLOT
from core.validation import StrictCharField, StrictSerializer

BackendSerializer = BACKEND.serializer
TimeslotSerializer = TIMESLOT.serializer


class TimeslotCreateSerializer(StrictSerializer):
    """``POST /api/v1/timeslots/`` (operators): book ``backend`` for the project from ``start_at`` to
    ``end_at`` (ISO 8601; without an offset, UTC)."""

    backend = StrictCharField(max_length=64)
    project_id = serializers.UUIDField()
    start_at = serializers.DateTimeField()
    end_at = serializers.DateTimeField()
    note = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


class TimeslotPatchSerializer(StrictSerializer):
    """``PATCH /api/v1/timeslots/{timeslot_id}/`` (operators): move or annotate a slot."""

    start_at = serializers.DateTimeField(required=False)
    end_at = serializers.DateTimeField(required=False)
    note = StrictCharField(max_length=200, required=False, allow_blank=True)
