"""What the jobs tests share: REST submissions and listings, and the check that another tenant's attempt
changed nothing."""

from __future__ import annotations

import pytest

from jobs.models import Job
from tests.factories import BELL

JOBS = "/api/v1/jobs/"


@pytest.fixture
def create(api):
    """Submit a Bell job over REST as ``who`` (fields overridable); returns the 201 answer."""

    def submit(who, **fields):
        body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "shots": 100, **fields}
        response = api("post", JOBS, body, who=who)
        assert response.status_code == 201, response.content
        return response.json()

    return submit


def listed(api, who, **params) -> list[str]:
    response = api("get", JOBS, who=who, params=params)
    assert response.status_code == 200, response.content
    return [job["job_id"] for job in response.json()["results"]]


def assert_untouched(job_id: str) -> None:
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.job_name, job.job_priority) == ("QUEUED", "private", 5)
    assert job.source_code == [BELL]
