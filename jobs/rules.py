"""The scheduling rules of jobs, each written once: what occupies a backend, which QUEUED jobs may
wait in Redis (and so start), and when a run is handed to an asynchronous device.

Every service, selector, task and page asks these functions (or, in a query, their ``Q`` twins
defined beside them) instead of restating the rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from backends.models import BackendStatus
from jobs.choices import ENTRY_STATUS_PRIORITY, JobStatus

ESTIMATION = "estimation"  # the job_type that estimates a job's cost instead of running it


def occupies_backend(job: Any) -> bool:
    """Dry runs and estimates never use the target backend, so they run even while it is paused."""
    return not job.dry_run and job.job_type != ESTIMATION


def may_be_enqueued(job: Any) -> bool:
    """Whether a QUEUED job may wait in Redis now, and so start: its backend is online, or it does
    not occupy it. A job that may not is held in the database until its backend is online again."""
    return job.backend.status == BackendStatus.ONLINE or not occupies_backend(job)


def may_be_enqueued_q() -> Q:
    """``may_be_enqueued`` as a filter on jobs, for the queries that count or list them."""
    return Q(backend__status=BackendStatus.ONLINE) | Q(dry_run=True) | Q(job_type=ESTIMATION)


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
