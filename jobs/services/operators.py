"""What operators (staff) do to any job: force-stop a running one, re-queue failed or stuck ones."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from core.exceptions import (
    InvalidState,
    NotFound,
    PermissionDenied,
)
from drivers.errors import CANCELLED_WHILE_RUNNING, error_dict
from jobs import queues
from jobs.choices import JobStatus
from jobs.models import Job
from jobs.selectors import jobs_changeable_by
from jobs.services.lifecycle import jobs_cancel, jobs_delete
from jobs.services.state import discard_outcome, enqueue_if_allowed, enqueue_missing, fill_missing_entries, transition
from projects.models import User


def _require_staff(user: User) -> None:
    if not user.is_staff:
        raise PermissionDenied("Only operators (staff) may do this.")


def job_force_stop(*, user: User, job_id: uuid.UUID) -> Job:
    """Operators stop a running job: RUNNING -> CANCELLING -> CANCELLED, its work horse is killed and
    entries without an outcome carry -107. (A QUEUED job is simply cancelled.)"""
    _require_staff(user)
    job = Job.objects.select_related("backend").filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"Job {job_id} not found.")
    if job.status == JobStatus.QUEUED:
        jobs_cancel(user=user, job_ids=[job.job_id])
    elif job.status in (JobStatus.RUNNING, JobStatus.CANCELLING):
        transition(job.job_id, allowed=[JobStatus.RUNNING], to=JobStatus.CANCELLING, detail=f"stopped by {user}")
        queues.stop_running(job.job_id)
        now = timezone.now()
        with transaction.atomic():
            # The horse may still be writing: its writes need RUNNING (and its attempt), so they lose.
            won = transition(
                job.job_id, allowed=[JobStatus.CANCELLING], to=JobStatus.CANCELLED, ended_at=now, progress=100
            )
            if won:
                error = error_dict(CANCELLED_WHILE_RUNNING, f"stopped by an operator ({user})")
                fill_missing_entries(job.job_id, job.num_entries, status=JobStatus.CANCELLED, error=error, now=now)
    else:
        raise InvalidState(f"Job {job_id} is {job.status}: only a queued or running job can be stopped.")
    job.refresh_from_db()
    return job


REQUEUEABLE = frozenset({JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.RUNNING, JobStatus.UNKNOWN})


def jobs_operator_requeue(*, user: User, job_ids: Iterable[uuid.UUID]) -> list[Job]:
    """An operator's "re-queue" button: QUEUED jobs missing from Redis are put back, failed,
    cancelled and stuck RUNNING jobs start over (``jobs_requeue``). Returns the jobs acted on."""
    _require_staff(user)
    ids = list(job_ids)
    # Missing ones first: the jobs jobs_requeue makes QUEUED are enqueued only after commit and
    # must not look missing to the first step.
    restored = enqueue_missing(Job.objects.filter(pk__in=ids))
    return [*restored, *jobs_requeue(user=user, job_ids=ids)]


def jobs_requeue(*, user: User, job_ids: Iterable[uuid.UUID]) -> list[Job]:
    """Operators run failed, cancelled or stuck (RUNNING) jobs again from scratch: their results are
    discarded and they join the end of their priority's queue. ``attempts`` keeps counting, so a
    stale run of the job that is somehow still alive can never write into the new one."""
    _require_staff(user)
    requeued = []
    for job in Job.objects.filter(pk__in=list(job_ids), status__in=REQUEUEABLE).select_related("backend"):
        with transaction.atomic():
            won = transition(
                job.job_id, allowed=[job.status], to=JobStatus.QUEUED, attempt=job.attempts,
                detail=f"re-queued by {user}", started_at=None, ended_at=None, progress=0, num_qubits=None,
                queued_at=timezone.now(), worker_name="", scheduling_mode=None,
            )  # fmt: skip
            if won:
                discard_outcome(job.job_id, rerun=True)
                enqueue_if_allowed(job)
        if won:
            requeued.append(job)
    return requeued


def jobs_force_delete(*, user: User, job_ids: Iterable[uuid.UUID]) -> list[Job]:
    """Operators delete jobs whatever they are doing (QCOS's ``delete_jobs`` with ``force``): a running
    job is force-stopped first, then everything deletable is deleted. Returns the jobs deleted."""
    _require_staff(user)
    ids = list(job_ids)
    running = jobs_changeable_by(user).filter(pk__in=ids, status__in=[JobStatus.RUNNING, JobStatus.CANCELLING])
    for job in running.only("pk"):
        try:
            job_force_stop(user=user, job_id=job.pk)
        except InvalidState:
            pass  # it ended meanwhile: deletable now
    return jobs_delete(user=user, job_ids=ids)
