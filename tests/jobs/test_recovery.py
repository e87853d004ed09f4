"""Never lose a job (SPEC §2, §8): killed work horses and workers, Redis restarted empty, a crash
between commit and enqueue -- each time the job still ends, and never with two result sets."""

from __future__ import annotations

import logging
import os
import signal
import subprocess

import psutil
import pytest
import redis

from backends.models import Backend
from jobs import queues
from jobs.models import Job, JobEvent
from jobs.services import JobSpec, job_submit, jobs_reconcile
from tests.conftest import result_of
from tests.factories import BELL, make_tenant
from tests.sleepy_driver import hold, release
from tests.workers import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

NOTHING_TO_DO = {
    "requeued_lost": 0, "failed_lost": 0, "enqueued_missing": 0, "active_counts_repaired": 0, "callbacks_requeued": 0,
}  # fmt: skip


def status_of(job_id) -> str:
    return Job.objects.get(pk=job_id).status


@pytest.fixture
def sleepy_job():
    """A job on a backend whose driver holds it running until released."""
    Backend.objects.create(name="sleepy", driver="sleepy", code_types=["qasm2"], time_limit=600)
    tenant = make_tenant()
    job = job_submit(
        user=tenant.user, project=tenant.project, spec=JobSpec(code_type="qasm2", source_code=[BELL], backend="sleepy")
    )
    hold(str(job.job_id))
    return job


def kill_worker_group(proc: subprocess.Popen) -> None:
    """SIGKILL the worker and its work horse at once: nothing gets to clean up."""
    horses = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGKILL)
    for horse in horses:  # RQ puts each work horse in a process group of its own
        try:
            os.killpg(horse.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)


def test_killed_work_horse_is_requeued_once_and_completes(sleepy_job, start_worker):
    """SIGKILL of the process running a job: the worker re-queues it at once and runs it again."""
    worker = start_worker()
    wait_for(lambda: status_of(sleepy_job.job_id) == "RUNNING", timeout=60, what="the job to start")
    horse = wait_for(lambda: psutil.Process(worker.pid).children(), timeout=10, what="the work horse")[0]
    release(str(sleepy_job.job_id))  # the re-run finishes at once
    os.kill(horse.pid, signal.SIGKILL)
    wait_for(lambda: status_of(sleepy_job.job_id) == "COMPLETED", timeout=60, what="the re-run to complete")
    job = Job.objects.get(pk=sleepy_job.job_id)
    assert job.attempts == 2
    assert job.entries.count() == 1  # one result set
    timeline = list(JobEvent.objects.filter(job=job).values_list("status", flat=True))
    assert timeline == ["QUEUED", "RUNNING", "QUEUED", "RUNNING", "COMPLETED"]


def test_killed_worker_requeued_once_then_failed(sleepy_job, start_worker):
    """SIGKILL of a whole worker mid-job, twice: reconcile re-queues the job once, then fails it -106."""
    job_id = str(sleepy_job.job_id)
    for attempt, outcome in ((1, "QUEUED"), (2, "FAILED")):
        worker = start_worker()
        wait_for(lambda: status_of(job_id) == "RUNNING", timeout=60, what=f"attempt {attempt} to start")
        kill_worker_group(worker)
        assert status_of(job_id) == "RUNNING"  # nobody is left to notice...
        wait_for(lambda: not queues.running_alive([job_id]), timeout=30, what="the liveness report to lapse")
        jobs_reconcile(lost_after=0)  # ...until reconcile does
        assert status_of(job_id) == outcome
    entry = Job.objects.get(pk=job_id).entries.get()
    assert entry.error["code"] == -106
    assert "tried 2 times" in entry.error["message"]


