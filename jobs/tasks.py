"""RQ entry point of jobs, by the dotted name RQ stores with each queued job (``queues.RUN_JOB``).
Thin: it hands the id to the module that owns the work."""

from __future__ import annotations

from jobs import runner
from jobs.services import job_draw_circuits


def run_job(job_id: str) -> str:
    """Run one job on its backend's driver (``jobs.runner``)."""
    return runner.run_job(job_id)


def draw_job(job_id: str) -> int:
    """Draw an ended job's circuits (``jobs.services.job_draw_circuits``)."""
    return job_draw_circuits(job_id=job_id)
