"""IBM's share_level: a job shared with its project ("project") is readable by every member of the
project, and changeable still only by its owner, the project's admins and operators; "none" (the
default) keeps it to them. Outside the project it is not found either way."""

from __future__ import annotations

import pytest

from jobs.models import Job
from projects.models import Role
from projects.services import membership_remove
from tests.conftest import error_of, result_of
from tests.factories import BELL, complete, make_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def colleague(tenant):
    """Another member of ``tenant``'s project."""
    return make_tenant(project=tenant.project)


def test_a_shared_job_is_readable_by_the_projects_members_only(rpc, submit, tenant, colleague, client):
    shared = submit(tenant, share_level="project")
    private = submit(tenant)
    assert (shared["share_level"], private["share_level"]) == ("project", "none")
    complete(Job.objects.get(pk=shared["job_id"]))
    for method in ("get_job_status", "get_job_results", "get_job_payload"):
        assert (
            result_of(rpc(method, {"body": {"job_id": shared["job_id"]}}, who=colleague))["job_id"] == shared["job_id"]
        )
        assert error_of(rpc(method, {"body": {"job_id": private["job_id"]}}, who=colleague))["code"] == -404
    outsider = make_tenant()
    assert error_of(rpc("get_job_status", {"body": {"job_id": shared["job_id"]}}, who=outsider))["code"] == -404
    client.force_login(colleague.user)
    assert client.get(f"/jobs/{shared['job_id']}/").status_code == 200
    assert client.get(f"/jobs/{private['job_id']}/").status_code == 404


def test_a_member_reading_a_shared_job_cannot_change_it(rpc, api, submit, tenant, colleague):
    job = submit(tenant, share_level="project", job_name="mine")
    body = {"body": {"job_id": job["job_id"]}}
    assert (
        error_of(rpc("update_job", {"body": {"job_id": job["job_id"], "job_name": "theirs"}}, who=colleague))["code"]
        == -403
    )
    assert result_of(rpc("cancel_jobs", {"body": {"job_ids": [job["job_id"]]}}, who=colleague)) == []
    assert result_of(rpc("delete_jobs", {"body": {"job_ids": [job["job_id"]]}}, who=colleague)) == []
    assert (
        error_of(rpc("cancel_job_entries", {"body": {"job_id": job["job_id"], "indexes": [0]}}, who=colleague))["code"]
        == -403
    )
    for method, path in (("post", "cancel/"), ("delete", ""), ("patch", "")):
        response = api(method, f"/api/v1/jobs/{job['job_id']}/{path}", {"job_name": "x"} if method == "patch" else None,
                       who=colleague)  # fmt: skip
        assert response.status_code == 403, (method, path, response.content)
    stored = Job.objects.get(pk=job["job_id"])
    assert (stored.status, stored.job_name) == ("QUEUED", "mine")
    assert result_of(rpc("get_job_status", body, who=colleague))["job_status"] == "QUEUED"


def test_the_projects_admin_still_changes_a_shared_job(rpc, submit, tenant):
    admin = make_tenant(project=tenant.project, role=Role.ADMIN)
    job = submit(tenant, share_level="project")
    assert [j["job_id"] for j in result_of(rpc("cancel_jobs", {"body": {"job_ids": [job["job_id"]]}}, who=admin))] == [
        job["job_id"]
    ]


def test_leaving_the_project_ends_the_sharing(rpc, submit, tenant, colleague):
    job = submit(tenant, share_level="project")
    membership_remove(project=tenant.project, user=colleague.user)
    assert error_of(rpc("get_job_status", {"body": {"job_id": job["job_id"]}}, who=colleague))["code"] == -404


def test_share_level_is_one_of_none_and_project(rpc, tenant):
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "share_level": "world"}
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -32602 and error["data"]["errors"][0]["field"] == "share_level"
