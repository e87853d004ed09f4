"""Operators' services (SPEC §2, §7): force-stop, re-queue, usage."""

from __future__ import annotations

from datetime import timedelta

import psutil
import pytest
from django.utils import timezone

from backends.models import Backend
from core.exceptions import InvalidState, PermissionDenied
from jobs.models import Job
from jobs.services import JobSpec, job_force_stop, job_submit, jobs_requeue
from projects.selectors import project_usage
from tests.factories import BELL, fail, make_tenant
from tests.sleepy_driver import hold
from tests.workers import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def submit(tenant, backend="dummy", **fields) -> Job:
    spec = JobSpec(code_type="qasm2", source_code=[BELL, BELL], backend=backend, **fields)
    return job_submit(user=tenant.user, project=tenant.project, spec=spec)


def test_force_stop_kills_the_running_job(start_worker):
    """An operator stops a running job: CANCELLING then CANCELLED, entries -107, the work horse
    killed, and the worker goes on with the next job."""
    Backend.objects.create(name="sleepy", driver="sleepy", code_types=["qasm2"])
    tenant, operator = make_tenant(), make_tenant(staff=True)
    job = submit(tenant, backend="sleepy")
    hold(str(job.job_id))
    worker = start_worker()
    wait_for(lambda: Job.objects.get(pk=job.pk).status == "RUNNING", timeout=60, what="the job to start")
    stopped = job_force_stop(user=operator.user, job_id=job.job_id)
    assert stopped.status == "CANCELLED"
    assert [e.error["code"] for e in stopped.entries.order_by("index")] == [-107, -107]
    assert list(stopped.events.values_list("status", flat=True)) == ["QUEUED", "RUNNING", "CANCELLING", "CANCELLED"]
    wait_for(lambda: not psutil.Process(worker.pid).children(), timeout=30, what="the work horse to be killed")
    after = submit(tenant)
    wait_for(lambda: Job.objects.get(pk=after.pk).status == "COMPLETED", timeout=60, what="the next job")
    assert Job.objects.get(pk=job.pk).status == "CANCELLED"


def test_force_stop_is_for_operators():
    """A job's own user cannot force-stop it."""
    tenant = make_tenant()
    job = submit(tenant)
    with pytest.raises(PermissionDenied):
        job_force_stop(user=tenant.user, job_id=job.job_id)


def test_force_stop_of_finished_job_is_invalid(run_worker):
    """Only queued or running jobs can be stopped."""
    tenant, operator = make_tenant(), make_tenant(staff=True)
    job = submit(tenant)
    run_worker()
    with pytest.raises(InvalidState):
        job_force_stop(user=operator.user, job_id=job.job_id)


def test_requeue_failed_job_runs_again(run_worker):
    """A failed job re-queued by an operator runs from scratch and completes."""
    tenant, operator = make_tenant(), make_tenant(staff=True)
    job = fail(submit(tenant))
    assert [j.job_id for j in jobs_requeue(user=operator.user, job_ids=[job.job_id])] == [job.job_id]
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempts, job.entries.count()) == ("COMPLETED", 2, 2)  # attempts keep counting


def test_requeue_leaves_completed_jobs_alone(run_worker):
    """Completed and deleted jobs are not re-queued; non-staff may not re-queue."""
    tenant, operator = make_tenant(), make_tenant(staff=True)
    job = submit(tenant)
    run_worker()
    assert jobs_requeue(user=operator.user, job_ids=[job.job_id]) == []
    with pytest.raises(PermissionDenied):
        jobs_requeue(user=tenant.user, job_ids=[job.job_id])


def test_usage_per_project(run_worker):
    """Usage counts each project's jobs, shots and execution seconds in the range, in one query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first, second = make_tenant(), make_tenant()
    submit(first, shots=100)
    submit(first, shots=50)
    submit(second, shots=7)
    run_worker()
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        usage = {row["project"]: row for row in project_usage(since=now - timedelta(hours=1), until=now)}
    assert len(queries) == 1
    assert (usage[first.project.slug]["jobs"], usage[first.project.slug]["shots"]) == (2, 150)
    assert usage[second.project.slug]["shots"] == 7
    assert usage[first.project.slug]["execution_seconds"] > 0
    assert project_usage(since=now - timedelta(days=2), until=now - timedelta(days=1)) == []
