"""Running one job, start to finish, as NetBox's JobRunner does: the one wrapper that starts a job,
runs its driver, finishes it, and tells an expected failure (a bad circuit: that entry FAILED with its
code; over the time or memory limit: the job FAILED -105 or -104) from a bug (logged with a reference
the user can quote). Also what a work horse's death means for its job."""

from __future__ import annotations

import logging
import os
import signal
import socket
import uuid
from dataclasses import replace

from rq.timeouts import JobTimeoutException

from drivers import memory
from drivers.base import EntryResult
from drivers.errors import EXECUTION_ERROR, PASS_ON, TIMEOUT, error_dict
from drivers.registry import get_driver
from jobs import horse, services
from jobs.models import Job
from jobs.presenters import driver_job
from jobs.rules import handed_to_device
from jobs.selectors import cancelled_entries

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
    horse.limit_memory(backend.memory_limit_bytes)
    skip = cancelled_entries(job)
    reported: set[int] = set(skip)
    last: list[tuple[int, EntryResult]] = []  # the final entry, stored with the job's end (one commit)

    def report(index, entry) -> None:
        if index in reported:
            return  # a driver's duplicate: the first outcome stands
        reported.add(index)
        if len(reported) == job.num_entries:
            last.append((index, entry))
        else:
            services.job_record_entry(job_id=job_uuid, index=index, entry=entry, attempt=attempt)

    def store_last() -> None:
        """The run broke off after its final entry: that entry keeps its outcome."""
        for index, entry in last:
            services.job_record_entry(job_id=job_uuid, index=index, entry=entry, attempt=attempt)
        last.clear()

    try:
        with horse.time_limit(backend.time_limit):
            driver.run(backend, replace(driver_job(job), skip=skip), report)
    except (JobTimeoutException, horse.JobTimeLimit):
        horse.spend("time limit")  # interrupted anywhere, a library may have been mid-update
        store_last()
        services.job_fail(job_id=job_uuid, error=timeout_error(backend.time_limit), detail="timeout", attempt=attempt)
        return "FAILED"
    except MemoryError:
        # Seen in CI: the failure's own writes raised MemoryError under the cap, and the job stayed
        # RUNNING until reconcile. The process is spent anyway.
        horse.lift_memory_limit()
        horse.spend("memory limit")
        store_last()
        error = memory_limit_error(backend.memory_limit_bytes)
        services.job_fail(job_id=job_uuid, error=error, detail="memory limit", attempt=attempt)
        return "FAILED"
    except PASS_ON:
        raise  # the worker's own shutdown: the job is recovered, not failed
    except BaseException:  # native panics (pyo3's PanicException) included: they end the job at once
        # A bug, not a bad circuit (drivers report those per entry): log it with a reference the
        # user can quote, and fail the job without showing internals.
        horse.lift_memory_limit()  # a native library's failed allocation may surface as any exception
        horse.spend("internal error")
        ref = uuid.uuid4().hex[:12]
        logger.exception("job %s failed with an internal error (ref %s)", job_id, ref)
        store_last()
        services.job_fail(
            job_id=job_uuid,
            error=error_dict(EXECUTION_ERROR, f"internal error (ref {ref})"),
            detail=f"ref {ref}",
            attempt=attempt,
        )
        return "FAILED"
    if handed_to_device(job, driver.results_fetch_mode):
        store_last()
        return "RUNNING: the device answers through set_job_results"
    return services.job_finish(job_id=job_uuid, attempt=attempt, last=last[0] if last else None) or "already ended"


def timeout_error(limit: int) -> dict:
    return error_dict(TIMEOUT, f"the job ran over its backend's time limit of {limit} s")


def memory_limit_error(limit_bytes: int) -> dict:
    return error_dict(EXECUTION_ERROR, f"the job ran over its memory limit of {limit_bytes // 2**20} MiB")


# A horse that dies of these signals died of its job: aborted (a failed allocation under the cap
# aborts Rust and C++ code), or crashed in native code. Running it again would only do the same.
_JOB_SIGNALS = {signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE}


def horse_died(
    job_id: str, *, timed_out: bool, signal_number: int | None = None, vm_start: int = 0, vm_peak: int = 0
) -> None:
    """Called by the worker's main process when a job's work horse died before finishing: over its
    time limit (the worker killed it) -> FAILED -105; grown toward its memory cap before it died ->
    FAILED -104 "memory limit" at once; aborted or crashed by its job otherwise -> FAILED -104 at
    once; killed from outside -> recovered like a lost worker. ``vm_start`` and ``vm_peak`` are the
    horse's virtual size at its start and at its last recorded peak."""
    job = Job.objects.select_related("backend").filter(pk=job_id).first()
    if job is None:
        return
    if job.status == "QUEUED":
        # Its process died before it could start the job (it was handed to one killed meanwhile): the
        # job lost nothing, and RQ has dropped it, so it goes back in line now.
        services.job_enqueue_unstarted(job_id=job.job_id)
        return
    if job.status != "RUNNING":
        return
    limit = job.backend.memory_limit_bytes
    if timed_out:
        services.job_fail(
            job_id=job.job_id, error=timeout_error(job.backend.time_limit), detail="timeout", attempt=job.attempts
        )
    elif vm_start and memory.grew_near_cap(vm_start, vm_peak, limit):
        error = memory_limit_error(limit)
        services.job_fail(job_id=job.job_id, error=error, detail="memory limit", attempt=job.attempts)
    elif signal_number in _JOB_SIGNALS:
        name = signal.Signals(signal_number).name
        error = error_dict(EXECUTION_ERROR, f"the process running the job crashed ({name})")
        services.job_fail(job_id=job.job_id, error=error, detail=f"crashed ({name})", attempt=job.attempts)
    else:
        services.job_recover_lost(
            job_id=job.job_id, attempt=job.attempts, reason="the process running it died (killed or out of memory)"
        )
