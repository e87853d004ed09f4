"""get_job_status's estimates (IBM's queue_info): from the backend's recent runs, the jobs ahead and
the live workers, with the basis in words; null where there is no basis."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from backends.models import Backend
from jobs import estimates
from jobs.models import Job
from tests.conftest import result_of
from tests.factories import complete, submit_bell

pytestmark = pytest.mark.django_db


def status(rpc, tenant, job_id):
    return result_of(rpc("get_job_status", {"body": {"job_id": str(job_id)}}, who=tenant))


def ran_for(tenant, seconds: float, *, backend="dummy"):
    """A job that ran ``seconds`` on ``backend``, ending a minute ago."""
    job = complete(submit_bell(tenant, backend=backend))
    ended = timezone.now() - timedelta(minutes=1)
    Job.objects.filter(pk=job.pk).update(started_at=ended - timedelta(seconds=seconds), ended_at=ended)
    return job


@pytest.fixture
def workers(monkeypatch):
    """Pretend ``n`` job workers are registered (the count RQ's registry gives)."""

    def set_count(n: int) -> None:
        monkeypatch.setattr("jobs.queues.worker_count", lambda: n)
        estimates.forget()

    return set_count


def test_no_recent_run_no_estimate(rpc, submit, tenant, workers):
    workers(1)
    answer = status(rpc, tenant, submit(tenant)["job_id"])
    assert (answer["estimated_start_at"], answer["estimated_end_at"]) == (None, None)
    assert answer["estimate_basis"] == "no estimate: backend dummy has run no job lately"


def test_a_queued_job_starts_after_the_rounds_ahead_of_it(rpc, submit, tenant, workers):
    """Runs of 2 s and 4 s: a typical run is 3 s. Third in line with two workers: one round (3 s) ahead."""
    ran_for(tenant, 2)
    ran_for(tenant, 4)
    workers(2)
    jobs = [submit(tenant) for _ in range(3)]
    before = timezone.now()
    answer = status(rpc, tenant, jobs[2]["job_id"])
    assert answer["queue_position"] == 3
    start = datetime.fromisoformat(answer["estimated_start_at"])
    end = datetime.fromisoformat(answer["estimated_end_at"])
    assert before + timedelta(seconds=3) <= start <= timezone.now() + timedelta(seconds=3)
    assert end - start == timedelta(seconds=3)
    assert answer["estimate_basis"] == (
        "2 jobs ahead across priorities, 2 workers; backend dummy: its last 2 runs took 3 s on average, "
        "taken for the jobs ahead too"
    )
    first = status(rpc, tenant, jobs[0]["job_id"])
    assert datetime.fromisoformat(first["estimated_start_at"]) <= timezone.now()


def test_no_worker_or_a_paused_backend_gives_no_estimate(rpc, submit, tenant, workers):
    ran_for(tenant, 1)
    workers(0)
    job = submit(tenant)
    assert status(rpc, tenant, job["job_id"])["estimate_basis"] == "no estimate: no worker is running"
    ran_for(tenant, 1, backend="aer_simulator")
    workers(1)
    Backend.objects.filter(name="aer_simulator").update(status="paused")
    held = submit(tenant, backend="aer_simulator")
    answer = status(rpc, tenant, held["job_id"])
    assert answer["estimated_start_at"] is None
    assert answer["estimate_basis"] == "no estimate: the job is held until its backend is online"


def test_a_running_job_ends_a_typical_run_after_its_start(rpc, submit, tenant, workers):
    from jobs.services import job_start

    ran_for(tenant, 10)
    job = submit(tenant)
    job_start(job_id=job["job_id"])
    answer = status(rpc, tenant, job["job_id"])
    started = Job.objects.get(pk=job["job_id"]).started_at
    assert datetime.fromisoformat(answer["estimated_start_at"]) == started
    assert datetime.fromisoformat(answer["estimated_end_at"]) == started + timedelta(seconds=10)
    Job.objects.filter(pk=job["job_id"]).update(started_at=timezone.now() - timedelta(seconds=60))
    later = status(rpc, tenant, job["job_id"])
    assert later["estimated_end_at"] is None and later["estimate_basis"].startswith("running longer than")


def test_a_final_job_has_no_estimate(rpc, tenant):
    job = ran_for(tenant, 1)
    answer = status(rpc, tenant, job.job_id)
    assert (answer["estimated_start_at"], answer["estimated_end_at"], answer["estimate_basis"]) == (None, None, None)


def test_the_job_page_shows_the_estimate(client, submit, tenant, workers):
    ran_for(tenant, 2)
    workers(1)
    job = submit(tenant)
    client.force_login(tenant.user)
    page = client.get(f"/jobs/{job['job_id']}/").content.decode()
    assert "data-estimate" in page and "Starts about" in page and "backend dummy" in page
