"""Reads for the operators' pages (/ops/): backends with their queues, workers, jobs that need an
operator. Each function is a fixed number of queries (or Redis round trips), whatever the data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Prefetch, Q, QuerySet
from django.utils import timezone
from rq import Worker

from backends.models import Backend
from backends.selectors import backends_with_queue_length
from jobs import queues
from jobs.choices import JobStatus
from jobs.models import Job, JobResult
from jobs.rules import may_be_enqueued_q

FAILED_WINDOW = timedelta(days=7)
LIST_LIMIT = 100


def backends_overview() -> list[Backend]:
    """Every backend with ``queued`` and ``running`` counts and ``oldest_queued_at`` (from the
    database: jobs of a paused backend wait there, not in Redis) -- one query."""
    return list(
        backends_with_queue_length().annotate(
            running=Count("jobs", filter=Q(jobs__status__in=[JobStatus.RUNNING, JobStatus.CANCELLING])),
            oldest_queued_at=Min("jobs__queued_at", filter=Q(jobs__status=JobStatus.QUEUED)),
        )
    )


def _listed(qs: QuerySet[Job]) -> QuerySet[Job]:
    return qs.select_related("backend", "project", "user")


def jobs_failed_recently(*, now: datetime, limit: int = LIST_LIMIT) -> list[Job]:
    """FAILED jobs that ended in the last 7 days, newest first, with their failed entries'
    errors prefetched (``failed_entries``) -- two queries."""
    errors = JobResult.objects.filter(error__isnull=False).only("job_id", "index", "error").order_by("index")
    qs = _listed(Job.objects.filter(status=JobStatus.FAILED, ended_at__gte=now - FAILED_WINDOW))
    qs = qs.prefetch_related(Prefetch("entries", queryset=errors, to_attr="failed_entries"))
    return list(qs.order_by("-ended_at")[:limit])


def jobs_running(*, now: datetime, limit: int = 500) -> list[Job]:
    """RUNNING and CANCELLING jobs, oldest first -- one query. Each carries ``running_for``
    (seconds) and ``overdue`` (running longer than its backend's time_limit: a worker enforces the
    limit, so such a job has lost its worker or waits on a device that never answered)."""
    jobs = list(
        _listed(Job.objects.filter(status__in=[JobStatus.RUNNING, JobStatus.CANCELLING])).order_by("started_at")[:limit]
    )
    for job in jobs:
        started = job.started_at or job.updated_at
        job.running_for = (now - started).total_seconds()
        job.overdue = job.running_for > job.backend.time_limit
    return jobs


def jobs_queued_missing(
    *, waiting: set[str], now: datetime, grace: float | None = None, limit: int = LIST_LIMIT
) -> list[Job]:
    """QUEUED jobs that should be waiting in Redis (backend online, or not occupying it) but are
    not in ``waiting`` (``jobs.queues.waiting_ids()``), queued more than ``grace`` seconds ago so
    that a job whose enqueue is about to happen is not listed -- two queries."""
    grace = settings.RECONCILE_QUEUED_GRACE if grace is None else grace
    candidates = (
        Job.objects.filter(
            may_be_enqueued_q(now), status=JobStatus.QUEUED, queued_at__lte=now - timedelta(seconds=grace)
        )
        .order_by("queued_at")
        .values_list("job_id", flat=True)
    )
    # Ids only, compared here: the waiting set can be large, too large for an SQL IN list.
    missing = []
    for job_id in candidates.iterator(chunk_size=2000):
        if str(job_id) not in waiting:
            missing.append(job_id)
            if len(missing) >= limit:
                break
    if not missing:
        return []
    return list(_listed(Job.objects.filter(pk__in=missing)).order_by("queued_at"))


def _failed_reason(job: Job) -> str:
    entries = getattr(job, "failed_entries", [])
    if entries and isinstance(entries[0].error, dict):
        return f"failed: {entries[0].error.get('code')} {entries[0].error.get('message', '')}"[:300]
    return "failed"


def jobs_needing_attention(*, now: datetime, running: list[Job], waiting: set[str] | None) -> list[dict[str, Any]]:
    """``{"job", "reason"}`` for each job an operator may want to re-queue: failed in the last
    7 days, RUNNING past its backend's time limit (from ``running``, see ``jobs_running``), QUEUED
    but missing from Redis (skipped when ``waiting`` is None: Redis could not be read)."""
    problems = [{"job": job, "reason": _failed_reason(job)} for job in jobs_failed_recently(now=now)]
    problems += [
        {
            "job": job,
            "reason": f"running {int(job.running_for)} s, over its backend's limit of {job.backend.time_limit} s",
        }
        for job in running
        if job.overdue and job.status == JobStatus.RUNNING
    ]
    if waiting is not None:
        problems += [
            {"job": job, "reason": "queued, but missing from its Redis queue"}
            for job in jobs_queued_missing(waiting=waiting, now=now)
        ]
    return problems


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    queues: list[str]
    state: str
    current_job_id: str | None
    last_heartbeat: datetime | None
    alive: bool
    hostname: str | None
    pid: int | None
    successful: int
    failed: int


def worker_alive_window() -> timedelta:
    """A worker heartbeats at least every worker_ttl - 15 s while idle (its blocking dequeue) and
    every WORKER_HEARTBEAT_INTERVAL while busy; jobs.worker.JobWorker's worker_ttl is this."""
    return timedelta(seconds=settings.RECONCILE_INTERVAL + 5)


