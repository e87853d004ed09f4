"""When a job will start and end (IBM's ``queue_info``), estimated from what its backend has actually
done lately, with the basis said in words; no estimate where there is no basis (a paused backend, no
worker, no recent run).

The queue is shared: workers take the first job of the highest priority, whatever its backend. A
queued job at place ``p`` with ``w`` workers starts after ``(p - 1) // w`` rounds of the jobs ahead,
each taken to last as long as its backend's recent runs (the jobs ahead are not read one by one).
The recent runs and the number of workers are read at most every ``STATS_SECONDS`` per process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean

from django.conf import settings
from django.utils import timezone
from redis import RedisError

from backends.models import BackendStatus
from backends.selectors import timeslot_next
from jobs import queues
from jobs.choices import RAN, JobStatus
from jobs.models import Job
from jobs.rules import needs_timeslot

RECENT_RUNS = 50  # a backend's last runs that make its typical run time
STATS_SECONDS = 10.0
_lock = threading.Lock()
_runs: dict[int, tuple[float, float | None, int]] = {}  # backend id -> (read at, mean seconds, runs)
_workers: list[tuple[float, int]] = []


@dataclass(frozen=True)
class Estimate:
    start: datetime | None = None
    end: datetime | None = None
    basis: str | None = None


def _typical_run(backend_id: int) -> tuple[float | None, int]:
    """The mean run time (seconds) of the backend's last RECENT_RUNS completed or failed jobs, and how many."""
    now = time.monotonic()
    with _lock:
        cached = _runs.get(backend_id)
    if cached is not None and now - cached[0] < STATS_SECONDS:
        return cached[1], cached[2]
    rows = (
        Job.objects.filter(backend_id=backend_id, status__in=RAN, ended_at__isnull=False, started_at__isnull=False)
        .order_by("-ended_at")
        .values_list("started_at", "ended_at")[:RECENT_RUNS]
    )  # the (backend, ended_at) index, read backwards
    seconds = [(ended - started).total_seconds() for started, ended in rows]
    mean = fmean(seconds) if seconds else None
    with _lock:
        _runs[backend_id] = (now, mean, len(seconds))
    return mean, len(seconds)


def _live_workers() -> int:
    now = time.monotonic()
    with _lock:
        if _workers and now - _workers[0][0] < STATS_SECONDS:
            return _workers[0][1]
    try:
        count = queues.worker_count()
    except RedisError:
        count = 0
    with _lock:
        _workers[:] = [(now, count)]
    return count


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _seconds(value: float) -> str:
    return f"{value:.3g} s" if value < 120 else f"{value / 60:.3g} min"


def estimate(job: Job, position: int | None) -> Estimate:
    """The estimate for ``job`` (its ``position`` in the queue as get_job_status answers it)."""
    if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
        return Estimate()
    mean, runs = _typical_run(job.backend_id)
    now = timezone.now()
    if job.status == JobStatus.QUEUED and position is None:
        return _held(job, now, mean, runs)
    if mean is None:
        return Estimate(basis=f"no estimate: backend {job.backend.name} has run no job lately")
    typical = f"its last {_count(runs, 'run')} took {_seconds(mean)} on average"
    if job.status == JobStatus.RUNNING:
        start = job.started_at or now
        end = start + timedelta(seconds=mean)
        if end < now:
            return Estimate(
                start=start, basis=f"running longer than backend {job.backend.name}'s recent jobs ({typical})"
            )
        return Estimate(start=start, end=end, basis=f"started; backend {job.backend.name}: {typical}")
    workers = _live_workers()
    if workers == 0:
        return Estimate(basis="no estimate: no worker is running")
    rounds = (position - 1) // workers
    start = now + timedelta(seconds=rounds * mean)
    ahead = position - 1
    basis = (
        f"{_count(ahead, 'job')} ahead across priorities, {_count(workers, 'worker')}; "
        f"backend {job.backend.name}: {typical}, taken for the jobs ahead too"
    )
    return Estimate(start=start, end=start + timedelta(seconds=mean), basis=basis)


def _held(job: Job, now: datetime, mean: float | None, runs: int) -> Estimate:
    """A queued job not waiting in Redis: held while its backend is not online, or by the timeslots.
    A job a slot's boundary releases is enqueued within a reconcile interval of it, taken as its start."""
    name = job.backend.name
    if job.backend.status != BackendStatus.ONLINE:
        return Estimate(basis="no estimate: the job is held until its backend is online")
    if needs_timeslot(job):
        own = timeslot_next(backend_id=job.backend_id, at=now, project_id=job.project_id)
        if own is None:
            return Estimate(
                basis=f"no estimate: the job waits for a timeslot of its project on backend {name}; none is booked"
            )
        boundary, why = (
            own.start_at,
            f"waits for its project's timeslot on backend {name} from {own.start_at.isoformat()}",
        )
    else:
        running = timeslot_next(backend_id=job.backend_id, at=now)
        if running is None or running.start_at > now or running.project_id == job.project_id:
            return Estimate(basis="no estimate: the job is not waiting in the queue now")
        boundary, why = (
            running.end_at,
            f"backend {name} is booked for another project until {running.end_at.isoformat()}",
        )
    start = max(boundary, now) + timedelta(seconds=settings.RECONCILE_INTERVAL)
    if mean is None:
        return Estimate(start=start, basis=f"{why}; its end: no estimate, backend {name} has run no job lately")
    typical = f"its last {_count(runs, 'run')} took {_seconds(mean)} on average"
    return Estimate(start=start, end=start + timedelta(seconds=mean), basis=f"{why}; backend {name}: {typical}")


def forget() -> None:
    """Drop what this process has read (the tests' clean slate; a new process starts with nothing)."""
    with _lock:
        _runs.clear()
        _workers.clear()
