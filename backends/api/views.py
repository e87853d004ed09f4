"""REST views of backends (read-only, looked up by name) and their timeslots (read by the members of
the slot's project; booked, moved and cancelled by operators)."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from backends.api.serializers import (
    BackendSerializer,
    TimeslotCreateSerializer,
    TimeslotPatchSerializer,
    TimeslotSerializer,
)
from backends.filtersets import TimeslotFilterSet
from backends.models import Timeslot
from backends.presenters import timeslot_view
from backends.selectors import backend_get, backends_with_queue_length, timeslots_for_user
from backends.services import timeslot_book, timeslot_cancel, timeslot_save
from core.exceptions import InvalidParams, NotFound
from core.validation import parse_uuid, validate
from projects.selectors import project_get_for_user


@extend_schema_view(
    list=extend_schema(summary="Every backend with its status, limits and queue length"),
    retrieve=extend_schema(summary="One backend"),
)
class BackendViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = backends_with_queue_length()
    serializer_class = BackendSerializer
    lookup_field = "name"


_NOT_FOUND = OpenApiResponse(description="No such timeslot, or not one of the caller's projects'.")
_FORBIDDEN = OpenApiResponse(description="permission_denied: only operators book, move and cancel timeslots.")
_CONFLICT = OpenApiResponse(description="timeslot_overlap: the backend is booked at that time already.")


@extend_schema_view(
    list=extend_schema(summary="Timeslots of the caller's projects (operators: all), by start"),
    retrieve=extend_schema(summary="One timeslot", responses={200: TimeslotSerializer, 404: _NOT_FOUND}),
    create=extend_schema(
        summary="Book a timeslot (operators)",
        request=TimeslotCreateSerializer,
        responses={201: TimeslotSerializer, 403: _FORBIDDEN, 409: _CONFLICT},
    ),
    partial_update=extend_schema(
        summary="Move or annotate a timeslot (operators)",
        request=TimeslotPatchSerializer,
        responses={200: TimeslotSerializer, 403: _FORBIDDEN, 404: _NOT_FOUND, 409: _CONFLICT},
    ),
    destroy=extend_schema(
        summary="Cancel a timeslot (operators); the jobs it held back may run",
        responses={204: None, 403: _FORBIDDEN, 404: _NOT_FOUND},
    ),
)
class TimeslotViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = Timeslot.objects.none()  # the model, for the schema; get_queryset scopes to the caller
    filter_backends = [DjangoFilterBackend]
    filterset_class = TimeslotFilterSet
    serializer_class = TimeslotSerializer
    lookup_field = "timeslot_id"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return timeslots_for_user(self.request.user).order_by("start_at")

    def get_serializer_class(self):
        return {"create": TimeslotCreateSerializer, "partial_update": TimeslotPatchSerializer}.get(
            self.action, TimeslotSerializer
        )

    def get_object(self):
        slot_id = parse_uuid(self.kwargs["timeslot_id"], "Timeslot")
        slot = self.get_queryset().filter(timeslot_id=slot_id).first()
        if slot is None:
            raise NotFound(f"Timeslot {slot_id} not found.")
        return slot

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([timeslot_view(slot) for slot in page])

    def retrieve(self, request, timeslot_id):
        return Response(timeslot_view(self.get_object()))

    def create(self, request):
        data = validate(TimeslotCreateSerializer, request.data)
        try:
            backend = backend_get(data["backend"])
        except NotFound as exc:
            raise InvalidParams.field("backend", "no backend of that name") from exc
        try:
            project = project_get_for_user(request.user, data["project_id"])
        except NotFound as exc:
            raise InvalidParams.field("project_id", "no such project") from exc
        slot = timeslot_book(
            user=request.user, backend=backend, project=project, start_at=data["start_at"], end_at=data["end_at"],
            note=data["note"],
        )  # fmt: skip
        return Response(timeslot_view(self.get_queryset().get(pk=slot.pk)), status=status.HTTP_201_CREATED)

    def partial_update(self, request, timeslot_id):
        slot = self.get_object()
        for name, value in validate(TimeslotPatchSerializer, request.data).items():
            setattr(slot, name, value)
        timeslot_save(user=request.user, timeslot=slot)
        return Response(timeslot_view(self.get_object()))

    def destroy(self, request, timeslot_id):
        timeslot_cancel(user=request.user, timeslot=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
