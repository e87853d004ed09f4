"""A token bound to a project acts only within it, on every face (SPEC §7): it reads, lists, changes
and follows only that project's jobs, lists only that project, and a token it creates is bound to
the same project. The caller below administers p1 and is a member of p2; its token is bound to p2.
Each case is checked twice: the unbound token of the same user reaches p1, the bound one does not.
"""

from __future__ import annotations

import json

import pytest

from jobs.services import JobSpec, job_submit
from projects.models import ApiToken, Role
from projects.services import membership_set, token_create
from tests.conftest import error_of, result_of
from tests.factories import BELL, Tenant, make_project, make_tenant, make_user

pytestmark = pytest.mark.django_db


class Setup:
    def __init__(self):
        self.p1, self.p2 = make_project("p1"), make_project("p2")
        user = make_user("both")
        membership_set(project=self.p1, user=user, role=Role.ADMIN)
        membership_set(project=self.p2, user=user, role=Role.MEMBER)
        self.unbound = Tenant(user=user, project=self.p1, token=token_create(user=user)[1])
        self.bound = Tenant(user=user, project=self.p2, token=token_create(user=user, project=self.p2)[1])
        self.colleague = make_tenant(project=self.p1)  # another member of p1, whose job the admin sees
        self.j1 = self._submit(user, self.p1)
        self.j1_colleague = self._submit(self.colleague.user, self.p1)
        self.j2 = self._submit(user, self.p2)

    @staticmethod
    def _submit(user, project):
        spec = JobSpec(code_type="qasm2", source_code=[BELL], backend="dummy")
        return str(job_submit(user=user, project=project, spec=spec).job_id)


@pytest.fixture
def s() -> Setup:
    return Setup()


@pytest.fixture
def rest(client):
    def call(method: str, url: str, who: Tenant, body=None):
        kwargs = {"content_type": "application/json", "data": json.dumps(body)} if body is not None else {}
        return getattr(client, method)(url, **kwargs, **who.auth)

    return call


# --- JSON-RPC ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,params",
    [
        ("get_job_status", lambda s: {"job_id": s.j1}),
        ("get_job_results", lambda s: {"job_id": s.j1}),
        ("update_job", lambda s: {"job_id": s.j1, "job_name": "renamed"}),
    ],
)
def test_rpc_a_bound_token_does_not_find_another_projects_job(rpc, s, method, params):
    """Reading or renaming a p1 job with the p2 token: -404, as for a missing job."""
    assert "result" in rpc(method, {"body": params(s)}, who=s.unbound)
    assert error_of(rpc(method, {"body": params(s)}, who=s.bound))["code"] == -404


@pytest.mark.parametrize("method", ["cancel_jobs", "delete_jobs"])
def test_rpc_a_bound_token_cannot_cancel_or_delete_another_projects_job(rpc, s, method):
    """cancel_jobs / delete_jobs leave the p1 job out of the answer and untouched."""
    assert result_of(rpc(method, {"body": {"job_ids": [s.j1, s.j2]}}, who=s.bound)) == [
        {"job_id": s.j2, "job_status": "CANCELLED" if method == "cancel_jobs" else "DELETED"}
    ]
    assert result_of(rpc("get_job_status", {"body": {"job_id": s.j1}}, who=s.unbound))["job_status"] == "QUEUED"


def test_rpc_get_jobs_lists_only_the_bound_project(rpc, s):
    """Every get_jobs variant answers p2's jobs only; naming p1 is not found."""
    ids = lambda answer: {job["job_id"] for job in result_of(answer)}  # noqa: E731
    assert ids(rpc("get_jobs", {}, who=s.unbound)) == {s.j1, s.j2}
    assert ids(rpc("get_jobs", {}, who=s.bound)) == {s.j2}
    assert ids(rpc("get_jobs", {"filters": {"all_users": True}}, who=s.bound)) == {s.j2}
    assert ids(rpc("get_jobs", {"filters": {"job_ids": [s.j1, s.j1_colleague]}}, who=s.bound)) == set()
    assert ids(rpc("get_jobs", {"filters": {"all_users": True, "project_id": str(s.p1.project_id)}}, who=s.unbound))
    error = error_of(rpc("get_jobs", {"filters": {"project_id": str(s.p1.project_id)}}, who=s.bound))
    assert error["code"] == -404


