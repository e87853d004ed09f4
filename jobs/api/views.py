"""REST views of jobs: the services and selectors JSON-RPC calls, the representations it answers."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.validation import validate
from jobs import services
from jobs.api.serializers import (
    JobCancelEntriesSerializer,
    JobPatchSerializer,
    JobPayloadSerializer,
    JobResultsSerializer,
    JobSerializer,
    JobStatusSerializer,
    JobSummarySerializer,
)
from jobs.filtersets import JobFilterSet
from jobs.inputs import SubmitJobSerializer, submit_from_input
from jobs.models import Job
from jobs.presenters import job_payload_stream, job_results_stream
from jobs.selectors import job_get_for_user, jobs_visible_to


class SourceCodeEntrySchema(OpenApiSerializerFieldExtension):
    """One ``source_code`` entry: OpenQASM source, or a square QUBO matrix."""

    target_class = "jobs.inputs.ParsedJSONField"

    def map_serializer_field(self, auto_schema, direction):
        matrix = {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}
        pub = {
            "type": "object", "required": ["circuit"],
            "properties": {
                "circuit": {"type": "string", "description": "OpenQASM 3; parameters as input float[64] declarations"},
                "parameter_values": {
                    "type": "array", "items": {}, "nullable": True, "description": "Last axis: one value per parameter",
                },
                "observables": {"description": "Estimator: {pauli: coefficient} objects, nested to any shape"},
                "shots": {"type": "integer", "nullable": True, "minimum": 1, "description": "Sampler"},
                "precision": {"type": "number", "nullable": True, "minimum": 0, "description": "Estimator"},
            },
            "additionalProperties": False,
            "description": "A sampler or estimator PUB (job_type sampler / estimator)",
        }  # fmt: skip
        return {
            "oneOf": [
                {"type": "string", "description": "OpenQASM source"}, {**matrix, "description": "QUBO"}, pub,
            ]
        }  # fmt: skip


_NOT_FOUND = OpenApiResponse(description="No such job, or not one the caller may read.")
_CONFLICT = OpenApiResponse(description="invalid_state: the job's status does not allow this.")


@extend_schema_view(
    list=extend_schema(summary="Jobs the caller may read, newest first", responses=JobSummarySerializer(many=True)),
    create=extend_schema(
        summary="Submit a job (the fields of submit_job)",
        request=SubmitJobSerializer,
        responses={201: JobSerializer},
    ),
    retrieve=extend_schema(
        summary="A job's status and queue position", responses={200: JobStatusSerializer, 404: _NOT_FOUND}
    ),
    partial_update=extend_schema(
        summary="Rename, describe, retag or re-prioritise a job",
        request=JobPatchSerializer,
        responses={200: JobStatusSerializer, 404: _NOT_FOUND, 409: _CONFLICT},
    ),
    destroy=extend_schema(
        summary="Delete a job: source and results purged, the row stays as DELETED",
        responses={204: None, 404: _NOT_FOUND, 409: _CONFLICT},
    ),
)
class JobViewSet(viewsets.GenericViewSet):
    """Own jobs, and every job of the projects the caller administers (operators: every job)."""

    queryset = Job.objects.none()  # the model, for the schema; get_queryset scopes to the caller
    lookup_field = "job_id"
    filter_backends = [DjangoFilterBackend]
    filterset_class = JobFilterSet
    serializer_classes = {
        "list": JobSummarySerializer,
        "create": SubmitJobSerializer,
        "partial_update": JobPatchSerializer,
        "results": JobResultsSerializer,
    }

    def get_serializer_class(self):
        return self.serializer_classes.get(self.action, JobStatusSerializer)

    def get_queryset(self):
        return jobs_visible_to(self.request.user).select_related("backend", "project", "user").prefetch_related("tags")

    def get_object(self) -> Job:
        return job_get_for_user(user=self.request.user, job_id=self.kwargs["job_id"])

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(JobSummarySerializer(page, many=True).data)

    def create(self, request):
        job = submit_from_input(user=request.user, token=request.auth, data=request.data)
        location = reverse("api:job-detail", kwargs={"job_id": job.job_id})
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED, headers={"Location": location})

    def retrieve(self, request, job_id):
        return Response(JobStatusSerializer(self.get_object()).data)

    def partial_update(self, request, job_id):
        job = self.get_object()
        data = validate(JobPatchSerializer, request.data)
        job = services.job_update(user=request.user, job_id=job.job_id, **data)
        return Response(JobStatusSerializer(job).data)

    def destroy(self, request, job_id):
        services.job_delete(user=request.user, job_id=self.get_object().job_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Cancel a QUEUED job",
        request=None,
        responses={200: JobStatusSerializer, 404: _NOT_FOUND, 409: _CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, job_id):
        job = services.job_cancel(user=request.user, job_id=self.get_object().job_id)
        return Response(JobStatusSerializer(job).data)

    @extend_schema(
        summary="Cancel entries of a QUEUED job; cancelling every entry cancels the job",
        request=JobCancelEntriesSerializer,
        responses={200: JobResultsSerializer, 404: _NOT_FOUND, 409: _CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path="cancel-entries")
    def cancel_entries(self, request, job_id):
        data = validate(JobCancelEntriesSerializer, request.data)
        job = services.job_cancel_entries(user=request.user, job_id=self.get_object().job_id, indexes=data["indexes"])
        return Response(JobResultsSerializer(job).data)

    @extend_schema(
        summary="A job's input: its source as submitted and the options it runs with, streamed",
        responses={200: JobPayloadSerializer, 404: _NOT_FOUND},
    )
    @action(detail=True, methods=["get"])
    def payload(self, request, job_id):
        response = StreamingHttpResponse(job_payload_stream(self.get_object()), content_type="application/json")
        response["Content-Disposition"] = f'inline; filename="job-{job_id}-payload.json"'
        return response

    @extend_schema(
        summary="A job with its results, one entry per source_code entry",
        responses={200: JobResultsSerializer, 404: _NOT_FOUND},
    )
    @action(detail=True, methods=["get"])
    def results(self, request, job_id):
        return StreamingHttpResponse(job_results_stream(self.get_object()), content_type="application/json")
