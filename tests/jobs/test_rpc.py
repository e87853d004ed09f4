"""The JSON-RPC methods of seed 000 (SPEC §3): success and error paths of each."""

from __future__ import annotations

import json
import uuid
import zlib

import pytest

from backends.models import Backend
from jobs import queues
from jobs.models import Job
from jobs.services import job_start
from projects.models import Role
from projects.services import membership_set, token_create
from tests.conftest import error_of, result_of
from tests.factories import BELL, XX, make_project, make_tenant

pytestmark = pytest.mark.django_db

SEED_JOB_ID = "00000000-0000-4000-8000-000000000001"


def seed_submit_body() -> dict:
    """Seed 000's full submit_job body, with a real circuit in place of its placeholder."""
    return {
        "job_id": SEED_JOB_ID,
        "job_name": "test-dummy",
        "code_type": "qasm",
        "source_code": [BELL],
        "description": "description",
        "backend": "dummy",
        "transpiler": "cmss",
        "transpiler_options": {},
        "job_type": "",
        "job_priority": 10,
        "shots": 1,
        "profiling": ["driver:transpile"],
        "dry_run": False,
        "code_compress_level": 0,
        "tags": ["tag1", "tag2"],
        "callbacks": [
            {
                "name": "callback",
                "type": "results",
                "method": "post",
                "url": "http://127.0.0.1:8088/v1/job/set_job_results",
            }
        ],
    }


# --- submit_job -----------------------------------------------------------------------------


def test_submit_seed_body(rpc, tenant):
    """Seed 000's submit_job request answers the job, QUEUED, with every field of the seed's answer."""
    job = result_of(rpc("submit_job", {"body": seed_submit_body()}, who=tenant))
    seed_answer_fields = {
        "job_id", "job_name", "job_status", "job_priority", "code_type", "source_code", "description", "backend",
        "transpiler", "transpiler_options", "shots", "profiling", "dry_run", "code_compress_level", "tags",
        "created_at", "updated_at", "started_at", "ended_at", "callbacks",
    }  # fmt: skip
    assert seed_answer_fields <= set(job)
    assert job["job_id"] == SEED_JOB_ID
    assert job["job_status"] == "QUEUED"
    assert job["job_priority"] == 10
    assert job["transpiler"] == "cmss"
    assert job["source_code"] == [BELL]
    assert job["tags"] == ["tag1", "tag2"]
    assert job["callbacks"][0]["url"] == "http://127.0.0.1:8088/v1/job/set_job_results"
    assert job["started_at"] is None and job["ended_at"] is None
    assert job["created_at"].endswith("+00:00")
    assert job["project_id"] == str(tenant.project.project_id)
    assert job["user_id"] == str(tenant.user.user_id)


def test_submit_flat_params(rpc, tenant):
    """The same fields directly in params are accepted too."""
    job = result_of(rpc("submit_job", {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}, who=tenant))
    assert job["job_status"] == "QUEUED"
    assert job["shots"] == 1024 and job["job_priority"] == 5


def test_submit_compression_alias_stores_compressed(rpc, tenant):
    """code_compression_level is an alias; the source is stored zlib-compressed and answered as submitted."""
    source = BELL + "// padding\n" * 200
    job = result_of(
        rpc(
            "submit_job",
            {"body": {"code_type": "qasm2", "source_code": [source], "backend": "dummy", "code_compression_level": 6}},
            who=tenant,
        )  # fmt: skip
    )
    assert job["code_compress_level"] == 6
    assert job["source_code"] == [source]
    blob = bytes(Job.objects.get(pk=job["job_id"]).source_blob)
    assert len(blob) < len(source) / 4
    assert json.loads(zlib.decompress(blob)) == [source]


def test_submit_duplicate_job_id_conflicts(rpc, tenant, other_tenant):
    """A job_id already used, by anyone, answers -409 and leaves the first job alone."""
    result_of(rpc("submit_job", {"body": seed_submit_body()}, who=tenant))
    error = error_of(rpc("submit_job", {"body": seed_submit_body()}, who=other_tenant))
    assert error["code"] == -409
    assert error["data"]["error_code"] == "conflict"
    assert Job.objects.get(pk=SEED_JOB_ID).user == tenant.user


def test_submit_unknown_field_is_named(rpc, tenant):
    """A typo is rejected, not ignored: -32602 naming the field."""
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "shot": 10}
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -32602
    assert error["data"]["errors"] == [{"field": "shot", "message": "unknown field"}]


