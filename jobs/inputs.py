"""Raw submit input to a job, one way for every face: JSON-RPC's submit_job, REST's POST /jobs/ and
the web's submit page validate, place and build a submission alike, and keep only their own answers."""

from __future__ import annotations

from typing import Any

from core.validation import validate
from jobs import services
from jobs.api.serializers import SubmitJobSerializer
from jobs.models import Job
from projects.models import ApiToken, User
from projects.selectors import project_for_submission


def submit_from_input(*, user: User, token: ApiToken | None, data: Any) -> Job:
    """Submit the job ``data`` (the fields of ``submit_job``) describes, in the project it names or implies.

    InvalidParams names each offending field; a project the caller cannot submit to is NotFound."""
    fields = validate(SubmitJobSerializer, data)
    project = project_for_submission(user=user, token=token, project_id=fields.pop("project_id", None))
    # The nested serializers' values, as the plain dicts the JSON columns and callbacks expect.
    if fields.get("transpiler_options") is not None:
        fields["transpiler_options"] = dict(fields["transpiler_options"])
    fields["callbacks"] = [dict(callback) for callback in fields["callbacks"]]
    return services.job_submit(user=user, project=project, spec=services.JobSpec(**fields))
