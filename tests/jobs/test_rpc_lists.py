"""JSON-RPC get_jobs, cancel_jobs, delete_jobs and set_job_results (seed 000)."""

from __future__ import annotations

import uuid

import pytest

from jobs import queues
from jobs.models import Job
from jobs.services import job_start
from projects.models import Role
from tests.conftest import error_of, result_of
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db

# --- get_jobs -----------------------------------------------------------------------------------


def test_get_jobs_own_newest_first(rpc, submit, tenant):
    """get_jobs answers the caller's jobs, newest first, with the seed's summary fields."""
    first, second = submit(tenant, job_name="a"), submit(tenant, job_name="b")
    jobs = result_of(rpc("get_jobs", {}, who=tenant))
    assert [j["job_id"] for j in jobs] == [second["job_id"], first["job_id"]]
    assert {"job_id", "job_name", "job_status", "job_priority", "backend", "transpiler", "shots", "progress",
            "code_compress_level", "tags", "created_at", "ended_at", "project_id", "user_id", "code_type",
            "started_at", "experiment_id", "metadata", "share_level"} == set(jobs[0])  # fmt: skip


def test_get_jobs_limit_offset_order(rpc, submit, tenant):
    """limit and offset page through the list; order changes it."""
    ids = [submit(tenant)["job_id"] for _ in range(5)]
    page = result_of(rpc("get_jobs", {"limit": 2, "offset": 1}, who=tenant))
    assert [j["job_id"] for j in page] == [ids[3], ids[2]]
    oldest = result_of(rpc("get_jobs", {"limit": 1, "order": "created_at"}, who=tenant))
    assert oldest[0]["job_id"] == ids[0]
    assert error_of(rpc("get_jobs", {"limit": 1001}, who=tenant))["code"] == -32602


def test_get_jobs_orders_as_the_rest_list_does(rpc, submit, tenant):
    """By end time, jobs that have not ended come last either way, on every database; ties keep one
    order across pages."""
    from tests.factories import complete

    queued = submit(tenant)["job_id"]
    done = str(complete(Job.objects.get(pk=submit(tenant)["job_id"])).job_id)
    for order in ("ended_at", "-ended_at"):
        assert [j["job_id"] for j in result_of(rpc("get_jobs", {"order": order}, who=tenant))] == [done, queued]
    ids = {submit(tenant)["job_id"] for _ in range(4)} | {queued, done}
    Job.objects.update(job_priority=5)
    pages = [
        result_of(rpc("get_jobs", {"order": "job_priority", "limit": 2, "offset": o}, who=tenant)) for o in (0, 2, 4)
    ]
    assert sorted(j["job_id"] for page in pages for j in page) == sorted(ids)


def test_get_jobs_filters(rpc, submit, tenant, run_worker):
    """filters: job_status (string or list), tags (all of them), backend, code_type, job_ids, dates."""
    a = submit(tenant, tags=["exp1", "circuit1"])
    run_worker()
    b = submit(tenant, tags=["exp1"], backend="aer_simulator", code_type="qasm")

    def ids(filters):
        return {j["job_id"] for j in result_of(rpc("get_jobs", {"filters": filters}, who=tenant))}

    assert ids({"job_status": "COMPLETED"}) == {a["job_id"]}
    assert ids({"job_status": ["COMPLETED", "QUEUED"]}) == {a["job_id"], b["job_id"]}
    assert ids({"tags": ["exp1"]}) == {a["job_id"], b["job_id"]}
    assert ids({"tags": ["exp1", "circuit1"]}) == {a["job_id"]}
    assert ids({"backend": "aer_simulator"}) == {b["job_id"]}
    assert ids({"code_type": "qasm2"}) == {a["job_id"]}
    assert ids({"job_ids": [a["job_id"]]}) == {a["job_id"]}
    assert ids({"created_after": b["created_at"]}) == {b["job_id"]}
    assert ids({"created_before": b["created_at"]}) == {a["job_id"]}
    assert ids({"project_id": str(tenant.project.project_id), "job_status": "QUEUED"}) == {b["job_id"]}


