"""The REST API of jobs (/api/v1/jobs/): CRUD, filters, errors, tenancy, query counts, browsable pages."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from backends.models import Backend
from jobs import queues, services
from jobs.models import Job
from jobs.services.state import transition
from projects.models import Role
from projects.services import token_revoke
from tests.conftest import result_of
from tests.factories import BELL, make_tenant, make_user

pytestmark = pytest.mark.django_db

JOBS = "/api/v1/jobs/"


@pytest.fixture
def api(django_capture_on_commit_callbacks):
    """Call the REST API as ``who`` (Bearer token); on-commit callbacks (enqueueing) run as after a commit."""

    def call(method, path, body=None, *, who=None, params=None, **extra):
        client = APIClient()
        if who is not None:
            client.credentials(**who.auth)
        with django_capture_on_commit_callbacks(execute=True):
            if method == "get":
                return client.get(path, params, **extra)
            return getattr(client, method)(path, body, format="json", **extra)

    return call


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


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "error_code", "message", "data"}
    return body["error"]


def assert_untouched(job_id: str) -> None:
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.job_name, job.job_priority) == ("QUEUED", "private", 5)
    assert job.source_code == [BELL]


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
    assert error["data"]["errors"] == [{"field": "shotz", "message": "unknown field"}]


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
    """Only a QUEUED job can be cancelled: a finished one is a 409 invalid_state naming its status."""
    job = create(tenant)
    run_worker()
    error = error_of(api("post", f"{JOBS}{job['job_id']}/cancel/", who=tenant), 409)
    assert error["error_code"] == "invalid_state"
    assert "COMPLETED" in error["message"]


# --- list: visibility, filters, ordering, pagination ----------------------------------------------


def test_list_newest_first(create, api, tenant):
    """The list is newest first."""
    first, second = create(tenant), create(tenant)
    assert listed(api, tenant) == [second["job_id"], first["job_id"]]


def test_list_project_admin_sees_members_jobs(api, create, tenant):
    """A project admin lists every member's jobs of the project; a fellow member only their own."""
    admin = make_tenant(project=tenant.project, role=Role.ADMIN)
    colleague = make_tenant(project=tenant.project)
    job = create(tenant)
    assert listed(api, admin) == [job["job_id"]]
    assert listed(api, colleague) == []


def test_list_staff_see_every_job(api, create, tenant, other_tenant, staff):
    """Operators list the jobs of every project."""
    a, b = create(tenant), create(other_tenant)
    assert set(listed(api, staff)) == {a["job_id"], b["job_id"]}


def test_list_never_shows_other_tenants_jobs(api, create, tenant, other_tenant):
    """Another tenant's job is not listed, whatever the filter asks for."""
    job = create(tenant, tags=["secret"])
    assert listed(api, other_tenant) == []
    assert listed(api, other_tenant, job_id=job["job_id"]) == []
    assert listed(api, other_tenant, tag="secret") == []
    assert listed(api, other_tenant, project=str(tenant.project.project_id)) == []
    assert listed(api, other_tenant, user=str(tenant.user.user_id)) == []


@pytest.fixture
def mix(create, tenant, run_worker):
    """Three jobs: a COMPLETED qasm2 on dummy, a QUEUED qasm on aer_simulator, a QUEUED qasm3 on dummy."""
    done = create(tenant, tags=["exp1", "circuit1"], job_name="bell pair", job_priority=3)
    run_worker()
    aer = create(tenant, tags=["exp1"], backend="aer_simulator", code_type="qasm", description="a GHZ attempt")
    q3 = create(tenant, code_type="qasm3", source_code=["OPENQASM 3.0;\nqubit q;\n"], job_priority=7)
    return {"done": done["job_id"], "aer": aer["job_id"], "q3": q3["job_id"]}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "COMPLETED"}, {"done"}),
        ({"status": ["COMPLETED", "QUEUED"]}, {"done", "aer", "q3"}),
        ({"backend": "aer_simulator"}, {"aer"}),
        ({"code_type": "qasm3"}, {"q3"}),
        ({"tag": "exp1"}, {"done", "aer"}),
        ({"tag": ["exp1", "circuit1"]}, {"done"}),
        ({"q": "PAIR"}, {"done"}),
        ({"q": "ghz"}, {"aer"}),
        ({"tag": "exp1", "status": "QUEUED"}, {"aer"}),
    ],
)
def test_list_filter(api, tenant, mix, params, expected):
    """Each filter, repeatable status and tag (a job must carry all tags), q in name or description."""
    assert set(listed(api, tenant, **params)) == {mix[name] for name in expected}


