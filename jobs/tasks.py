"""RQ entry points. Thin: fetch by id, call the services; one wrapper owns start, finish and failure."""

from __future__ import annotations

import logging
import os
import socket
import uuid

from rq.timeouts import JobTimeoutException

from drivers.errors import EXECUTION_ERROR, TIMEOUT, WORKER_LOST, error_dict
from drivers.registry import get_driver
from jobs import callbacks, services
from jobs.models import Job

logger = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(job_id: str) -> str:
    """Run one job on its backend's driver. Returns the job's status afterwards (or why it was skipped)."""
    job_uuid = uuid.UUID(job_id)
    job = services.job_start(job_id=job_uuid, worker_name=worker_name())
    if job is None:
        return "skipped: no longer QUEUED or backend not online"
    backend = job.backend
    driver = get_driver(backend.driver)

    def report(index, entry) -> None:
        services.job_record_entry(job_id=job_uuid, index=index, entry=entry)

    try:
        driver.run(backend, services.driver_job(job), report)
    except JobTimeoutException:
        services.job_fail(job_id=job_uuid, error=timeout_error(backend.time_limit), detail="timeout")
        return "FAILED"
    except Exception:
        # A bug, not a bad circuit (drivers report those per entry): log it with a reference the
        # user can quote, and fail the job without showing internals.
        ref = uuid.uuid4().hex[:12]
        logger.exception("job %s failed with an internal error (ref %s)", job_id, ref)
        services.job_fail(
            job_id=job_uuid, error=error_dict(EXECUTION_ERROR, f"internal error (ref {ref})"), detail=f"ref {ref}"
        )
        return "FAILED"
    if driver.results_fetch_mode == "async" and not job.dry_run and job.job_type != "estimation":
        return "RUNNING: the device answers through set_job_results"
    return services.job_finish(job_id=job_uuid) or "already ended"


def deliver_callback(delivery_id: str) -> None:
    """Send one callback delivery (on the callbacks queue, so slow receivers never delay jobs)."""
    callbacks.deliver(delivery_id)


def timeout_error(limit: int) -> dict:
    return error_dict(TIMEOUT, f"the job ran over its backend's time limit of {limit} s")


def job_horse_died(job_id: str, *, timed_out: bool) -> None:
    """Called by the worker's main process when a job's work horse died before finishing."""
    job = Job.objects.select_related("backend").filter(pk=job_id).first()
    if job is None:
        return
    if timed_out:
        services.job_fail(job_id=job.job_id, error=timeout_error(job.backend.time_limit), detail="timeout")
    else:
        services.job_fail(
            job_id=job.job_id,
            error=error_dict(WORKER_LOST, "the process running the job died (out of memory or a crash)"),
            detail="worker lost",
        )