def test_get_jobs_unknown_filter(rpc, tenant):
    """An unknown filter is rejected, naming it."""
    error = error_of(rpc("get_jobs", {"filters": {"status": "QUEUED"}}, who=tenant))
    assert error["code"] == -32602
    assert error["data"]["errors"][0]["field"] == "filters.status"


def test_get_jobs_leaves_out_deleted(rpc, submit, tenant):
    """Deleted jobs are left out unless job_status asks for them."""
    job = submit(tenant)
    rpc("delete_jobs", {"body": {"job_ids": [job["job_id"]]}}, who=tenant)
    assert result_of(rpc("get_jobs", {}, who=tenant)) == []
    deleted = result_of(rpc("get_jobs", {"filters": {"job_status": "DELETED"}}, who=tenant))
    assert [j["job_id"] for j in deleted] == [job["job_id"]]


def test_get_jobs_all_users_needs_project_admin(rpc, submit, tenant):
    """all_users: a member gets -403; the project's admin sees every member's jobs."""
    colleague = make_tenant(project=tenant.project)
    admin = make_tenant(project=tenant.project, role=Role.ADMIN)
    job = submit(colleague)
    assert error_of(rpc("get_jobs", {"filters": {"all_users": True}}, who=tenant))["code"] == -403
    assert result_of(rpc("get_jobs", {}, who=admin)) == []
    seen = result_of(rpc("get_jobs", {"filters": {"all_users": True}}, who=admin))
    assert [j["job_id"] for j in seen] == [job["job_id"]]
    by_user = result_of(rpc("get_jobs", {"filters": {"user_id": str(colleague.user.user_id)}}, who=admin))
    assert [j["job_id"] for j in by_user] == [job["job_id"]]
    assert error_of(rpc("get_jobs", {"filters": {"user_id": str(colleague.user.user_id)}}, who=tenant))["code"] == -403


def test_get_jobs_all_projects_is_staff_only(rpc, submit, tenant, staff):
    """all_projects: -403 for everyone but staff, who see jobs of every project."""
    job = submit(tenant)
    assert error_of(rpc("get_jobs", {"filters": {"all_projects": True, "all_users": True}}, who=tenant))["code"] == -403
    seen = result_of(rpc("get_jobs", {"filters": {"all_projects": True, "all_users": True}}, who=staff))
    assert job["job_id"] in {j["job_id"] for j in seen}


# --- cancel_jobs / delete_jobs ------------------------------------------------------------------


