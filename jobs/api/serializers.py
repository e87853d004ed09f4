"""REST answers of jobs, for the OpenAPI schema: what each endpoint returns, shaped by jobs.presenters.
(What the endpoints accept is validated in jobs/inputs.py, for every face.)"""

from __future__ import annotations

from rest_framework import serializers

from jobs.choices import CallbackType, CodeType, JobStatus
from jobs.inputs import UpdateJobSerializer
from jobs.presenters import job_full, job_results_view, job_status_view, job_summary, with_queue_position

# --- REST: request bodies and answers ----------------------------------------------------------
# Answers are shaped by jobs.presenters, the functions JSON-RPC answers with, so both APIs show
# a job the same way. These serializers declare the fields for the OpenAPI schema and hand the
# shaping to those functions; tests/portal/test_rest_schema.py keeps the declared fields and the shapes equal.


class JobPatchSerializer(UpdateJobSerializer):
    """The body of ``PATCH /api/v1/jobs/{job_id}/``: ``update_job``'s fields, the id being in the URL."""

    job_id = None

    def to_representation(self, instance):
        # What the browsable API pre-fills its PATCH form with: the job's current values.
        current = job_status_view(instance)
        return {name: current[name] for name in self.fields}


class JobSummarySerializer(serializers.Serializer):
    """An item of the job list, as ``get_jobs`` answers it."""

    job_id = serializers.UUIDField()
    job_name = serializers.CharField(allow_null=True)
    job_status = serializers.ChoiceField(choices=JobStatus.choices)
    job_priority = serializers.IntegerField(help_text="1 runs first.")
    project_id = serializers.UUIDField()
    user_id = serializers.UUIDField()
    code_type = serializers.ChoiceField(choices=CodeType.choices)
    backend = serializers.CharField()
    transpiler = serializers.CharField(allow_null=True)
    shots = serializers.IntegerField()
    progress = serializers.IntegerField(help_text="Percentage of entries that ended.")
    code_compress_level = serializers.IntegerField()
    tags = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance):
        return job_summary(instance)


class CallbackAttemptOutSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    duration = serializers.FloatField(allow_null=True)


class CallbackDeliveryOutSerializer(serializers.Serializer):
    delivery_id = serializers.UUIDField(help_text="The X-Portal-Delivery header, the same on every attempt.")
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=CallbackType.choices)
    event = serializers.CharField()
    job_status = serializers.ChoiceField(choices=JobStatus.choices)
    url = serializers.CharField()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    attempt_log = CallbackAttemptOutSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class _JobFieldsSerializer(JobSummarySerializer):
    """The fields of ``job_status_view``: a ``get_jobs`` item and the rest (without the queue position)."""

    description = serializers.CharField(allow_null=True)
    transpiler_options = serializers.DictField(allow_null=True)
    driver_options = serializers.DictField(allow_null=True)
    job_type = serializers.CharField(help_text='"" or "estimation".')
    profiling = serializers.ListField(child=serializers.CharField())
    dry_run = serializers.BooleanField()
    enable_circuit_aggregation = serializers.BooleanField()
    callbacks = serializers.ListField(child=serializers.DictField())
    num_qubits = serializers.IntegerField(allow_null=True, help_text="The largest among the entries.")
    updated_at = serializers.DateTimeField()
    callback_deliveries = CallbackDeliveryOutSerializer(many=True)


class JobStatusSerializer(_JobFieldsSerializer):
    """A job as ``get_job_status`` answers it: no source, no results; its place in the queue."""

    queue_position = serializers.IntegerField(allow_null=True, help_text="1 = next; null unless waiting.")

    def to_representation(self, instance):
        return with_queue_position(job_status_view(instance), instance)


class JobSerializer(_JobFieldsSerializer):
    """The whole job, as ``submit_job`` answers it (source decompressed; null once deleted)."""

    source_code = serializers.ListField(child=serializers.JSONField(), allow_null=True)

    def to_representation(self, instance):
        return job_full(instance)


class JobResultEntryOutSerializer(serializers.Serializer):
    results = serializers.JSONField(help_text="Counts (circuits) or a list of solutions (QUBO).")
    num_qubits = serializers.IntegerField(allow_null=True)
    metadata = serializers.DictField()
    profiling = serializers.DictField(help_text="Seconds per requested stage.")
    error = serializers.DictField(required=False, help_text="Only when the entry failed: {code, message}.")
    memory = serializers.ListField(child=serializers.CharField(), required=False, help_text="One bitstring per shot.")


class JobResultsSerializer(JobSerializer):
    """A job with its results, as ``get_job_results`` answers it: one entry per ``source_code`` entry."""

    results = JobResultEntryOutSerializer(many=True)

    def to_representation(self, instance):
        return job_results_view(instance)
