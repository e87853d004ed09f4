"""A project's count of active jobs (``Project.active_jobs``), which the quota check reads instead of
counting rows: every change into or out of QUEUED, RUNNING or CANCELLING moves it in the same
transaction, and jobs_reconcile repairs a count that rows written around the state machine made wrong."""

from __future__ import annotations

import pytest

from core.exceptions import QuotaExceeded
from drivers.base import EntryResult
from jobs import services
from jobs.models import Job
from jobs.services import JobSpec
from projects.models import Project
from tests.factories import BELL, make_tenant

pytestmark = pytest.mark.django_db


def submit(tenant) -> Job:
    spec = JobSpec(code_type="qasm2", source_code=[BELL], backend="dummy")
    return services.job_submit(user=tenant.user, project=tenant.project, spec=spec)


def active(tenant) -> int:
    return Project.objects.get(pk=tenant.project.pk).active_jobs


def test_the_count_follows_each_job_in_and_out_of_the_active_statuses(tenant, staff):
    done, cancelled, deleted, failed = (submit(tenant) for _ in range(4))
    assert active(tenant) == 4
    services.job_start(job_id=done.job_id)
    assert active(tenant) == 4  # QUEUED -> RUNNING: still active
    services.job_finish(job_id=done.job_id, last=(0, EntryResult(status="COMPLETED", results={"00": 1})))
    assert active(tenant) == 3
    services.jobs_cancel(user=tenant.user, job_ids=[cancelled.job_id])
    assert active(tenant) == 2
    services.jobs_delete(user=tenant.user, job_ids=[deleted.job_id])  # deleted while QUEUED
    assert active(tenant) == 1
    services.jobs_delete(user=tenant.user, job_ids=[done.job_id])  # deleted once ended: no change
    assert active(tenant) == 1
    services.job_start(job_id=failed.job_id)
    services.job_fail(job_id=failed.job_id, error={"code": -104, "message": "x"})
    assert active(tenant) == 0
    services.jobs_requeue(user=staff.user, job_ids=[failed.job_id])  # active again
    assert active(tenant) == 1
    assert active(tenant) == Job.objects.filter(project=tenant.project, status__in=["QUEUED", "RUNNING"]).count()


def test_a_full_project_refuses_and_stores_nothing(tenant):
    Project.objects.filter(pk=tenant.project.pk).update(max_queued_jobs=2)
    submit(tenant), submit(tenant)
    with pytest.raises(QuotaExceeded) as refused:
        submit(tenant)
    assert "already has 2 queued or running jobs (its limit is 2)" in str(refused.value)
    assert Job.objects.filter(project=tenant.project).count() == 2
    assert active(tenant) == 2


def test_a_slot_freed_by_a_finished_job_is_taken_again(tenant):
    Project.objects.filter(pk=tenant.project.pk).update(max_queued_jobs=1)
    first = submit(tenant)
    services.jobs_cancel(user=tenant.user, job_ids=[first.job_id])
    assert submit(tenant).status == "QUEUED"


def test_reconcile_recounts_a_project_whose_count_is_wrong(tenant):
    other = make_tenant()
    submit(tenant), submit(tenant), submit(other)
    Project.objects.filter(pk=tenant.project.pk).update(active_jobs=7)  # as a manual edit would leave it
    assert services.jobs_reconcile()["active_counts_repaired"] == 1
    assert active(tenant) == 2 and active(other) == 1
    assert services.jobs_reconcile()["active_counts_repaired"] == 0
