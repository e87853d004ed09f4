"""The RQ worker class of the portal (``manage.py rqworker --worker-class jobs.worker.JobWorker``).

RQ forks a work horse per job: a crash in native code takes down only the horse, and the horse
can be killed. On top of RQ's worker:

- What is expensive to build (simulators, pass managers) is built in the worker's main process
  before it forks, so every horse inherits it instead of paying 65-83 ms per pass manager.
- A job's time limit holds on native code. The horse's own alarm interrupts Python code at the
  limit, but Aer and neal run in C++/C and ignore signals until they return; so the main process
  kills a horse that outlives the limit by KILL_GRACE seconds, and the job ends FAILED -105.
  (RQ itself would wait 60 s past the limit.)
- While a horse runs, the main process keeps the job's liveness key fresh (every
  job_monitoring_interval); a RUNNING job whose key expired has lost its worker.
- Every RECONCILE_INTERVAL seconds, busy or idle, one worker of the pool runs jobs_reconcile.
- Each horse runs under its backend's memory cap, and its time limit is raised into the driver as
  ``StopJob``, which no ``except Exception`` can swallow (``jobs/horse.py``). A horse that dies of
  its job (aborted past its cap, crashed in native code) fails that job at once (``runner.horse_died``).
"""

from __future__ import annotations

import logging
import os
import signal
import threading

from django.conf import settings
from django.db import connections
from redis import RedisError
from rq.worker import Worker

from jobs import horse, runner
from jobs.horse import PeakRecorder, TimeLimitDeathPenalty

logger = logging.getLogger(__name__)

KILL_GRACE = 2.0
RECONCILE_LOCK = "portal:reconcile-lock"


def prewarm() -> None:
    """Build each backend's simulator and default pass manager in this (the main) process."""
    from backends.models import Backend
    from drivers.registry import get_driver

    try:
        for backend in Backend.objects.all():
            try:
                get_driver(backend.driver).prepare(backend)
            except Exception:
                logger.exception("could not prepare backend %s", backend.name)
    except Exception:
        logger.exception("could not prepare backends (is the database migrated?)")
    finally:
        connections.close_all()  # a horse must never share the parent's database connection


def reconcile_once() -> dict[str, int] | None:
    """Run jobs_reconcile unless another worker of the pool did within the interval."""
    from jobs import queues
    from jobs.services import jobs_reconcile

    try:
        if not queues.connection().set(RECONCILE_LOCK, "1", nx=True, ex=max(settings.RECONCILE_INTERVAL - 1, 1)):
            return None
        summary = jobs_reconcile()
    except RedisError:
        logger.warning("reconcile skipped: Redis unavailable", exc_info=True)
        return None
    except Exception:
        logger.exception("reconcile failed")
        return None
    finally:
        connections.close_all()
    if any(summary.values()):
        logger.warning("reconciled jobs: %s", summary)
    return summary


class JobWorker(Worker):
    death_penalty_class = TimeLimitDeathPenalty

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("job_monitoring_interval", settings.WORKER_HEARTBEAT_INTERVAL)
        kwargs.setdefault("maintenance_interval", settings.RECONCILE_INTERVAL)
        # RQ runs maintenance between jobs and whenever a blocking dequeue times out; its dequeue
        # timeout is worker_ttl - 15, so this keeps an idle worker reconciling on time.
        kwargs["worker_ttl"] = min(kwargs.get("worker_ttl") or 420, settings.RECONCILE_INTERVAL + 5)
        super().__init__(*args, **kwargs)
        self._watchdog: threading.Timer | None = None
        self._overdue_job_id: str | None = None
        self._peaks = PeakRecorder()
        prewarm()

    @property
    def running_ttl(self) -> int:
        """A job's liveness key outlives two missed refreshes, then lapses."""
        return 3 * self.job_monitoring_interval

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        reconcile_once()

    def main_work_horse(self, job, queue):
        horse.enter()
        self._peaks.start_in_horse()
        super().main_work_horse(job, queue)

    def fork_work_horse(self, job, queue):
        from jobs import queues

        queues.mark_running(job.id, self.running_ttl)
        super().fork_work_horse(job, queue)  # returns in the parent only; the horse exits inside
        if job.timeout and job.timeout > 0:
            self._watchdog = threading.Timer(job.timeout + KILL_GRACE, self._kill_overdue, (self.horse_pid, job.id))
            self._watchdog.daemon = True
            self._watchdog.start()

    def maintain_heartbeats(self, job, execution):
        from jobs import queues

        super().maintain_heartbeats(job, execution)
        queues.mark_running(job.id, self.running_ttl)

    def monitor_work_horse(self, job, queue, execution):
        from jobs import queues

        try:
            super().monitor_work_horse(job, queue, execution)
        finally:
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None
            queues.clear_running(job.id)

    def _kill_overdue(self, horse_pid: int, job_id: str) -> None:
        if self.horse_pid != horse_pid:
            return  # that horse has finished already
        self._overdue_job_id = job_id
        logger.warning("job %s outlived its time limit; killing its work horse %s", job_id, horse_pid)
        try:
            os.killpg(os.getpgid(horse_pid), signal.SIGKILL)
        except ProcessLookupError:
            pass

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        """The horse died without finishing: over its time limit (we killed it) or crashed."""
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        signal_number = os.WTERMSIG(ret_val) if ret_val and os.WIFSIGNALED(ret_val) else None
        start, peak = self._peaks.read()
        try:
            runner.horse_died(
                job.id,
                timed_out=self._overdue_job_id == job.id,
                signal_number=signal_number,
                vm_start=start,
                vm_peak=peak,
            )
        finally:
            self._overdue_job_id = None
            connections.close_all()
