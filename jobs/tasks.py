"""RQ entry points. Thin: fetch by id, call the services; one wrapper owns start, finish and failure."""

from __future__ import annotations

import logging
import os
import socket
import uuid

from rq.timeouts import JobTimeoutException

from drivers.errors import EXECUTION_ERROR, TIMEOUT, error_dict
from drivers.registry import get_driver
from jobs import services

logger = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(job_id: str) -> str:
    """Run one job on its backend's driver. Returns the job's final status (or why it was skipped)."""
    job_uuid = uuid.UUID(job_id)
    job = services.job_start(job_id=job_uuid, worker_name=worker_name())
    if job is None:
        return "skipped: no longer QUEUED or backend not online"
    backend = job.backend

    def report(index, entry) -> None:
        services.job_record_entry(job_id=job_uuid, index=index, entry=entry)

    try:
        get_driver(backend.driver).run(backend, services.driver_job(job), report)
    except JobTimeoutException:
        services.job_fail(
            job_id=job_uuid,
            error=error_dict(TIMEOUT, f"the job ran over its backend's time limit of {backend.time_limit} s"),
            detail="timeout",
        )
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
    return services.job_finish(job_id=job_uuid) or "already ended"
