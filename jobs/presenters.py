"""How jobs look to clients: the field sets of seed 000, shared by every API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drivers.base import DriverJob
from jobs import queues
from jobs.choices import JobStatus
from jobs.models import Job, JobResult


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _tags(job: Job) -> list[str]:
    return sorted(tag.name for tag in job.tags.all())


def job_summary(job: Job) -> dict[str, Any]:
    """An item of ``get_jobs``: the seed's field set plus owner, code type and start time."""
    return {
        "job_id": str(job.job_id),
        "job_name": job.job_name,
        "job_status": job.status,
        "job_priority": job.job_priority,
        "project_id": str(job.project.project_id),
        "user_id": str(job.user.user_id),
        "code_type": job.code_type,
        "backend": job.backend.name,
        "transpiler": job.transpiler,
        "shots": job.shots,
        "progress": job.progress,
        "code_compress_level": job.code_compress_level,
        "tags": _tags(job),
        "created_at": _ts(job.created_at),
        "started_at": _ts(job.started_at),
        "ended_at": _ts(job.ended_at),
    }


def job_status_view(job: Job) -> dict[str, Any]:
    """``get_job_status``: a ``get_jobs`` item and the rest of the job, without source and results (the queue
    position is added by ``with_queue_position``)."""
    return {
        **job_summary(job),
        "description": job.description,
        "transpiler_options": job.transpiler_options,
        "driver_options": job.driver_options,
        "job_type": job.job_type,
        "profiling": job.profiling,
        "dry_run": job.dry_run,
        "enable_circuit_aggregation": job.enable_circuit_aggregation,
        "callbacks": job.callbacks,
        "num_qubits": job.num_qubits,
        "updated_at": _ts(job.updated_at),
        "callback_deliveries": deliveries_view(job),
    }


def with_queue_position(data: dict[str, Any], job: Job) -> dict[str, Any]:
    position = queues.position(job.job_id, job.job_priority) if job.status == JobStatus.QUEUED else None
    return {**data, "queue_position": position}


def job_full(job: Job) -> dict[str, Any]:
    """The whole job as ``submit_job`` and ``update_job`` answer it (source decompressed)."""
    data = job_status_view(job)
    data["source_code"] = job.source_code
    return data


def entry_view(entry: JobResult) -> dict[str, Any]:
    """One result entry in the seed's shape; ``error`` only on failure, ``memory`` when asked for."""
    data: dict[str, Any] = {
        "results": entry.results,
        "num_qubits": entry.num_qubits,
        "metadata": entry.metadata,
        "profiling": entry.profiling,
    }
    if entry.error:
        data["error"] = entry.error
    if entry.memory is not None:
        data["memory"] = entry.memory
    return data


def job_results_view(job: Job) -> dict[str, Any]:
    """``get_job_results``: the full job with ``results`` in ``source_code`` order."""
    data = job_full(job)
    data["results"] = [entry_view(entry) for entry in sorted(job.entries.all(), key=lambda e: e.index)]
    return data


def driver_job(job: Job) -> DriverJob:
    """What the driver sees of a job."""
    return DriverJob(
        job_id=str(job.job_id),
        code_type=job.code_type,
        source_code=job.source_code or [],
        shots=job.shots,
        transpiler=job.transpiler,
        transpiler_options=job.transpiler_options or {},
        driver_options=job.driver_options or {},
        profiling=frozenset(job.profiling or []),
        dry_run=job.dry_run,
        job_type=job.job_type,
        enable_circuit_aggregation=job.enable_circuit_aggregation,
    )


def deliveries_view(job: Job) -> list[dict[str, Any]]:
    """A job's deliveries and their attempts, for whoever may read the job: two queries at most."""
    if not job.callbacks:
        return []
    # Through the reverse relations: the webhooks app that owns these rows sits above this one.
    deliveries = job.callback_deliveries.all().prefetch_related("attempt_log")
    return [
        {
            "delivery_id": str(delivery.delivery_id),
            "name": delivery.name,
            "type": delivery.type,
            "event": delivery.event,
            "job_status": delivery.job_status,
            "url": delivery.url,
            "status": delivery.status,
            "attempts": delivery.attempts,
            "attempt_log": [
                {
                    "at": attempt.at.isoformat(),
                    "status_code": attempt.status_code,
                    "error": attempt.error or None,
                    "duration": attempt.duration,
                }
                for attempt in sorted(delivery.attempt_log.all(), key=lambda a: (a.at, a.id))
            ],
            "created_at": delivery.created_at.isoformat(),
            "updated_at": delivery.updated_at.isoformat(),
        }
        for delivery in deliveries
    ]
