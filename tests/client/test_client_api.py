"""PortalClient against a live portal: every JSON-RPC method, and each error as its exception."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from portal_client import (
    BackendUnavailable,
    Conflict,
    InvalidParams,
    InvalidPayload,
    InvalidState,
    JobTypeNotSupported,
    NotFound,
    PermissionDenied,
    PortalClient,
    PortalError,
    QuotaExceeded,
    Unauthenticated,
)
from tests.factories import BELL, XX


def as_(portal, who) -> PortalClient:
    return PortalClient(portal.url, who.token)


def bell(api, **fields):
    return api.submit_job(code_type="qasm2", source_code=[BELL], backend="dummy", **fields)


def test_submit_job_answers_the_stored_job_under_the_chosen_id(api):
    job_id = uuid.uuid4()
    job = api.submit_job(
        job_id=job_id, code_type="qasm2", source_code=[BELL, XX], backend="aer_simulator", shots=64,
        job_name="bell and xx", tags=["client", "test"], job_priority=3, driver_options={"seed_simulator": 7},
    )  # fmt: skip
    assert job["job_id"] == str(job_id)
    assert job["job_status"] == "QUEUED"
    assert job["source_code"] == [BELL, XX]
    assert (job["job_name"], job["tags"]) == ("bell and xx", ["client", "test"])
    assert (job["job_priority"], job["shots"]) == (3, 64)


def test_get_job_results_after_the_worker_ran_it(api):
    job_id = api.submit_job(code_type="qasm2", source_code=[BELL, XX], backend="aer_simulator", shots=100)["job_id"]
    api.job(job_id).wait_for_final_state(timeout=60)
    job = api.get_job_results(job_id)
    assert job["job_status"] == "COMPLETED"
    assert [sorted(entry["results"]) for entry in job["results"]] == [["00", "11"], ["11"]]
    assert job["results"][1]["results"] == {"11": 100}


def test_get_job_status_has_queue_position_while_queued(api, paused_dummy):
    first, second = bell(api), bell(api)
    assert api.get_job_status(second["job_id"])["job_status"] == "QUEUED"
    assert "source_code" not in api.get_job_status(first["job_id"])
    assert api.get_job_results(first["job_id"])["results"] == []


def test_get_jobs_filters_and_pages(api):
    tagged = bell(api, tags=["needle"])
    bell(api, tags=["hay"])
    qubo = api.submit_job(code_type="qubo", source_code=[[[1, -2], [0, 1]]], backend="qubo_exact")
    assert [job["job_id"] for job in api.get_jobs(tags=["needle"])] == [tagged["job_id"]]
    assert [job["job_id"] for job in api.get_jobs(code_type="qubo")] == [qubo["job_id"]]
    assert len(api.get_jobs(backend="dummy")) == 2
    assert len(api.get_jobs(limit=2)) == 2 and len(api.get_jobs(limit=2, offset=2)) == 1
    assert api.get_jobs(created_after=datetime.now(UTC) + timedelta(hours=1)) == []
    assert {job["job_id"] for job in api.iter_jobs(page_size=1)} == {
        job["job_id"] for job in api.get_jobs(job_ids=[tagged["job_id"], qubo["job_id"]])
    } | {job["job_id"] for job in api.get_jobs(tags=["hay"])}


def test_get_jobs_all_users_needs_the_project_admin(portal):
    bell(as_(portal, portal.alice))
    assert len(as_(portal, portal.admin).get_jobs(all_users=True)) == 1
    with pytest.raises(PermissionDenied) as raised:
        as_(portal, portal.alice).get_jobs(all_users=True)
    assert (raised.value.code, raised.value.error_code) == (-403, "permission_denied")


def test_cancel_jobs_cancels_only_queued_ones(api, paused_dummy):
    job = bell(api)
    assert api.cancel_jobs([job["job_id"]]) == [{"job_id": job["job_id"], "job_status": "CANCELLED"}]
    assert api.cancel_jobs([job["job_id"]]) == []


def test_delete_jobs_then_the_job_reads_deleted(api, paused_dummy):
    job = bell(api)
    assert api.delete_jobs([job["job_id"]]) == [{"job_id": job["job_id"], "job_status": "DELETED"}]
    assert api.get_job_status(job["job_id"])["job_status"] == "DELETED"


def test_update_job_renames_retags_and_reprioritises(api, paused_dummy):
    job = bell(api)
    updated = api.update_job(job["job_id"], job_name="renamed", tags=["b", "a"], job_priority=1, description="d")
    assert (updated["job_name"], updated["tags"], updated["job_priority"], updated["description"]) == (
        "renamed", ["a", "b"], 1, "d",
    )  # fmt: skip


def test_set_job_results_as_staff_ends_the_job(portal, paused_dummy):
    job = bell(as_(portal, portal.alice))
    entry = {"results": {"00": 3, "11": 5}, "num_qubits": 2, "metadata": {"source": "device"}}
    answer = as_(portal, portal.staff).set_job_results(job["job_id"], [entry])
    assert answer == {"job_id": job["job_id"], "backend": "dummy", "job_status": "COMPLETED"}
    assert as_(portal, portal.alice).get_job_results(job["job_id"])["results"][0]["results"] == {"00": 3, "11": 5}
    with pytest.raises(InvalidState):
        as_(portal, portal.staff).set_job_results(job["job_id"], [entry])


def test_get_backends_and_discover(api):
    backends = {backend["name"]: backend for backend in api.get_backends()}
    assert {"aer_simulator", "aer_noisy", "qubo_sa", "qubo_exact"} <= set(backends)
    assert backends["aer_noisy"]["basis_gates"] == ["cx", "id", "rz", "sx", "x"]
    assert api.get_backend("qubo_sa")["code_types"] == ["qubo"]
    with pytest.raises(NotFound):
        api.get_backend("no_such_backend")
    methods = {method["name"] for method in api.discover()["methods"]}
    assert {"submit_job", "get_jobs", "set_job_results", "update_job", "get_backends"} <= methods


# --- the error table as exceptions ---------------------------------------------------------------


def test_someone_elses_job_is_not_found(portal):
    job = bell(as_(portal, portal.alice))
    with pytest.raises(NotFound) as raised:
        as_(portal, portal.bob).get_job_status(job["job_id"])
    assert (raised.value.code, raised.value.error_code) == (-404, "not_found")


def test_bad_token_is_unauthenticated(portal):
    with pytest.raises(Unauthenticated) as raised:
        PortalClient(portal.url, "qp_not_a_token").get_backends()
    assert raised.value.code == -401 and raised.value.message


def test_invalid_params_name_each_field(api):
    with pytest.raises(InvalidParams) as raised:
        api.submit_job(code_type="qasm2", source_code=[BELL], backend="dummy", shots=0, job_priority=11)
    fields = {error["field"] for error in raised.value.errors}
    assert {"shots", "job_priority"} <= fields
    assert raised.value.code == -32602


def test_code_type_the_backend_does_not_take(api):
    with pytest.raises(JobTypeNotSupported) as raised:
        api.submit_job(code_type="qubo", source_code=[[[1]]], backend="aer_simulator")
    assert isinstance(raised.value, InvalidPayload)
    assert (raised.value.code, raised.value.error_code) == (-400, "job_type_not_supported")


def test_matrix_over_the_backend_size_is_invalid_payload(api):
    size = api.get_backend("qubo_exact")["max_variables"] + 1
    with pytest.raises(InvalidPayload) as raised:
        api.submit_job(code_type="qubo", source_code=[[[0] * size for _ in range(size)]], backend="qubo_exact")
    assert (raised.value.code, raised.value.error_code) == (-400, "invalid_payload")


def test_reused_job_id_is_a_conflict(api):
    job = bell(api)
    with pytest.raises(Conflict) as raised:
        bell(api, job_id=job["job_id"])
    assert (raised.value.code, raised.value.error_code) == (-409, "conflict")


def test_priority_change_of_a_finished_job_is_invalid_state(api):
    job = api.submit(code_type="qasm2", source_code=[BELL], backend="dummy")
    job.wait_for_final_state(timeout=60)
    with pytest.raises(InvalidState) as raised:
        api.update_job(job.job_id(), job_priority=1)
    assert raised.value.error_code == "invalid_state"


def test_project_quota_is_quota_exceeded(portal, paused_dummy):
    capped = as_(portal, portal.capped)
    bell(capped)
    with pytest.raises(QuotaExceeded) as raised:
        bell(capped)
    assert (raised.value.code, raised.value.error_code) == (-429, "quota_exceeded")


def test_offline_backend_is_unavailable(api):
    from backends.models import Backend
    from backends.services import backend_set_status

    backend_set_status(backend=Backend.objects.get(name="dummy"), status="offline")
    with pytest.raises(BackendUnavailable) as raised:
        bell(api)
    assert raised.value.code == -503


def test_every_exception_is_a_portal_error_with_the_answered_data(api):
    with pytest.raises(PortalError) as raised:
        api.get_job_status(uuid.uuid4())
    assert raised.value.data["error_code"] == "not_found" and raised.value.details


def test_url_and_token_come_from_the_environment(portal, monkeypatch):
    monkeypatch.setenv("PORTAL_URL", portal.url + "/")
    monkeypatch.setenv("PORTAL_TOKEN", portal.bob.token)
    client = PortalClient()
    assert client.url == portal.url and client.get_backends()
    monkeypatch.delenv("PORTAL_URL")
    with pytest.raises(TypeError, match="PORTAL_URL"):
        PortalClient()


def test_seed_style_body_and_filters_dicts(api):
    """Code written for seed 000 holds its fields as dicts; they go as they are, keywords on top."""
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "job_name": "seed", "tags": ["s"]}
    job = api.submit_job(body, shots=10)
    assert (job["job_name"], job["shots"], job["tags"]) == ("seed", 10, ["s"])
    assert [found["job_id"] for found in api.get_jobs({"tags": ["s"], "code_type": "qasm2"})] == [job["job_id"]]
    assert api.get_jobs({"tags": ["s"]}, backend="qubo_sa") == []
    with pytest.raises(InvalidParams) as raised:
        api.submit_job({**body, "shot": 5})
    assert "shot" in str(raised.value)