def test_submit_missing_fields_each_named(rpc, tenant):
    """Every missing required field is listed."""
    error = error_of(rpc("submit_job", {"body": {}}, who=tenant))
    assert error["code"] == -32602
    assert {e["field"] for e in error["data"]["errors"]} == {"code_type", "source_code", "backend"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("shots", "100"),
        ("shots", 0),
        ("job_priority", 0),
        ("job_priority", 11),
        ("job_priority", True),
        ("code_type", "quil"),
        ("source_code", []),
        ("source_code", "OPENQASM 2.0;"),
        ("profiling", ["driver:everything"]),
        ("code_compress_level", 10),
        ("dry_run", "yes"),
        ("tags", ["x" * 65]),
        ("tags", [f"t{i}" for i in range(33)]),
        ("transpiler", "magic"),
        ("job_id", "not-a-uuid"),
        ("callbacks", [{"url": "ftp://example.com/x"}]),
        ("callbacks", [{"url": "http://example.com/x", "type": "sometimes"}]),
    ],
)
def test_submit_invalid_field(rpc, tenant, field, value):
    """A field of the wrong type or out of range answers -32602 naming it; nothing is stored."""
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", field: value}
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -32602
    assert any(e["field"].split("[")[0].split(".")[0] == field for e in error["data"]["errors"]), error
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "matrix",
    [[[1, 2], [3]], [[1, "2"], [3, 4]], [[True, 0], [0, 1]], [], [[1, 2, 3], [4, 5, 6]]],
)
def test_submit_bad_qubo_matrix(rpc, tenant, matrix):
    """QUBO matrices must be square, numeric and non-empty."""
    body = {"code_type": "qubo", "source_code": [matrix], "backend": "dummy"}
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -32602
    assert error["data"]["errors"][0]["field"] == "source_code[0]"


def test_submit_unknown_backend(rpc, tenant):
    """A backend that does not exist is -404."""
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "no-such-device"}
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -404


def test_submit_code_type_backend_does_not_take(rpc, tenant):
    """A code type the backend does not take is -400 job_type_not_supported."""
    body = {"code_type": "qubo", "source_code": [[[1, 0], [0, 1]]], "backend": "dummy"}
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -400
    assert error["data"]["error_code"] == "job_type_not_supported"


def test_submit_shots_over_backend_limit(rpc, tenant):
    """Shots above the backend's max_shots are -32602 naming shots and the limit."""
    Backend.objects.filter(name="dummy").update(max_shots=1000)
    error = error_of(rpc("submit_job", {"body": {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy",
                                                 "shots": 1001}}, who=tenant))  # fmt: skip
    assert error["code"] == -32602
    assert "1000" in error["data"]["errors"][0]["message"]


def test_submit_offline_backend(rpc, tenant):
    """An offline backend refuses submissions: -503."""
    Backend.objects.filter(name="dummy").update(status="offline")
    error = error_of(rpc("submit_job", {"body": {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}},
                         who=tenant))  # fmt: skip
    assert error["code"] == -503
    assert error["data"]["error_code"] == "backend_unavailable"


def test_submit_unknown_job_type(rpc, tenant):
    """job_type is "" or "estimation"."""
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "job_type": "tomography"}
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -32602 and error["data"]["errors"][0]["field"] == "job_type"


def test_submit_quota(rpc, submit, tenant):
    """A project at its maximum of QUEUED + RUNNING jobs refuses more: -429 quota_exceeded."""
    tenant.project.max_queued_jobs = 1
    tenant.project.save()
    submit(tenant)
    error = error_of(rpc("submit_job", {"body": {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}},
                         who=tenant))  # fmt: skip
    assert error["code"] == -429
    assert error["data"]["error_code"] == "quota_exceeded"


def test_submit_to_named_project(rpc, tenant):
    """project_id picks among the user's projects; without it a user of several must name one."""
    second = make_project()
    membership_set(project=second, user=tenant.user, role=Role.MEMBER)
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -32602 and error["data"]["errors"][0]["field"] == "project_id"
    job = result_of(rpc("submit_job", {"body": {**body, "project_id": str(second.project_id)}}, who=tenant))
    assert job["project_id"] == str(second.project_id)


def test_submit_to_project_not_a_member_of(rpc, tenant):
    """A project the user is not a member of reads as not found."""
    body = {
        "code_type": "qasm2",
        "source_code": [BELL],
        "backend": "dummy",
        "project_id": str(make_project().project_id),
    }
    assert error_of(rpc("submit_job", {"body": body}, who=tenant))["code"] == -404


