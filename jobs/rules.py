"""The scheduling rules of jobs, each written once: what occupies a backend, which QUEUED jobs may
wait in Redis (and so start), and when a run is handed to an asynchronous device.

Every service, selector, task and page asks these functions (or, in a query, their ``Q`` twins
defined beside them) instead of restating the rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q

from backends.models import BackendStatus
from backends.selectors import timeslots_at
from jobs.choices import ENTRY_STATUS_PRIORITY, JobStatus, SchedulingMode

ESTIMATION = "estimation"  # the job_type that estimates a job's cost instead of running it


def occupies_backend(job: Any) -> bool:
    """Dry runs and estimates never use the target backend, so they run even while it is paused."""
    return not job.dry_run and job.job_type != ESTIMATION


def needs_timeslot(job: Any) -> bool:
    """A job runs only in its project's timeslot when it was submitted with ``use_timeslot`` or its
    backend requires one."""
    return job.use_timeslot or job.backend.requires_timeslot


def may_be_enqueued(job: Any, *, holder: int | None) -> bool:
    """Whether a QUEUED job may wait in Redis now, and so start. ``holder``: the project whose
    timeslot holds the job's backend now (``backends.selectors.timeslot_holder``), None when none does.

    A dry run or an estimate always may (it does not occupy the backend). Any other job needs its
    backend online, and then: while a slot runs, only the holder's jobs run; outside slots, every job
    that does not need a timeslot. A job that may not is held in the database until its backend is
    online again or the slots allow it."""
    if not occupies_backend(job):
        return True
    if job.backend.status != BackendStatus.ONLINE:
        return False
    return job.project_id == holder if holder is not None else not needs_timeslot(job)


def may_be_enqueued_q(at: datetime) -> Q:
    """``may_be_enqueued`` as a filter on jobs at time ``at``, for the queries that count or list them."""
    running = timeslots_at(at).filter(backend=OuterRef("backend_id"))
    fairshare = ~Exists(running) & Q(use_timeslot=False, backend__requires_timeslot=False)
    held_by_own_project = Exists(running.filter(project=OuterRef("project_id")))
    return (
        Q(dry_run=True)
        | Q(job_type=ESTIMATION)
        | (Q(backend__status=BackendStatus.ONLINE) & (fairshare | held_by_own_project))
    )


def scheduling_mode(job: Any, *, holder: int | None) -> str:
    """How a job that starts now gets its backend (IBM's ``scheduling_mode``): ``dedicated`` in its
    project's timeslot, else ``fairshare``."""
    return SchedulingMode.DEDICATED if holder is not None and holder == job.project_id else SchedulingMode.FAIRSHARE


def handed_to_device(job: Any, results_fetch_mode: str) -> bool:
    """Whether a run that returned leaves the job RUNNING until the device answers through
    ``set_job_results`` (an async driver's real run), instead of finishing it now. Such a job has
    no worker alive while it waits, so recovery must not take it for lost."""
    return results_fetch_mode == "async" and occupies_backend(job)


def status_from_entries(statuses: Iterable[str], num_entries: int) -> str:
    """A job's final status from its entries' (``ENTRY_STATUS_PRIORITY``); FAILED when any entry has no
    outcome at all."""
    present = list(statuses)
    if len(present) < num_entries:
        return JobStatus.FAILED
    return next((status for status in ENTRY_STATUS_PRIORITY if status in present), JobStatus.COMPLETED)
