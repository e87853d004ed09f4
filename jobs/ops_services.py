"""Operators' state changes that ``jobs.services`` does not have (issue 5: admin and /ops/).

``jobs_requeue`` starts failed, cancelled and stuck RUNNING jobs over; a QUEUED job whose entry
vanished from Redis needs no transition, only its queue entry back -- what ``reconcile_jobs``
does for all of them, here on an operator's demand for the ones they picked.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from drivers.models import BackendStatus
from jobs import queues
from jobs.choices import JobStatus
from jobs.models import Job
from jobs.services import jobs_requeue
from portal.errors import PermissionDenied
from projects.models import User


def _require_staff(user: User) -> None:
    if not user.is_staff:
        raise PermissionDenied("Only operators (staff) may do this.")


def jobs_enqueue_missing(*, user: User, job_ids: Iterable[uuid.UUID]) -> list[Job]:
    """Put back in their queue those of ``job_ids`` that are QUEUED, could run now (backend online,
    or a dry run / estimate) and are not waiting in Redis; returns them. The status stays QUEUED,
    so no event is recorded; a duplicate entry is harmless (one worker wins QUEUED -> RUNNING)."""
    _require_staff(user)
    ids = list(job_ids)
    if not ids:
        return []
    waiting = queues.waiting_ids()
    restored = []
    for job in Job.objects.filter(pk__in=ids, status=JobStatus.QUEUED).select_related("backend"):
        if str(job.job_id) in waiting:
            continue
        if job.occupies_backend and job.backend.status != BackendStatus.ONLINE:
            continue  # held on purpose until the backend is online again
        queues.enqueue(job.job_id, job.job_priority, job.backend.time_limit)
        restored.append(job)
    return restored


def jobs_operator_requeue(*, user: User, job_ids: Iterable[uuid.UUID]) -> list[Job]:
    """What an operator's "re-queue" button does: QUEUED jobs missing from Redis are put back
    (``jobs_enqueue_missing``), failed, cancelled and stuck RUNNING jobs start over
    (``jobs.services.jobs_requeue``). Returns the jobs acted on."""
    _require_staff(user)
    ids = list(job_ids)
    # Missing ones first: the jobs jobs_requeue makes QUEUED are enqueued only after commit, and
    # must not look missing to the second call.
    restored = jobs_enqueue_missing(user=user, job_ids=ids)
    return [*restored, *jobs_requeue(user=user, job_ids=ids)]
