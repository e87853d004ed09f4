"""The REST API of jobs (/api/v1/jobs/): create, read, update, delete, cancel, errors, the browsable pages.
(The list, its filters and tenancy: test_api_lists.py.)"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from backends.models import Backend
from jobs import queues, services
from jobs.models import Job
from jobs.services import job_start
from jobs.services.state import transition
from projects.services import token_revoke
from tests.conftest import rest_error_of as error_of
from tests.conftest import result_of
from tests.factories import BELL, make_user
from tests.jobs.conftest import JOBS

pytestmark = pytest.mark.django_db

# --- create ---------------------------------------------------------------------------------------


def test_create_answers_the_full_job(api, tenant):
    """POST answers 201 with the whole job as submit_job does, a Location, and the job waiting in its queue."""
    response = api("post", JOBS, {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}, who=tenant)
    assert response.status_code == 201
    job = response.json()
    assert job["job_status"] == "QUEUED"
    assert job["source_code"] == [BELL]
    assert job["project_id"] == str(tenant.project.project_id)
    assert response["Location"] == f"{JOBS}{job['job_id']}/"
    assert queues.position(job["job_id"], 5) == 1


def test_create_runs_on_a_worker(api, create, tenant, run_worker):
    """A job submitted over REST is run by a worker; its results read back over REST."""
    job = create(tenant, shots=50)
    run_worker()
    results = api("get", f"{JOBS}{job['job_id']}/results/", who=tenant).json()
    assert results["job_status"] == "COMPLETED"
    assert sum(results["results"][0]["results"].values()) == 50


def test_create_same_answer_as_submit_job(create, submit, tenant):
    """POST /jobs/ and submit_job answer the same field set."""
    assert set(create(tenant)) == set(submit(tenant))


def test_create_compression_alias(create, tenant):
    """code_compression_level is accepted for code_compress_level, as in JSON-RPC."""
    job = create(tenant, code_compression_level=5)
    assert job["code_compress_level"] == 5
    assert Job.objects.get(pk=job["job_id"]).source_code == [BELL]


def test_create_unknown_field_is_named(api, tenant):
    """An unknown field is a 400 invalid_params naming it."""
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "shotz": 10}
    error = error_of(api("post", JOBS, body, who=tenant), 400)
    assert error["error_code"] == "invalid_params"
    assert error["code"] == -32602
    assert error["data"]["errors"] == [
        {"field": "shotz", "message": "unknown field", "msg": "unknown field", "loc": ["shotz"]}
    ]


def test_create_bad_fields_each_named(api, tenant):
    """Missing and invalid fields are each listed with their names."""
    error = error_of(api("post", JOBS, {"source_code": [], "shots": "5"}, who=tenant), 400)
    fields = {e["field"] for e in error["data"]["errors"]}
    assert fields == {"code_type", "backend", "source_code", "shots"}
    assert Job.objects.count() == 0


def test_create_bad_entry_is_named(api, tenant):
    """A malformed QUBO matrix names its entry."""
    body = {"code_type": "qubo", "source_code": [[[1, 2], [3]]], "backend": "qubo_sa"}
    error = error_of(api("post", JOBS, body, who=tenant), 400)
    assert error["data"]["errors"][0]["field"] == "source_code[0]"


def test_create_malformed_json(tenant):
    """A body that is not JSON is a 400 parse_error."""
    client = APIClient()
    client.credentials(**tenant.auth)
    response = client.post(JOBS, "{not json", content_type="application/json")
    assert error_of(response, 400)["error_code"] == "parse_error"


def test_create_form_body_refused(tenant):
    """The API takes JSON bodies only: a form post is a 415."""
    client = APIClient()
    client.credentials(**tenant.auth)
    error = error_of(client.post(JOBS, {"code_type": "qasm2"}, format="multipart"), 415)
    assert error["error_code"] == "unsupported_media_type"


def test_create_unknown_backend_not_found(api, tenant):
    """A backend that does not exist is a 404 not_found, as JSON-RPC's -404."""
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "nope"}
    error = error_of(api("post", JOBS, body, who=tenant), 404)
    assert (error["code"], error["error_code"]) == (-404, "not_found")