def test_list_filter_by_job_id(api, tenant, mix):
    """job_id is repeatable."""
    assert set(listed(api, tenant, job_id=[mix["done"], mix["q3"]])) == {mix["done"], mix["q3"]}


def test_list_filter_by_project(api, create, tenant):
    """project narrows the list to one project's jobs."""
    second = make_tenant(role=Role.MEMBER)
    from projects.services import membership_set

    membership_set(project=second.project, user=tenant.user)
    here = create(tenant, project_id=str(tenant.project.project_id))
    there = create(tenant, project_id=str(second.project.project_id))
    assert listed(api, tenant, project=str(tenant.project.project_id)) == [here["job_id"]]
    assert listed(api, tenant, project=str(second.project.project_id)) == [there["job_id"]]


def test_list_filter_by_user(api, create, tenant):
    """user narrows a project admin's list to one member's jobs."""
    admin = make_tenant(project=tenant.project, role=Role.ADMIN)
    mine = create(admin)
    theirs = create(tenant)
    assert listed(api, admin, user=str(tenant.user.user_id)) == [theirs["job_id"]]
    assert listed(api, admin, user=str(admin.user.user_id)) == [mine["job_id"]]


def test_list_filter_by_dates(api, create, tenant):
    """created_after is inclusive, created_before exclusive; offsets and Z both parse."""
    old, new = create(tenant), create(tenant)
    Job.objects.filter(pk=old["job_id"]).update(created_at=datetime(2025, 1, 1, 12, tzinfo=UTC))
    Job.objects.filter(pk=new["job_id"]).update(created_at=datetime(2025, 3, 1, 12, tzinfo=UTC))
    assert listed(api, tenant, created_after="2025-03-01T12:00:00+00:00") == [new["job_id"]]
    assert listed(api, tenant, created_before="2025-03-01T12:00:00Z") == [old["job_id"]]
    between = {"created_after": "2025-01-01T00:00:00Z", "created_before": "2025-02-01T00:00:00+01:00"}
    assert listed(api, tenant, **between) == [old["job_id"]]


def test_list_leaves_out_deleted_unless_asked(api, create, tenant):
    """DELETED jobs are left out unless status asks for them."""
    job = create(tenant)
    api("delete", f"{JOBS}{job['job_id']}/", who=tenant)
    assert listed(api, tenant) == []
    assert listed(api, tenant, status="DELETED") == [job["job_id"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "FINISHED"}, "status"),
        ({"code_type": "python"}, "code_type"),
        ({"project": "not-a-uuid"}, "project"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"ordering": "shots"}, "ordering"),
        ({"page_size": "1001"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
    ],
)
def test_list_bad_parameter_is_named(api, tenant, params, field):
    """A filter, ordering or page size that cannot be understood is a 400 naming it."""
    error = error_of(api("get", JOBS, who=tenant, params=params), 400)
    assert error["error_code"] == "invalid_params"
    assert [e["field"] for e in error["data"]["errors"]] == [field]


def test_list_ordering(api, tenant, mix):
    """ordering: oldest first, by priority (1 first), by end time (unfinished last)."""
    assert listed(api, tenant, ordering="created_at") == [mix["done"], mix["aer"], mix["q3"]]
    assert listed(api, tenant, ordering="job_priority") == [mix["done"], mix["aer"], mix["q3"]]
    assert listed(api, tenant, ordering="-job_priority") == [mix["q3"], mix["aer"], mix["done"]]
    assert listed(api, tenant, ordering="ended_at")[0] == mix["done"]
    assert listed(api, tenant, ordering="-ended_at")[0] == mix["done"]


def test_list_ordering_ties_are_stable(api, create, tenant):
    """Jobs with the same sort key keep one order across pages: none repeated, none skipped."""
    ids = {create(tenant)["job_id"] for _ in range(5)}
    Job.objects.update(created_at=datetime(2025, 1, 1, tzinfo=UTC))
    pages = [listed(api, tenant, ordering="created_at", page_size=2, page=page) for page in (1, 2, 3)]
    assert sorted(sum(pages, [])) == sorted(ids)


def test_pagination_page_size_and_next(api, create, tenant):
    """page_size cuts the list; next links the following page, and is null on the last."""
    ids = [create(tenant)["job_id"] for _ in range(5)][::-1]
    first = api("get", JOBS, who=tenant, params={"page_size": 2}).json()
    assert first["count"] == 5
    assert [j["job_id"] for j in first["results"]] == ids[:2]
    assert first["previous"] is None
    assert "page=2" in first["next"] and "page_size=2" in first["next"]
    second = api("get", first["next"], who=tenant).json()
    assert [j["job_id"] for j in second["results"]] == ids[2:4]
    last = api("get", second["next"], who=tenant).json()
    assert [j["job_id"] for j in last["results"]] == ids[4:]
    assert last["next"] is None


