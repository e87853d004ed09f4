"""RQ entry point of jobs, by the dotted name RQ stores with each queued job (``queues.RUN_JOB``).
Thin: it hands the id to the module that owns the work."""

from __future__ import annotations

from jobs import runner


def run_job(job_id: str) -> str:
    """Run one job on its backend's driver (``jobs.runner``)."""
    return runner.run_job(job_id)
