"""One long-lived work process per worker (jobs/horse.py): jobs run one after another in it, and it
is replaced when it dies, when a job broke off in it, and after its share of jobs -- so a tiny job
pays no fork, and a crash still costs only its own job."""

from __future__ import annotations

import os
import signal
import subprocess

import psutil
import pytest

from backends.models import Backend
from jobs.models import Job
from jobs.services import JobSpec, job_submit
from tests.factories import BELL, make_tenant
from tests.workers import ROOT, run_burst_worker, start_worker_process, wait_for, worker_command, worker_env

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def backends():
    Backend.objects.create(name="sleepy", driver="sleepy", code_types=["qasm2"], time_limit=600)
    Backend.objects.create(name="aborting", driver="aborting", code_types=["qasm2"])
    Backend.objects.create(name="hog", driver="hog", code_types=["qasm2"], options={"memory_limit_mb": 2048})


def submit_on(tenant, backend: str) -> Job:
    spec = JobSpec(code_type="qasm2", source_code=[BELL], backend=backend)
    return job_submit(user=tenant.user, project=tenant.project, spec=spec)


def pid_of(job: Job) -> int:
    job = Job.objects.get(pk=job.pk)
    assert job.status == "COMPLETED", job.status
    return job.entries.get().metadata["pid"]


def test_jobs_run_one_after_another_in_one_work_process(backends):
    tenant = make_tenant()
    jobs = [submit_on(tenant, "sleepy") for _ in range(4)]
    run_burst_worker(timeout=120)
    assert len({pid_of(job) for job in jobs}) == 1


def test_a_work_process_that_crashed_is_replaced_and_only_its_job_fails(backends):
    tenant = make_tenant()
    before = submit_on(tenant, "sleepy")
    crash = submit_on(tenant, "aborting")
    after = submit_on(tenant, "sleepy")
    run_burst_worker(timeout=120)
    crashed = Job.objects.get(pk=crash.pk)
    assert crashed.status == "FAILED" and crashed.attempts == 1
    assert "crashed (SIGABRT)" in crashed.entries.get().error["message"]
    assert pid_of(before) != pid_of(after)


def test_a_work_process_whose_job_broke_off_is_not_given_another(backends):
    """A job that ran out of memory in Python code leaves the process alive but suspect: the next job
    runs in a new one."""
    tenant = make_tenant()
    before = submit_on(tenant, "sleepy")
    hog = submit_on(tenant, "hog")
    after = submit_on(tenant, "sleepy")
    run_burst_worker(timeout=120)
    assert Job.objects.get(pk=hog.pk).status == "FAILED"
    assert pid_of(before) != pid_of(after)


def test_a_work_process_is_replaced_after_its_share_of_jobs(backends):
    tenant = make_tenant()
    jobs = [submit_on(tenant, "sleepy") for _ in range(5)]
    result = subprocess.run(
        worker_command(), cwd=ROOT, env={**worker_env(), "WORK_PROCESS_MAX_JOBS": "2"}, capture_output=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0
    pids = [pid_of(job) for job in jobs]
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]


def test_a_work_process_killed_between_jobs_costs_no_job(backends):
    """Killed while idle (an operator, the OOM killer): the next job gets a new process and completes."""
    tenant = make_tenant()
    worker = start_worker_process()
    try:
        first = submit_on(tenant, "sleepy")
        wait_for(lambda: Job.objects.get(pk=first.pk).status == "COMPLETED", timeout=60, what="the first job")
        os.kill(pid_of(first), signal.SIGKILL)
        second = submit_on(tenant, "sleepy")
        wait_for(lambda: Job.objects.get(pk=second.pk).status == "COMPLETED", timeout=60, what="the second job")
        assert pid_of(second) != pid_of(first)
        assert Job.objects.get(pk=second.pk).attempts == 1
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


def test_a_stopped_worker_leaves_no_work_process(backends):
    tenant = make_tenant()
    worker = start_worker_process()
    job = submit_on(tenant, "sleepy")
    wait_for(lambda: Job.objects.get(pk=job.pk).status == "COMPLETED", timeout=60, what="the job")
    process = psutil.Process(pid_of(job))
    assert process.ppid() == worker.pid
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    process.wait(timeout=10)  # raises TimeoutExpired while it lives on
    assert not process.is_running()


def test_a_job_leaves_nothing_of_rqs_in_redis_and_its_drawings_still_run_the_rq_way(backends):
    """A portal job is its id in its priority's list and, while it runs, a liveness key: RQ's hash,
    execution and registries are never written for it. Its drawings, an RQ task, run in the same
    work process."""
    from django.conf import settings

    from jobs import queues

    tenant = make_tenant()
    job = job_submit(
        user=tenant.user,
        project=tenant.project,
        spec=JobSpec(code_type="qasm2", source_code=[BELL], backend="dummy"),
    )
    redis = queues.connection()
    assert redis.lrange("rq:queue:jobs-p5", 0, -1) == [str(job.job_id).encode()]
    assert not redis.exists(f"rq:job:{job.job_id}")
    command = [*worker_command(), settings.DRAWING_QUEUE_NAME]
    result = subprocess.run(command, cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    job = Job.objects.get(pk=job.pk)
    assert job.status == "COMPLETED" and job.drawings.exists()
    left = {key.decode() for key in redis.keys("*")}
    assert not {key for key in left if str(job.job_id) in key}, left
    assert not [key for key in left if key.startswith(("rq:wip:", "rq:started:", "rq:execution", "rq:failed:"))]


def test_a_job_handed_to_a_work_process_dying_that_moment_is_heard_as_its_death():
    """Killed from outside between the worker's liveness check and its hand-over, the process has
    closed its pipes: the hand-over is no error (it crashed the worker, the job left in no queue),
    and the death is heard in the reply, so the job goes back in line (``runner.horse_died``)."""
    from jobs.horse import WorkProcess

    commands_read, commands_write = os.pipe()
    replies_read, replies_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.close(commands_read)
    os.close(replies_write)
    process = WorkProcess(pid, commands_write, replies_read)
    assert process.wait(10)  # its end of the pipes is closed: it is gone
    process.send_task("run", "7bfad252-09a2-4e7c-a9c1-1553409f0184")
    process.send("7bfad252-09a2-4e7c-a9c1-1553409f0184", "jobs-p5", "x", 0.0)
    assert process.reply() == (b"", 0)
    assert process.reap()[0] == pid
