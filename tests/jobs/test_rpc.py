"""The JSON-RPC methods of seed 000 (SPEC §3): success and error paths of each."""

from __future__ import annotations

import json
import uuid
import zlib

import pytest

from backends.models import Backend
from jobs import queues
from jobs.models import Job
from projects.models import Role
from projects.services import membership_set, token_create
from tests.conftest import error_of, result_of
from tests.factories import BELL, XX, make_project

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
    assert error["data"]["errors"] == [
        {"field": "shot", "message": "unknown field", "msg": "unknown field", "loc": ["shot"]}
    ]


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
