"""RQ entry points. Thin: fetch by id, call the services; one wrapper owns start, finish and failure."""

from __future__ import annotations

import logging
import os
import socket
import uuid

from rq.timeouts import JobTimeoutException

from drivers.errors import EXECUTION_ERROR, TIMEOUT, error_dict
from drivers.registry import get_driver
from jobs import callbacks, services
from jobs.models import Job

logger = logging.getLogger(__name__)


def worker_name() -> str:
    """The RQ worker's name (RQ sets it for the work horse), else host and pid."""
    return os.environ.get("RQ_WORKER_ID") or f"{socket.gethostname()}:{os.getpid()}"


def run_job(job_id: str) -> str:
    """Run one job on its backend's driver. Returns the job's status afterwards (or why it was skipped)."""
    job_uuid = uuid.UUID(job_id)
    job = services.job_start(job_id=job_uuid, worker_name=worker_name())
    if job is None:
        return "skipped: no longer QUEUED or backend not online"
    backend = job.backend
    driver = get_driver(backend.driver)
    attempt = job.attempts  # every write below loses if the job was recovered meanwhile

    def report(index, entry) -> None:
        services.job_record_entry(job_id=job_uuid, index=index, entry=entry, attempt=attempt)

    try:
        driver.run(backend, services.driver_job(job), report)
    except JobTimeoutException:
        services.job_fail(job_id=job_uuid, error=timeout_error(backend.time_limit), detail="timeout", attempt=attempt)
        return "FAILED"
    except Exception:
        # A bug, not a bad circuit (drivers report those per entry): log it with a reference the
        # user can quote, and fail the job without showing internals.
        ref = uuid.uuid4().hex[:12]
        logger.exception("job %s failed with an internal error (ref %s)", job_id, ref)
        services.job_fail(
            job_id=job_uuid,
            error=error_dict(EXECUTION_ERROR, f"internal error (ref {ref})"),
            detail=f"ref {ref}",
            attempt=attempt,
        )
        return "FAILED"
    if driver.results_fetch_mode == "async" and not job.dry_run and job.job_type != "estimation":
        return "RUNNING: the device answers through set_job_results"
    return services.job_finish(job_id=job_uuid, attempt=attempt) or "already ended"


def deliver_callback(delivery_id: str) -> None:
    """Send one callback delivery (on the callbacks queue, so slow receivers never delay jobs)."""
    callbacks.deliver(delivery_id)


def timeout_error(limit: int) -> dict:
    return error_dict(TIMEOUT, f"the job ran over its backend's time limit of {limit} s")


def job_horse_died(job_id: str, *, timed_out: bool) -> None:
    """Called by the worker's main process when a job's work horse died before finishing: over its
    time limit (the worker killed it) -> FAILED -105; crashed or killed -> recovered like a lost worker."""
    job = Job.objects.select_related("backend").filter(pk=job_id, status="RUNNING").first()
    if job is None:
        return
    if timed_out:
        services.job_fail(
            job_id=job.job_id, error=timeout_error(job.backend.time_limit), detail="timeout", attempt=job.attempts
        )
    else:
        services.job_recover_lost(
            job_id=job.job_id, attempt=job.attempts, reason="the process running it died (killed or out of memory)"
        )