def test_submit_with_project_bound_token(client, rpc, tenant):
    """A token bound to a project submits there."""
    second = make_project()
    membership_set(project=second, user=tenant.user, role=Role.MEMBER)
    _, raw = token_create(user=tenant.user, project=second)
    tenant.token = raw
    job = result_of(rpc("submit_job", {"body": {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}},
                        who=tenant))  # fmt: skip
    assert job["project_id"] == str(second.project_id)


# --- get_job_status / get_job_results ---------------------------------------------------------


def test_get_job_status_while_queued(rpc, submit, tenant):
    """get_job_status: the job without source and results, with progress and queue_position."""
    job = submit(tenant, profiling=["driver:run"])
    status = result_of(rpc("get_job_status", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert status["job_status"] == "QUEUED"
    assert status["queue_position"] == 1
    assert status["progress"] == 0
    assert "source_code" not in status and "results" not in status
    assert status["profiling"] == ["driver:run"]


def test_get_job_status_after_run(rpc, submit, tenant, run_worker):
    """A finished job has timestamps, progress 100 and no queue position."""
    job = submit(tenant)
    run_worker()
    status = result_of(rpc("get_job_status", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert status["job_status"] == "COMPLETED"
    assert status["progress"] == 100
    assert status["queue_position"] is None
    assert status["created_at"] <= status["started_at"] <= status["ended_at"]


def test_get_job_status_unknown_job(rpc, tenant):
    """A job that does not exist is -404; a malformed id is -32602."""
    assert error_of(rpc("get_job_status", {"body": {"job_id": str(uuid.uuid4())}}, who=tenant))["code"] == -404
    assert error_of(rpc("get_job_status", {"body": {"job_id": "42"}}, who=tenant))["code"] == -32602


def test_get_job_results_while_queued(rpc, submit, tenant):
    """Before anything ended, results is an empty list."""
    job = submit(tenant)
    results = result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert results["results"] == []
    assert results["source_code"] == [BELL]


def test_seed_xx_example(rpc, tenant, run_worker):
    """Seed 000's two-circuit example: every shot of each entry reads "11"."""
    body = {"code_type": "qasm", "source_code": [XX, XX], "backend": "dummy", "transpiler": "cmss", "shots": 104,
            "profiling": ["driver:parse", "driver:transpile", "driver:run"]}  # fmt: skip
    job = result_of(rpc("submit_job", {"body": body}, who=tenant))
    run_worker()
    results = result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert results["job_status"] == "COMPLETED"
    assert results["num_qubits"] == 2
    assert len(results["results"]) == 2
    for entry in results["results"]:
        assert entry["results"] == {"11": 104}
        assert entry["num_qubits"] == 2
        assert entry["metadata"]["results_fetch_mode"] == "sync"
        assert entry["metadata"]["status"] == "COMPLETED"
        assert set(entry["profiling"]) == {"driver:parse", "driver:transpile", "driver:run"}


def test_failed_entry_fails_the_job(rpc, tenant, run_worker):
    """Seed 000's failure example: a source that does not parse fails its entry with -102 and the job."""
    body = {"code_type": "qasm", "source_code": [XX, "OPENQASM 2.0;\n1 x;"], "backend": "dummy"}
    job = result_of(rpc("submit_job", {"body": body}, who=tenant))
    run_worker()
    results = result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert results["job_status"] == "FAILED"
    good, bad = results["results"]
    assert good["results"] == {"11": 1024}
    assert bad["results"] is None
    assert bad["metadata"]["status"] == "FAILED"
    assert bad["error"]["code"] == -102
    assert bad["error"]["message"].startswith("[JobEngine] Parse Error: ")


# --- get_jobs -----------------------------------------------------------------------------------


def test_get_jobs_own_newest_first(rpc, submit, tenant):
    """get_jobs answers the caller's jobs, newest first, with the seed's summary fields."""
    first, second = submit(tenant, job_name="a"), submit(tenant, job_name="b")
    jobs = result_of(rpc("get_jobs", {}, who=tenant))
    assert [j["job_id"] for j in jobs] == [second["job_id"], first["job_id"]]
    assert {"job_id", "job_name", "job_status", "job_priority", "backend", "transpiler", "shots", "progress",
            "code_compress_level", "tags", "created_at", "ended_at", "project_id", "user_id", "code_type",
            "started_at"} == set(jobs[0])  # fmt: skip


def test_get_jobs_limit_offset_order(rpc, submit, tenant):
    """limit and offset page through the list; order changes it."""
    ids = [submit(tenant)["job_id"] for _ in range(5)]
    page = result_of(rpc("get_jobs", {"limit": 2, "offset": 1}, who=tenant))
    assert [j["job_id"] for j in page] == [ids[3], ids[2]]
    oldest = result_of(rpc("get_jobs", {"limit": 1, "order": "created_at"}, who=tenant))
    assert oldest[0]["job_id"] == ids[0]
    assert error_of(rpc("get_jobs", {"limit": 1001}, who=tenant))["code"] == -32602


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


# --- update_job ---------------------------------------------------------------------------------


def test_update_job_fields(rpc, submit, tenant):
    """Seed 000's update_job: name, description (and tags) change; the full job is answered."""
    job = submit(tenant)
    body = {"job_id": job["job_id"], "job_name": "updated-job-name", "description": "updated description",
            "job_priority": 10, "tags": ["x"]}  # fmt: skip
    updated = result_of(rpc("update_job", {"body": body}, who=tenant))
    assert updated["job_name"] == "updated-job-name"
    assert updated["description"] == "updated description"
    assert updated["job_priority"] == 10
    assert updated["tags"] == ["x"]
    assert updated["source_code"] == [BELL]
    assert queues.position(job["job_id"], 10) == 1
    assert queues.position(job["job_id"], 5) is None


def test_update_priority_of_finished_job_conflicts(rpc, submit, tenant, run_worker):
    """Priority changes only while QUEUED; names change any time before DELETED."""
    job = submit(tenant)
    run_worker()
    error = error_of(rpc("update_job", {"body": {"job_id": job["job_id"], "job_priority": 1}}, who=tenant))
    assert error["code"] == -409
    renamed = result_of(rpc("update_job", {"body": {"job_id": job["job_id"], "job_name": "later"}}, who=tenant))
    assert renamed["job_name"] == "later"
    rpc("delete_jobs", {"body": {"job_ids": [job["job_id"]]}}, who=tenant)
    assert error_of(rpc("update_job", {"body": {"job_id": job["job_id"], "job_name": "x"}}, who=tenant))["code"] == -409


def test_update_unknown_field(rpc, submit, tenant):
    """update_job rejects fields it cannot change."""
    job = submit(tenant)
    error = error_of(rpc("update_job", {"body": {"job_id": job["job_id"], "shots": 5}}, who=tenant))
    assert error["code"] == -32602


# --- get_backends -------------------------------------------------------------------------------


def test_get_backends(rpc, submit, tenant):
    """get_backends reports each backend's status, limits and queue length."""
    submit(tenant)
    backends = {b["name"]: b for b in result_of(rpc("get_backends", {}, who=tenant))}
    dummy = backends["dummy"]
    assert dummy["status"] == "online"
    assert dummy["code_types"] == ["qasm", "qasm2", "qasm3"]
    assert dummy["queue_length"] == 1
    assert backends["aer_simulator"]["queue_length"] == 0
    for key in ("max_qubits", "max_shots", "max_circuits", "max_variables", "time_limit", "basis_gates",
                "coupling_map", "results_fetch_mode", "description"):  # fmt: skip
        assert key in dummy


def test_submit_dense_1000_variable_qubo(rpc, tenant):
    """A dense 1,000-variable QUBO (about 3 MB of JSON) is accepted and answered as submitted."""
    import numpy as np

    matrix = np.triu(np.random.default_rng(0).integers(-10, 10, size=(1000, 1000))).tolist()
    assert len(json.dumps(matrix)) > 3_000_000
    job = result_of(rpc("submit_job", {"body": {"code_type": "qubo", "source_code": [matrix], "backend": "qubo_sa"}},
                        who=tenant))  # fmt: skip
    assert job["job_status"] == "QUEUED"
    assert job["source_code"] == [matrix]


def test_submit_nan_in_qubo_refused(post_raw, tenant):
    """NaN and Infinity (which Python's JSON parser lets through) are not JSON: a parse error, id null."""
    body = '{"jsonrpc": "2.0", "id": 1, "method": "submit_job", "params": {"body": {"code_type": "qubo", ' \
           '"backend": "qubo_sa", "source_code": [[[1, NaN], [0, Infinity]]]}}}'  # fmt: skip
    answer = post_raw(body, who=tenant, url="/v1/job/submit_job").json()
    assert answer["error"]["code"] == -32700 and answer["id"] is None
    assert "NaN" in answer["error"]["data"]["details"]