def test_create_offline_backend_unavailable(api, tenant):
    """An offline backend refuses the job: 503 backend_unavailable."""
    Backend.objects.filter(name="dummy").update(status="offline")
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}
    assert error_of(api("post", JOBS, body, who=tenant), 503)["error_code"] == "backend_unavailable"


def test_create_duplicate_job_id_conflicts(api, create, tenant):
    """Reusing a job_id is a 409 conflict."""
    job = create(tenant)
    body = {"job_id": job["job_id"], "code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}
    assert error_of(api("post", JOBS, body, who=tenant), 409)["error_code"] == "conflict"


def test_create_over_quota(api, create, tenant):
    """Over the project's queued-jobs quota: 429 quota_exceeded."""
    tenant.project.max_queued_jobs = 1
    tenant.project.save()
    create(tenant)
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}
    assert error_of(api("post", JOBS, body, who=tenant), 429)["error_code"] == "quota_exceeded"


def test_create_in_foreign_project_not_found(api, tenant, other_tenant):
    """Submitting to a project one is not a member of reads as not found, and stores nothing."""
    body = {
        "code_type": "qasm2",
        "source_code": [BELL],
        "backend": "dummy",
        "project_id": str(tenant.project.project_id),
    }
    assert error_of(api("post", JOBS, body, who=other_tenant), 404)["error_code"] == "not_found"
    assert Job.objects.count() == 0


# --- read, update, delete, cancel -------------------------------------------------------------------


