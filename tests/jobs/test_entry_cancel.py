"""Cancelling entries of a queued job (Superstaq's ``cancel(index=...)``): they never run, and the
job takes its final status from its entries' by ENTRY_STATUS_PRIORITY."""

from __future__ import annotations

import pytest

from jobs.choices import ENTRY_STATUS_PRIORITY, JobStatus
from jobs.models import Job
from jobs.rules import status_from_entries
from tests.conftest import error_of, result_of
from tests.factories import BELL, XX, make_tenant

pytestmark = pytest.mark.django_db

BROKEN = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nnot_a_gate q[0];\n'


def cancel(rpc, who, job_id, indexes):
    return rpc("cancel_job_entries", {"body": {"job_id": job_id, "indexes": indexes}}, who=who)


def test_the_priority_order_decides_a_jobs_status():
    assert ENTRY_STATUS_PRIORITY[-1] == JobStatus.COMPLETED
    assert status_from_entries(["COMPLETED", "COMPLETED"], 2) == "COMPLETED"
    assert status_from_entries(["COMPLETED", "CANCELLED"], 2) == "CANCELLED"
    assert status_from_entries(["CANCELLED", "FAILED", "COMPLETED"], 3) == "FAILED"
    assert status_from_entries(["COMPLETED"], 2) == "FAILED"  # an entry without an outcome


def test_a_cancelled_entry_never_runs_and_the_others_do(rpc, submit, tenant, run_worker):
    job = submit(tenant, source_code=[BELL, XX, BELL], backend="aer_simulator")
    answer = result_of(cancel(rpc, tenant, job["job_id"], [1]))
    assert answer["job_status"] == "QUEUED" and answer["progress"] == 33
    assert [(e["index"], e["metadata"]["status"]) for e in answer["results"]] == [(1, "CANCELLED")]
    run_worker()
    done = result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert done["job_status"] == "CANCELLED"  # cancelled beside completed: Superstaq's order
    statuses = [(e["index"], e["metadata"]["status"]) for e in done["results"]]
    assert statuses == [(0, "COMPLETED"), (1, "CANCELLED"), (2, "COMPLETED")]
    assert done["results"][1]["results"] is None and set(done["results"][2]["results"]) <= {"00", "11"}


def test_a_failed_entry_beside_a_cancelled_one_fails_the_job(rpc, submit, tenant, run_worker):
    job = submit(tenant, source_code=[BROKEN, XX])
    cancel(rpc, tenant, job["job_id"], [1])
    run_worker()
    assert Job.objects.get(pk=job["job_id"]).status == "FAILED"


def test_cancelling_every_entry_cancels_the_job(rpc, submit, tenant, run_worker):
    job = submit(tenant, source_code=[BELL, XX])
    result_of(cancel(rpc, tenant, job["job_id"], [0]))
    answer = result_of(cancel(rpc, tenant, job["job_id"], [1, 0]))
    assert answer["job_status"] == "CANCELLED"
    run_worker()  # it left the queue: nothing runs it
    job = Job.objects.get(pk=job["job_id"])
    assert (job.status, job.started_at) == ("CANCELLED", None)


def test_what_cannot_be_cancelled_is_refused(rpc, submit, tenant, run_worker):
    job = submit(tenant, source_code=[BELL, XX])
    error = error_of(cancel(rpc, tenant, job["job_id"], [2]))
    assert error["code"] == -32602 and error["data"]["errors"][0]["field"] == "indexes"
    assert error_of(cancel(rpc, tenant, job["job_id"], []))["code"] == -32602
    assert error_of(cancel(rpc, make_tenant(), job["job_id"], [0]))["code"] == -404
    run_worker()
    error = error_of(cancel(rpc, tenant, job["job_id"], [0]))
    assert error["data"]["error_code"] == "job_not_submitted_to_qc"
    assert Job.objects.get(pk=job["job_id"]).status == "COMPLETED"


def test_the_rest_api_cancels_entries(api, create, tenant):
    job = create(tenant, source_code=[BELL, XX])
    response = api("post", f"/api/v1/jobs/{job['job_id']}/cancel-entries/", {"indexes": [0]}, who=tenant)
    assert response.status_code == 200, response.content
    assert [e["index"] for e in response.json()["results"]] == [0]
    bad = api("post", f"/api/v1/jobs/{job['job_id']}/cancel-entries/", {"indexes": [5]}, who=tenant)
    assert bad.status_code == 400
