"""Tenant isolation for every method: another tenant's job reads as not found and is left untouched."""

from __future__ import annotations

import pytest

from jobs.models import Job
from projects.models import Role
from tests.conftest import error_of, result_of
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def foreign_job(submit, tenant):
    """A QUEUED job of ``tenant``; ``other_tenant`` must not reach it."""
    return submit(tenant, job_name="private", tags=["secret"])


def assert_untouched(job_id: str) -> None:
    job = Job.objects.get(pk=job_id)
    assert job.status == "QUEUED"
    assert job.job_name == "private"
    assert job.job_priority == 5
    assert job.source_code is not None


@pytest.mark.parametrize("method", ["get_job_status", "get_job_results"])
def test_reads_answer_not_found(rpc, other_tenant, foreign_job, method):
    """Reading another tenant's job is the same -404 as reading a job that does not exist."""
    error = error_of(rpc(method, {"body": {"job_id": foreign_job["job_id"]}}, who=other_tenant))
    assert error["code"] == -404
    assert foreign_job["job_id"] in error["message"]
    assert_untouched(foreign_job["job_id"])


def test_update_answers_not_found(rpc, other_tenant, foreign_job):
    """update_job on another tenant's job is -404 and changes nothing."""
    body = {"job_id": foreign_job["job_id"], "job_name": "pwned", "job_priority": 1, "tags": ["x"]}
    assert error_of(rpc("update_job", {"body": body}, who=other_tenant))["code"] == -404
    assert_untouched(foreign_job["job_id"])


@pytest.mark.parametrize("method", ["cancel_jobs", "delete_jobs"])
def test_bulk_actions_leave_it_out(rpc, other_tenant, foreign_job, method):
    """cancel_jobs / delete_jobs leave another tenant's job out of the answer, untouched."""
    assert result_of(rpc(method, {"body": {"job_ids": [foreign_job["job_id"]]}}, who=other_tenant)) == []
    assert_untouched(foreign_job["job_id"])


def test_get_jobs_never_lists_it(rpc, other_tenant, foreign_job):
    """get_jobs, even asked by id, tag or with all_users, never lists another tenant's job."""
    assert result_of(rpc("get_jobs", {"filters": {"job_ids": [foreign_job["job_id"]]}}, who=other_tenant)) == []
    assert result_of(rpc("get_jobs", {"filters": {"tags": ["secret"]}}, who=other_tenant)) == []
    admin_elsewhere = make_tenant(role=Role.ADMIN)
    assert result_of(rpc("get_jobs", {"filters": {"all_users": True}}, who=admin_elsewhere)) == []


def test_get_jobs_of_foreign_project_is_not_found(rpc, tenant, other_tenant, foreign_job):
    """Naming a project one is not a member of reads as not found."""
    error = error_of(rpc("get_jobs", {"filters": {"project_id": str(tenant.project.project_id)}}, who=other_tenant))
    assert error["code"] == -404


def test_submit_with_taken_job_id_reveals_nothing_else(rpc, other_tenant, foreign_job):
    """Reusing someone's job_id is a conflict (ids are global) and their job is unchanged."""
    body = {"job_id": foreign_job["job_id"], "code_type": "qasm2", "source_code": ["OPENQASM 2.0;"], "backend": "dummy"}
    assert error_of(rpc("submit_job", {"body": body}, who=other_tenant))["code"] == -409
    assert_untouched(foreign_job["job_id"])


def test_set_job_results_needs_driver_even_for_own_project(rpc, tenant, foreign_job):
    """Even the job's owner may not store results without the driver scope."""
    body = {"job_id": foreign_job["job_id"], "results": [{"results": {"0": 1}}]}
    assert error_of(rpc("set_job_results", {"body": body}, who=tenant))["code"] == -403
    assert_untouched(foreign_job["job_id"])


def test_project_admin_reaches_members_jobs(rpc, tenant, foreign_job):
    """The project's admin reads, updates and cancels a member's job (SPEC §7)."""
    admin = make_tenant(project=tenant.project, role=Role.ADMIN)
    status = result_of(rpc("get_job_status", {"body": {"job_id": foreign_job["job_id"]}}, who=admin))
    assert status["job_name"] == "private"
    cancelled = result_of(rpc("cancel_jobs", {"body": {"job_ids": [foreign_job["job_id"]]}}, who=admin))
    assert cancelled == [{"job_id": foreign_job["job_id"], "job_status": "CANCELLED"}]


def test_fellow_member_does_not_reach_it(rpc, tenant, foreign_job):
    """A plain member of the same project does not reach a colleague's job."""
    colleague = make_tenant(project=tenant.project)
    assert error_of(rpc("get_job_status", {"body": {"job_id": foreign_job["job_id"]}}, who=colleague))["code"] == -404
    assert result_of(rpc("cancel_jobs", {"body": {"job_ids": [foreign_job["job_id"]]}}, who=colleague)) == []
    assert_untouched(foreign_job["job_id"])


def test_staff_reach_every_job(rpc, staff, foreign_job):
    """Operators read any job."""
    status = result_of(rpc("get_job_status", {"body": {"job_id": foreign_job["job_id"]}}, who=staff))
    assert status["job_id"] == foreign_job["job_id"]
