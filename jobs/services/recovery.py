"""Making the database and Redis agree again after a lost worker, a flushed Redis or a crash."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from core.metrics import RECONCILE_REPAIRS
from drivers.errors import WORKER_LOST, error_dict
from drivers.registry import get_driver
from jobs import queues
from jobs.choices import ACTIVE, JobStatus
from jobs.models import Job
from jobs.rules import handed_to_device
from jobs.services.lifecycle import job_fail
from jobs.services.state import discard_outcome, enqueue_if_allowed, enqueue_missing, transition
from jobs.signals import jobs_reconciling
from projects.models import Project

# A job is started at most this many times: a lost run is re-queued once, then the job fails -106.
MAX_ATTEMPTS = 2


def job_recover_lost(*, job_id: uuid.UUID, attempt: int, reason: str) -> str | None:
    """A RUNNING job whose worker is gone: back to QUEUED for one more attempt, else FAILED -106.

    Conditional on ``attempt``, so a recovery racing the job's own (late) finish has one winner.
    """
    job = Job.objects.select_related("backend").filter(pk=job_id, status=JobStatus.RUNNING).first()
    if job is None or job.attempts != attempt:
        return None
    if attempt >= MAX_ATTEMPTS:
        failed = job_fail(
            job_id=job_id, error=error_dict(WORKER_LOST, f"{reason}; the job was tried {attempt} times"),
            detail=f"worker lost: {reason}", attempt=attempt,
        )  # fmt: skip
        return JobStatus.FAILED if failed else None
    with transaction.atomic():
        won = transition(
            job_id, allowed=[JobStatus.RUNNING], to=JobStatus.QUEUED, attempt=attempt, detail=f"re-queued: {reason}",
            started_at=None, progress=0, num_qubits=None, queued_at=timezone.now(), worker_name="",
            scheduling_mode=None,
        )  # fmt: skip
        if won:
            discard_outcome(job_id, rerun=True)
            enqueue_if_allowed(job)
    return JobStatus.QUEUED if won else None


def job_enqueue_unstarted(*, job_id: uuid.UUID | str) -> bool:
    """A QUEUED job whose work process died before it started it (killed between two jobs, say) waits
    its turn again now, rather than at the next reconcile; True when it was enqueued. (RQ popped it
    to hand it over, so it is in no queue.)"""
    job = Job.objects.select_related("backend").filter(pk=job_id, status=JobStatus.QUEUED).first()
    return job is not None and enqueue_if_allowed(job)


def jobs_reconcile(*, lost_after: float | None = None, queued_grace: float | None = None) -> dict[str, int]:
    """Make the database and Redis agree again; safe to run any time, from any number of workers.

    - RUNNING jobs whose worker stopped reporting them (killed worker, lost machine) are recovered:
      re-queued once, then FAILED -106. Jobs handed to an async device are left alone.
    - QUEUED jobs that should be waiting in Redis but are not (Redis restarted empty, flushed, or a
      crash between commit and enqueue) are enqueued again.
    - A project whose count of active jobs differs from its jobs (rows written around the state
      machine) is recounted, ``active_counts_repaired``.
    - What the apps above repair on ``jobs_reconciling`` (webhooks: callback deliveries still pending
      that nothing in Redis will run any more are enqueued again, ``callbacks_requeued``).
    """
    lost_after = settings.RECONCILE_LOST_AFTER if lost_after is None else lost_after
    queued_grace = settings.RECONCILE_QUEUED_GRACE if queued_grace is None else queued_grace
    now = timezone.now()
    summary = {
        "requeued_lost": 0, "failed_lost": 0, "enqueued_missing": 0, "active_counts_repaired": 0,
        "callbacks_requeued": 0,
    }  # fmt: skip

    running = list(
        Job.objects.filter(status=JobStatus.RUNNING, started_at__lte=now - timedelta(seconds=lost_after))
        .select_related("backend")
        .only("job_id", "attempts", "dry_run", "job_type", "backend__driver")
    )
    running = [
        job for job in running
        if not handed_to_device(job, get_driver(job.backend.driver).results_fetch_mode)
    ]  # fmt: skip
    alive = queues.running_alive([str(job.job_id) for job in running])
    for job in running:
        if str(job.job_id) in alive:
            continue
        outcome = job_recover_lost(job_id=job.job_id, attempt=job.attempts, reason="its worker stopped responding")
        if outcome == JobStatus.QUEUED:
            summary["requeued_lost"] += 1
        elif outcome == JobStatus.FAILED:
            summary["failed_lost"] += 1

    stale = Job.objects.filter(queued_at__lte=now - timedelta(seconds=queued_grace))
    summary["enqueued_missing"] = len(enqueue_missing(stale))
    summary["active_counts_repaired"] = active_counts_repair()
    for _receiver, counts in jobs_reconciling.send(sender=Job, grace=queued_grace):
        summary.update(counts)
    for kind, count in summary.items():
        if count:
            RECONCILE_REPAIRS.labels(kind=kind).inc(count)
    return summary


def active_counts_repair() -> int:
    """Recount the active jobs of each project whose stored count differs; answers how many were off.
    The first comparison takes no lock; each recount holds its project's row, which every submit and
    status change of that project also takes, so the recount cannot miss one in flight."""
    counted = dict(
        Job.objects.filter(status__in=ACTIVE)
        .order_by()
        .values("project_id")
        .annotate(n=Count("pk"))
        .values_list("project_id", "n")
    )
    repaired = 0
    for project_id, stored in Project.objects.values_list("pk", "active_jobs"):
        if stored == counted.get(project_id, 0):
            continue
        with transaction.atomic():
            Project.objects.select_for_update().filter(pk=project_id).first()
            actual = Job.objects.filter(project_id=project_id, status__in=ACTIVE).count()
            repaired += Project.objects.filter(pk=project_id).exclude(active_jobs=actual).update(active_jobs=actual)
    return repaired