def test_pagination_keeps_filters_in_next(api, create, tenant):
    """The next link carries the filters of the first page."""
    for _ in range(3):
        create(tenant, tags=["keep"])
    create(tenant)
    first = api("get", JOBS, who=tenant, params={"page_size": 2, "tag": "keep"}).json()
    assert first["count"] == 3
    assert len(api("get", first["next"], who=tenant).json()["results"]) == 1


def test_pagination_default_and_maximum(api, tenant):
    """Without page_size a page holds 100 jobs; 1000 is allowed; a page past the end is a 404."""
    spec = services.JobSpec(code_type="qasm2", source_code=[BELL], backend="dummy")
    for _ in range(101):
        services.job_submit(user=tenant.user, project=tenant.project, spec=spec)
    assert len(api("get", JOBS, who=tenant).json()["results"]) == 100
    assert len(api("get", JOBS, who=tenant, params={"page_size": 1000}).json()["results"]) == 101
    assert error_of(api("get", JOBS, who=tenant, params={"page": 3}), 404)["error_code"] == "not_found"


# --- tenant isolation -----------------------------------------------------------------------------


@pytest.fixture
def foreign_job(create, tenant):
    """A QUEUED job of ``tenant``; ``other_tenant`` must not reach it."""
    return create(tenant, job_name="private", tags=["secret"])


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("get", "results/", None),
        ("patch", "", {"job_name": "pwned", "job_priority": 1}),
        ("delete", "", None),
        ("post", "cancel/", None),
    ],
)
def test_other_tenants_job_not_found(api, other_tenant, foreign_job, method, suffix, body):
    """Every endpoint answers 404 for another tenant's job, the same as for a missing one, and changes nothing."""
    response = api(method, f"{JOBS}{foreign_job['job_id']}/{suffix}", body, who=other_tenant)
    error = error_of(response, 404)
    missing = error_of(api(method, f"{JOBS}{uuid.uuid4()}/{suffix}", body, who=other_tenant), 404)
    assert error["error_code"] == missing["error_code"] == "not_found"
    assert_untouched(foreign_job["job_id"])


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"job_name": "pwned"}),
        ("delete", "", None),
        ("post", "cancel/", None),
    ],
)
def test_fellow_member_does_not_reach_it(api, tenant, foreign_job, method, suffix, body):
    """A plain member of the same project does not reach a colleague's job either."""
    colleague = make_tenant(project=tenant.project)
    assert api(method, f"{JOBS}{foreign_job['job_id']}/{suffix}", body, who=colleague).status_code == 404
    assert_untouched(foreign_job["job_id"])


def test_project_admin_manages_members_job(api, tenant, foreign_job):
    """The project's admin reads, updates and cancels a member's job (SPEC §7)."""
    admin = make_tenant(project=tenant.project, role=Role.ADMIN)
    path = f"{JOBS}{foreign_job['job_id']}/"
    assert api("get", path, who=admin).json()["job_name"] == "private"
    assert api("patch", path, {"job_name": "renamed"}, who=admin).json()["job_name"] == "renamed"
    assert api("post", f"{path}cancel/", who=admin).json()["job_status"] == "CANCELLED"


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


# --- query counts ---------------------------------------------------------------------------------


def _queries_for_list(api, who, path: str) -> int:
    api("get", path, who=who)  # the token's last_used_at is written on its first use, not later
    with CaptureQueriesContext(connection) as queries:
        response = api("get", path, who=who)
    assert response.status_code == 200
    return len(queries)


def test_list_query_count_does_not_grow(api, tenant, django_assert_max_num_queries):
    """Listing 30 jobs with tags costs the queries of listing 3."""
    spec = services.JobSpec(code_type="qasm2", source_code=[BELL], backend="dummy", tags=["a", "b"])
    for _ in range(3):
        services.job_submit(user=tenant.user, project=tenant.project, spec=spec)
    few = _queries_for_list(api, tenant, JOBS)
    for _ in range(27):
        services.job_submit(user=tenant.user, project=tenant.project, spec=spec)
    with django_assert_max_num_queries(few):
        assert len(api("get", JOBS, who=tenant).json()["results"]) == 30
    assert few <= 4


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