def test_redis_restarted_empty(submit, tenant, run_worker):
    """Redis comes back with nothing in it: reconcile puts every QUEUED job back, and all complete."""
    jobs = [submit(tenant, job_priority=p) for p in (3, 5, 5)]
    queues.connection().flushdb()
    assert queues.waiting_ids() == set()
    assert jobs_reconcile(queued_grace=0)["enqueued_missing"] == 3
    run_worker()
    assert {status_of(job["job_id"]) for job in jobs} == {"COMPLETED"}


def test_crash_between_commit_and_enqueue(rpc, tenant, run_worker, monkeypatch, caplog):
    """Redis refuses the enqueue after the job committed: the client still gets its QUEUED job, and
    reconcile enqueues it later."""
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    real_client = queues.redis_client
    monkeypatch.setattr(queues, "redis_client", lambda name: dead)
    with caplog.at_level(logging.WARNING):
        job = result_of(rpc("submit_job", {"body": {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}},
                            who=tenant))  # fmt: skip
    assert job["job_status"] == "QUEUED"
    assert "reconcile_jobs will" in caplog.text
    monkeypatch.setattr(queues, "redis_client", real_client)
    assert job["job_id"] not in queues.waiting_ids()
    assert jobs_reconcile(queued_grace=0)["enqueued_missing"] == 1
    run_worker()
    assert status_of(job["job_id"]) == "COMPLETED"


def test_reconcile_leaves_healthy_jobs_alone(submit, tenant):
    """A job waiting in Redis, a held job of a paused backend and a fresh job are not touched."""
    waiting = submit(tenant)
    Backend.objects.filter(name="aer_simulator").update(status="paused")
    held = submit(tenant, backend="aer_simulator")
    assert jobs_reconcile(queued_grace=0, lost_after=0) == {
        "requeued_lost": 0,
        "failed_lost": 0,
        "enqueued_missing": 0,
        "active_counts_repaired": 0,
        "callbacks_requeued": 0,
    }
    assert queues.waiting_ids() == {waiting["job_id"]}
    assert status_of(held["job_id"]) == "QUEUED"


def test_stale_writer_loses(sleepy_job):
    """A run that was given up on (attempt 1) cannot write into the re-run (attempt 2)."""
    from drivers.base import EntryResult
    from jobs import services

    services.job_start(job_id=sleepy_job.job_id)
    services.job_recover_lost(job_id=sleepy_job.job_id, attempt=1, reason="test")
    services.job_start(job_id=sleepy_job.job_id)
    stale = services.job_record_entry(
        job_id=sleepy_job.job_id, index=0, entry=EntryResult(status="COMPLETED", results={"0": 1}), attempt=1
    )
    assert stale is False
    assert services.job_finish(job_id=sleepy_job.job_id, attempt=1) is None
    assert status_of(sleepy_job.job_id) == "RUNNING"


def test_reconcile_command_prints_summary(submit, tenant):
    """manage.py reconcile_jobs is safe to run any time and says what it did."""
    import io
    import json

    from django.core.management import call_command

    out = io.StringIO()
    call_command("reconcile_jobs", stdout=out)
    assert json.loads(out.getvalue()) == {
        "requeued_lost": 0,
        "failed_lost": 0,
        "enqueued_missing": 0,
        "active_counts_repaired": 0,
        "callbacks_requeued": 0,
    }


def test_a_job_whose_process_died_before_starting_it_is_back_in_line_at_once(
    tenant, django_capture_on_commit_callbacks
):
    """Handed to a work process killed a moment before (between two jobs), the job never started: it
    goes back in its queue now, not at the next reconcile (30 s later)."""
    from jobs import queues
    from jobs.runner import horse_died
    from tests.factories import submit_bell

    job = submit_bell(tenant)
    queues.remove(job.job_id, job.job_priority)  # what RQ's pop to hand it over did
    assert str(job.job_id) not in queues.waiting_ids()
    with django_capture_on_commit_callbacks(execute=True):
        horse_died(str(job.job_id), timed_out=False, signal_number=9)
    assert str(job.job_id) in queues.waiting_ids()
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("QUEUED", 0)