def workers_overview(*, now: datetime | None = None) -> list[WorkerInfo]:
    """The RQ workers registered in the job queues' Redis (job and callback workers), by name."""
    now = now or timezone.now()
    window = worker_alive_window()
    infos = []
    for worker in Worker.all(connection=queues.connection()):
        heartbeat = worker.last_heartbeat  # aware, UTC
        infos.append(
            WorkerInfo(
                name=worker.name,
                queues=worker.queue_names(),
                state=worker.get_state(),
                current_job_id=worker.get_current_job_id(),
                last_heartbeat=heartbeat,
                alive=heartbeat is not None and now - heartbeat <= window,
                hostname=worker.hostname,
                pid=worker.pid,
                successful=worker.successful_job_count,
                failed=worker.failed_job_count,
            )
        )
    return sorted(infos, key=lambda info: info.name)


# --- Figures for monitoring (/metrics, QCOS's /v1/metrics) ----------------------------------------


def active_jobs_by_backend() -> list[tuple[str, str, int]]:
    """(backend, status, jobs) of the jobs queued, running or cancelling now: one grouped query over the
    status index, which holds only the active rows' share of the table."""
    rows = (
        Job.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING])
        .values_list("backend__name", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return list(rows)


def queued_by_backend_and_priority() -> list[tuple[str, int, int]]:
    """(backend, priority, jobs) of the QUEUED jobs, waiting in Redis or held: one grouped query."""
    rows = (
        Job.objects.filter(status=JobStatus.QUEUED)
        .values_list("backend__name", "job_priority")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return list(rows)


def ended_by_backend(*, since: datetime) -> list[tuple[str, str, int]]:
    """(backend, status, jobs) of the jobs that ended since ``since``: one grouped query, read off the
    (backend, ended_at) index."""
    # Naming every backend lets PostgreSQL read each one's recent ends off the index.
    backends = list(Backend.objects.values_list("pk", flat=True))
    rows = (
        Job.objects.filter(backend_id__in=backends, ended_at__gte=since)
        .values_list("backend__name", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return list(rows)


def jobs_by_status() -> dict[str, int]:
    """Every job by status: one grouped count over the status index (QCOS's get_job_stats)."""
    return dict(Job.objects.values_list("status").annotate(n=Count("pk")).order_by())


def jobs_submitted_and_completed_since(since: datetime) -> tuple[int, int]:
    """Jobs created since ``since``, and jobs that COMPLETED since then: two counts off the indexes."""
    backends = list(Backend.objects.values_list("pk", flat=True))
    submitted = Job.objects.filter(created_at__gte=since).count()
    completed = Job.objects.filter(backend_id__in=backends, ended_at__gte=since, status=JobStatus.COMPLETED).count()
    return submitted, completed