def test_retrieve_same_as_get_job_status(api, rpc, create, tenant):
    """GET /jobs/{id}/ carries the same fields and values as get_job_status, queue position included."""
    job = create(tenant, tags=["a"], job_name="same")
    rest = api("get", f"{JOBS}{job['job_id']}/", who=tenant).json()
    assert rest == result_of(rpc("get_job_status", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert rest["queue_position"] == 1


def test_results_same_as_get_job_results(api, rpc, create, tenant, run_worker):
    """GET /jobs/{id}/results/ carries the same fields and values as get_job_results."""
    job = create(tenant, profiling=["driver:run"])
    run_worker()
    rest = api("get", f"{JOBS}{job['job_id']}/results/", who=tenant).json()
    assert rest == result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert rest["results"][0]["profiling"]["driver:run"] >= 0


def test_list_items_same_as_get_jobs(api, rpc, create, tenant, run_worker):
    """The REST list and get_jobs answer the same summaries, in the same order."""
    create(tenant, tags=["x", "y"])
    run_worker()
    create(tenant, job_name="second")
    rest = api("get", JOBS, who=tenant).json()["results"]
    assert rest == result_of(rpc("get_jobs", {}, who=tenant))


def test_retrieve_unknown_job_not_found(api, tenant):
    """An id that is no job, or no UUID at all, is a 404 in the error shape."""
    assert error_of(api("get", f"{JOBS}{uuid.uuid4()}/", who=tenant), 404)["error_code"] == "not_found"
    assert error_of(api("get", f"{JOBS}not-a-uuid/", who=tenant), 404)["error_code"] == "not_found"


def test_patch_updates_fields(api, create, tenant):
    """PATCH renames, describes, retags and re-prioritises a QUEUED job, which moves to its new queue."""
    job = create(tenant, tags=["old"])
    body = {"job_name": "renamed", "description": "why", "tags": ["new", "tags"], "job_priority": 2}
    response = api("patch", f"{JOBS}{job['job_id']}/", body, who=tenant)
    assert response.status_code == 200
    answer = response.json()
    assert (answer["job_name"], answer["description"], answer["tags"]) == ("renamed", "why", ["new", "tags"])
    assert answer["job_priority"] == 2
    assert queues.position(job["job_id"], 2) == 1
    assert queues.position(job["job_id"], 5) is None


def test_patch_priority_of_finished_job_conflicts(api, create, tenant, run_worker):
    """A finished job's priority cannot change: 409 invalid_state."""
    job = create(tenant)
    run_worker()
    error = error_of(api("patch", f"{JOBS}{job['job_id']}/", {"job_priority": 1}, who=tenant), 409)
    assert error["error_code"] == "invalid_state"
    assert Job.objects.get(pk=job["job_id"]).job_priority == 5


def test_patch_refuses_other_fields(api, create, tenant):
    """PATCH takes update_job's fields only: job_id (in the URL) and shots are named as unknown."""
    job = create(tenant)
    error = error_of(api("patch", f"{JOBS}{job['job_id']}/", {"job_id": job["job_id"], "shots": 5}, who=tenant), 400)
    assert {e["field"] for e in error["data"]["errors"]} == {"job_id", "shots"}


def test_put_not_allowed(api, create, tenant):
    """Jobs are changed with PATCH; PUT is a 405 in the error shape."""
    job = create(tenant)
    assert error_of(api("put", f"{JOBS}{job['job_id']}/", {"job_name": "x"}, who=tenant), 405)["code"] == -405


def test_delete_queued_job(api, create, tenant, run_worker):
    """DELETE answers 204; the job is a DELETED tombstone its owner still reads, and never runs."""
    job = create(tenant)
    assert api("delete", f"{JOBS}{job['job_id']}/", who=tenant).status_code == 204
    assert run_worker() == 0
    tombstone = api("get", f"{JOBS}{job['job_id']}/", who=tenant).json()
    assert tombstone["job_status"] == "DELETED"
    assert api("get", f"{JOBS}{job['job_id']}/results/", who=tenant).json()["source_code"] is None


def test_delete_again_is_no_content(api, create, tenant):
    """Deleting a deleted job again is a 204 as well."""
    job = create(tenant)
    api("delete", f"{JOBS}{job['job_id']}/", who=tenant)
    assert api("delete", f"{JOBS}{job['job_id']}/", who=tenant).status_code == 204


@pytest.mark.parametrize("status", ["RUNNING", "CANCELLING"])
def test_delete_running_job_conflicts(api, create, tenant, status):
    """A RUNNING or CANCELLING job cannot be deleted: 409 invalid_state, and it is left as it was."""
    job = create(tenant)
    services.job_start(job_id=job["job_id"])
    if status == "CANCELLING":  # an operator's force-stop, caught half way
        transition(job["job_id"], allowed=["RUNNING"], to="CANCELLING")
    error = error_of(api("delete", f"{JOBS}{job['job_id']}/", who=tenant), 409)
    assert error["error_code"] == "invalid_state"
    assert status in error["message"]
    stored = Job.objects.get(pk=job["job_id"])
    assert stored.status == status
    assert stored.source_code == [BELL]


def test_cancel_queued_job(api, create, tenant, run_worker):
    """POST cancel/ answers the job CANCELLED; it leaves its queue and never runs."""
    job = create(tenant)
    response = api("post", f"{JOBS}{job['job_id']}/cancel/", who=tenant)
    assert response.status_code == 200
    assert response.json()["job_status"] == "CANCELLED"
    assert response.json()["queue_position"] is None
    assert run_worker() == 0


def test_cancel_finished_job_conflicts(api, create, tenant, run_worker):
    """Only a QUEUED job can be cancelled: one that has ended is a 409 job_not_submitted_to_qc (IQM's
    CancelJobV1), naming its status; a running one a 409 invalid_state."""
    job = create(tenant)
    run_worker()
    error = error_of(api("post", f"{JOBS}{job['job_id']}/cancel/", who=tenant), 409)
    assert error["error_code"] == "job_not_submitted_to_qc"
    assert "COMPLETED" in error["message"]
    running = create(tenant)
    job_start(job_id=running["job_id"])
    error = error_of(api("post", f"{JOBS}{running['job_id']}/cancel/", who=tenant), 409)
    assert error["error_code"] == "invalid_state" and "RUNNING" in error["message"]


# --- authentication, rate limit, errors -----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [JOBS, f"{JOBS}{uuid.uuid4()}/", "/api/v1/projects/", "/api/v1/backends/", "/api/v1/tokens/", "/api/v1/"],
)
def test_no_token_is_unauthenticated(path):
    """Without credentials every endpoint answers 401 with a Bearer challenge."""
    response = APIClient().get(path)
    error = error_of(response, 401)
    assert (error["code"], error["error_code"]) == (-401, "unauthenticated")
    assert response["WWW-Authenticate"] == "Bearer"


def test_bad_token_is_unauthenticated(db):
    """An unknown token is a 401; it never falls back to anything else."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer qp_not_a_real_token")
    error = error_of(client.get(JOBS), 401)
    assert error["message"] == "Invalid API token."


def test_revoked_token_is_unauthenticated(api, tenant):
    """A revoked token is refused at once."""
    token = tenant.user.api_tokens.get()
    token_revoke(token=token)
    assert error_of(api("get", JOBS, who=tenant), 401)["message"] == "This API token has been revoked."


def test_rate_limit_applies_to_rest(api, tenant, settings):
    """Over the per-token rate a REST call is a 429 rate_limited with retry_after and a Retry-After header."""
    settings.RATE_LIMIT_REQUESTS, settings.RATE_LIMIT_WINDOW = 2, 3600
    assert api("get", JOBS, who=tenant).status_code == 200
    assert api("get", JOBS, who=tenant).status_code == 200
    response = api("get", JOBS, who=tenant)
    error = error_of(response, 429)
    assert error["error_code"] == "rate_limited"
    assert 1 <= error["data"]["retry_after"] <= 3600
    assert response["Retry-After"] == str(error["data"]["retry_after"])


def test_rate_limit_shared_with_json_rpc(api, rpc, tenant, settings):
    """REST and JSON-RPC calls count against the same per-token limit."""
    settings.RATE_LIMIT_REQUESTS, settings.RATE_LIMIT_WINDOW = 2, 3600
    rpc("get_jobs", {}, who=tenant)
    rpc("get_jobs", {}, who=tenant)
    assert error_of(api("get", JOBS, who=tenant), 429)["error_code"] == "rate_limited"


def test_unexpected_error_is_a_500_with_a_reference(api, tenant, monkeypatch, caplog):
    """A bug answers 500 internal_error with a reference the log shows too, and no internals."""

    def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("jobs.api.views.job_get_for_user", broken)
    with caplog.at_level(logging.ERROR, logger="portal.rest"):
        response = api("get", f"{JOBS}{uuid.uuid4()}/", who=tenant)
    error = error_of(response, 500)
    assert error["error_code"] == "internal_error"
    ref = error["data"]["ref"]
    assert ref in error["message"]
    assert ref in caplog.text and "secret internals" in caplog.text
    assert "secret internals" not in response.content.decode()
    assert "Traceback" not in response.content.decode()


# --- the browsable API ----------------------------------------------------------------------------


def test_browsable_api_with_session(client, create, tenant):
    """A signed-in session browses /api/v1/jobs/ as HTML."""
    create(tenant, job_name="browsable-job")
    client.force_login(tenant.user)
    response = client.get(JOBS, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "browsable-job" in response.content.decode()


def test_browsable_job_page_with_session(client, create, tenant):
    """A job's own page renders as HTML, with its PATCH form."""
    job = create(tenant, job_name="one-job")
    client.force_login(tenant.user)
    response = client.get(f"{JOBS}{job['job_id']}/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert "one-job" in response.content.decode()


def test_login_view_signs_in(client, db):
    """DRF's login view at /api/auth/login/ signs a user in for the browsable API."""
    user = make_user("browser", password="a long enough password")
    page = client.get("/api/auth/login/")
    assert page.status_code == 200
    response = client.post(
        "/api/auth/login/", {"username": "browser", "password": "a long enough password", "next": JOBS}
    )
    assert response.status_code == 302 and response["Location"] == JOBS
    assert client.get(JOBS, HTTP_ACCEPT="application/json").status_code == 200
    assert int(client.session["_auth_user_id"]) == user.pk


def test_session_write_needs_csrf(tenant):
    """With the session, a write without the CSRF token is refused (403); reads are fine."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(tenant.user)
    assert client.get(JOBS).status_code == 200
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}
    error = error_of(client.post(JOBS, body, format="json"), 403)
    assert error["error_code"] == "permission_denied"
    assert "CSRF" in error["message"]
    assert Job.objects.count() == 0


def test_api_root_lists_the_endpoints(api, tenant):
    """/api/v1/ links every collection."""
    root = api("get", "/api/v1/", who=tenant).json()
    assert {"jobs", "projects", "backends", "tokens"} <= set(root)


def test_dates_in_answers_keep_the_offset(create, tenant):
    """Timestamps read as JSON-RPC writes them: ISO 8601 with +00:00."""
    job = create(tenant)
    assert job["created_at"].endswith("+00:00")
    assert datetime.fromisoformat(job["created_at"]) - datetime.now(UTC) < timedelta(minutes=1)