def test_rpc_a_bound_token_cannot_submit_elsewhere(rpc, s):
    """submit_job naming p1 with the p2 token: -404."""
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "project_id": str(s.p1.project_id)}
    assert error_of(rpc("submit_job", {"body": body}, who=s.bound))["code"] == -404


def test_rpc_a_bound_driver_token_sets_results_only_in_its_project(rpc, s):
    """set_job_results with a driver token bound to p2 on a p1 job: -404; on a p2 job it stores them."""
    operator = make_user(staff=True)
    driver = Tenant(user=operator, project=s.p2, token=token_create(user=operator, project=s.p2, scope="driver")[1])
    results = [{"results": {"0": 10}}]
    assert error_of(rpc("set_job_results", {"body": {"job_id": s.j1, "results": results}}, who=driver))["code"] == -404
    assert result_of(rpc("set_job_results", {"body": {"job_id": s.j2, "results": results}}, who=driver))


def test_rpc_a_bound_staff_token_is_confined_too(rpc, s):
    """Even an operator's token, once bound to a project, lists only that project's jobs."""
    operator = make_user(staff=True)
    bound = Tenant(user=operator, project=s.p2, token=token_create(user=operator, project=s.p2)[1])
    jobs = result_of(rpc("get_jobs", {"filters": {"all_projects": True, "all_users": True}}, who=bound))
    assert {job["job_id"] for job in jobs} == {s.j2}


# --- REST ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("get", "/api/v1/jobs/{j1}/", None),
        ("get", "/api/v1/jobs/{j1}/results/", None),
        ("patch", "/api/v1/jobs/{j1}/", {"job_name": "renamed"}),
        ("post", "/api/v1/jobs/{j1}/cancel/", {}),
        ("delete", "/api/v1/jobs/{j1}/", None),
        ("get", "/api/v1/projects/{p1}/", None),
        ("get", "/api/v1/projects/{p1}/members/", None),
    ],
)
def test_rest_a_bound_token_does_not_find_another_project(rest, s, method, path, body):
    """Every job and project endpoint answers 404 for p1 with the p2 token, and not with the unbound one."""
    url = path.format(j1=s.j1, p1=s.p1.project_id)
    assert rest(method, url, s.bound, body).status_code == 404
    assert rest(method, url, s.unbound, body).status_code in (200, 204)


def test_rest_lists_only_the_bound_project(rest, s):
    """GET /api/v1/jobs/ and /api/v1/projects/ answer p2 only."""
    jobs = rest("get", "/api/v1/jobs/", s.bound).json()["results"]
    assert {job["job_id"] for job in jobs} == {s.j2}
    projects = rest("get", "/api/v1/projects/", s.bound).json()["results"]
    assert [project["slug"] for project in projects] == ["p2"]
    assert len(rest("get", "/api/v1/projects/", s.unbound).json()["results"]) == 2


def test_rest_a_token_made_by_a_bound_token_is_bound_to_its_project(rest, s):
    """POST /api/v1/tokens/ with the p2 token: the new token is bound to p2; asking for p1 is not found."""
    made = rest("post", "/api/v1/tokens/", s.bound, {"name": "child"})
    assert made.status_code == 201 and made.json()["project_id"] == str(s.p2.project_id)
    assert ApiToken.objects.get(prefix=made.json()["token"][:10]).project_id == s.p2.pk
    elsewhere = rest("post", "/api/v1/tokens/", s.bound, {"name": "x", "project_id": str(s.p1.project_id)})
    assert elsewhere.status_code == 404


def test_rest_a_bound_token_sees_and_revokes_only_its_projects_tokens(rest, s):
    """The p2 token lists only p2-bound tokens; the unbound token is not found, so not revocable."""
    listed = rest("get", "/api/v1/tokens/", s.bound).json()["results"]
    assert {token["project_id"] for token in listed} == {str(s.p2.project_id)}
    unbound = ApiToken.objects.get(user=s.unbound.user, project=None)
    assert rest("delete", f"/api/v1/tokens/{unbound.pk}/", s.bound).status_code == 404
    assert ApiToken.objects.get(pk=unbound.pk).revoked_at is None


def test_the_binding_lives_only_as_long_as_the_request(rpc, s):
    """The unbound token of the same user, used right after the bound one, reaches p1 again."""
    assert error_of(rpc("get_job_status", {"body": {"job_id": s.j1}}, who=s.bound))["code"] == -404
    assert result_of(rpc("get_job_status", {"body": {"job_id": s.j1}}, who=s.unbound))["job_id"] == s.j1
