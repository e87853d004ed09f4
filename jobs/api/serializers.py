"""REST bodies and answers of jobs for the OpenAPI schema: the PATCH body, and the serializers of the
answers, made from the shapes in jobs.presenters that render them. (What the endpoints accept is
validated in jobs/inputs.py, for every face.)"""

from __future__ import annotations

from jobs import presenters
from jobs.inputs import CancelEntriesSerializer, UpdateJobSerializer


class JobPatchSerializer(UpdateJobSerializer):
    """The body of ``PATCH /api/v1/jobs/{job_id}/``: ``update_job``'s fields, the id being in the URL."""

    job_id = None

    def to_representation(self, instance):
        # What the browsable API pre-fills its PATCH form with: the job's current values.
        current = presenters.job_status_view(instance)
        return {name: current[name] for name in self.fields}


class JobCancelEntriesSerializer(CancelEntriesSerializer):
    """The body of ``POST /api/v1/jobs/{job_id}/cancel-entries/``: the entries' indexes."""

    job_id = None


# The answers' serializers, made from the shapes that render them (jobs.presenters): one declaration.
JobSummarySerializer = presenters.SUMMARY.serializer
JobStatusSerializer = presenters.STATUS.serializer
JobSerializer = presenters.FULL.serializer
JobResultsSerializer = presenters.RESULTS.serializer
JobPayloadSerializer = presenters.PAYLOAD.serializer
