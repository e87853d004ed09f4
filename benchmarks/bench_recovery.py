"""Recovery times with real forking workers at their production settings (liveness reported every
5 s, reconcile every 30 s), on a temporary SQLite database:

1. the work horse of a running job is SIGKILLed: time until the job is COMPLETED again;
2. a whole worker is SIGKILLed mid-job and a fresh one starts at once (as runportal's supervisor
   does): time until the job is COMPLETED;
3. Redis loses every queued job (FLUSHDB) with 20 jobs waiting: time until all are COMPLETED.

    .venv/bin/python benchmarks/bench_recovery.py

Uses the test settings (for the "sleepy" driver that holds a job running on command) and their
Redis database; do not run it while the test suite runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = Path(tempfile.mkdtemp(prefix="portal-recovery-")) / "bench.sqlite3"
os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings_test"
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"

import django  # noqa: E402

django.setup()

import psutil  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from backends.models import Backend  # noqa: E402
from jobs import queues  # noqa: E402
from jobs.models import Job  # noqa: E402
from jobs.services import JobSpec, job_submit  # noqa: E402
from tests.factories import BELL, make_tenant  # noqa: E402
from tests.sleepy_driver import hold, release  # noqa: E402


def start_worker() -> subprocess.Popen:
    command = [sys.executable, str(ROOT / "manage.py"), "rqworker", "--worker-class", "jobs.worker.JobWorker"]
    env = {**os.environ, "REDIS_URL": settings.REDIS_URL}
    return subprocess.Popen(
        [*command, *settings.JOB_QUEUE_NAMES], cwd=ROOT, env=env, process_group=0,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def stop(proc: subprocess.Popen) -> None:
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def wait(predicate, timeout: float = 300) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise SystemExit("timed out")
        time.sleep(0.05)
    return time.monotonic() - start


def status(job_id) -> str:
    return Job.objects.get(pk=job_id).status


def main() -> None:
    call_command("migrate", verbosity=0)
    Backend.objects.create(name="sleepy", driver="sleepy", code_types=["qasm2"])
    tenant = make_tenant()

    def sleepy_job() -> Job:
        job = job_submit(
            user=tenant.user,
            project=tenant.project,
            spec=JobSpec(code_type="qasm2", source_code=[BELL], backend="sleepy"),
        )
        hold(str(job.job_id))
        return job

    rows = []
    worker = start_worker()
    job = sleepy_job()
    wait(lambda: status(job.job_id) == "RUNNING")
    horse = psutil.Process(worker.pid).children()[0]
    release(str(job.job_id))
    os.kill(horse.pid, signal.SIGKILL)
    rows.append(("work horse SIGKILLed", wait(lambda: status(job.job_id) == "COMPLETED")))

    job = sleepy_job()
    wait(lambda: status(job.job_id) == "RUNNING")
    stop(worker)
    release(str(job.job_id))
    worker = start_worker()
    rows.append(("whole worker SIGKILLed, new worker started", wait(lambda: status(job.job_id) == "COMPLETED")))

    stop(worker)
    jobs = [
        job_submit(user=tenant.user, project=tenant.project, spec=JobSpec(code_type="qasm2", source_code=[BELL],
                                                                          backend="dummy"))
        for _ in range(20)
    ]  # fmt: skip
    queues.connection().flushdb()
    worker = start_worker()
    rows.append(("Redis emptied, 20 jobs queued", wait(lambda: all(status(j.job_id) == "COMPLETED" for j in jobs))))
    stop(worker)

    print(f"{'what happened':45s} {'until COMPLETED':>16s}")
    for what, seconds in rows:
        print(f"{what:45s} {seconds:14.1f} s")


if __name__ == "__main__":
    main()