def test_cancel_queued_job(rpc, submit, tenant, run_worker):
    """cancel_jobs cancels a QUEUED job, answers it, and takes it out of the queue."""
    job = submit(tenant)
    answer = result_of(rpc("cancel_jobs", {"body": {"job_ids": [job["job_id"]]}}, who=tenant))
    assert answer == [{"job_id": job["job_id"], "job_status": "CANCELLED"}]
    assert queues.position(job["job_id"], 5) is None
    assert run_worker() == 0
    status = result_of(rpc("get_job_status", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert status["job_status"] == "CANCELLED"
    assert status["ended_at"] is not None


def test_cancel_leaves_out_what_cannot_be_cancelled(rpc, submit, tenant, run_worker):
    """Finished, running and unknown jobs are left out of the answer, unchanged."""
    done, running = submit(tenant), submit(tenant)
    job_start(job_id=running["job_id"])
    run_worker()
    ids = [done["job_id"], running["job_id"], str(uuid.uuid4())]
    assert result_of(rpc("cancel_jobs", {"body": {"job_ids": ids}}, who=tenant)) == []
    assert [Job.objects.get(pk=j["job_id"]).status for j in (done, running)] == ["COMPLETED", "RUNNING"]


def test_delete_purges_source_and_results(rpc, submit, tenant, run_worker):
    """delete_jobs: the row stays as a tombstone; source and results are gone."""
    job = submit(tenant)
    run_worker()
    answer = result_of(rpc("delete_jobs", {"body": {"job_ids": [job["job_id"]]}}, who=tenant))
    assert answer == [{"job_id": job["job_id"], "job_status": "DELETED"}]
    status = result_of(rpc("get_job_status", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert status["job_status"] == "DELETED"
    results = result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert results["source_code"] is None
    assert results["results"] == []


def test_delete_queued_job_leaves_the_queue(rpc, submit, tenant, run_worker):
    """A deleted QUEUED job never runs."""
    job = submit(tenant)
    result_of(rpc("delete_jobs", {"body": {"job_ids": [job["job_id"]]}}, who=tenant))
    assert run_worker() == 0
    assert Job.objects.get(pk=job["job_id"]).status == "DELETED"


def test_delete_leaves_out_running(rpc, submit, tenant):
    """A RUNNING job cannot be deleted by its user."""
    job = submit(tenant)
    job_start(job_id=job["job_id"])
    assert result_of(rpc("delete_jobs", {"body": {"job_ids": [job["job_id"]]}}, who=tenant)) == []


def test_cancel_needs_job_ids(rpc, tenant):
    """job_ids is required and must hold UUIDs."""
    assert error_of(rpc("cancel_jobs", {"body": {}}, who=tenant))["code"] == -32602
    assert error_of(rpc("delete_jobs", {"body": {"job_ids": ["x"]}}, who=tenant))["code"] == -32602


# --- set_job_results ------------------------------------------------------------------------------


def test_set_job_results_needs_driver_scope(rpc, submit, tenant):
    """An ordinary member may not store results: -403."""
    job = submit(tenant)
    body = {"job_id": job["job_id"], "results": [{"results": {"00": 10, "11": 5}, "num_qubits": 2}]}
    assert error_of(rpc("set_job_results", {"body": body}, who=tenant))["code"] == -403


def test_set_job_results_completes_job(rpc, submit, tenant, run_worker):
    """Seed 000's set_job_results: a driver stores results; the job is COMPLETED and never runs again."""
    driver = make_tenant(scope="driver")
    job = submit(tenant)
    body = {"job_id": job["job_id"], "results": [{"results": {"00": 10, "11": 5}, "num_qubits": 2}]}
    answer = result_of(rpc("set_job_results", {"body": body}, who=driver))
    assert answer == {"job_id": job["job_id"], "backend": "dummy", "job_status": "COMPLETED"}
    assert run_worker() == 0
    results = result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert results["results"][0]["results"] == {"00": 10, "11": 5}
    assert results["results"][0]["metadata"]["status"] == "COMPLETED"
    assert results["num_qubits"] == 2


def test_set_job_results_with_error_fails_job(rpc, submit, tenant, staff):
    """An entry carrying error makes the job FAILED."""
    job = submit(tenant)
    body = {"job_id": job["job_id"], "results": [{"results": None, "error": {"code": -104, "message": "device"}}]}
    assert result_of(rpc("set_job_results", {"body": body}, who=staff))["job_status"] == "FAILED"


def test_set_job_results_on_final_job_conflicts(rpc, submit, tenant, staff, run_worker):
    """A final job keeps its results: -409."""
    job = submit(tenant)
    run_worker()
    body = {"job_id": job["job_id"], "results": [{"results": {"00": 1}}]}
    error = error_of(rpc("set_job_results", {"body": body}, who=staff))
    assert error["code"] == -409
    assert error["data"]["error_code"] == "invalid_state"


def test_set_job_results_entry_count_must_match(rpc, submit, tenant, staff):
    """One result per source_code entry."""
    job = submit(tenant)
    body = {"job_id": job["job_id"], "results": [{"results": {}}, {"results": {}}]}
    assert error_of(rpc("set_job_results", {"body": body}, who=staff))["code"] == -32602
