"""RQ entry points, by the dotted names RQ stores with each queued job. Thin: each hands an id to
the module that owns the work."""

from __future__ import annotations

from jobs import callbacks, runner


def run_job(job_id: str) -> str:
    """Run one job on its backend's driver (``jobs.runner``)."""
    return runner.run_job(job_id)


def deliver_callback(delivery_id: str) -> None:
    """Send one callback delivery (on the callbacks queue, so slow receivers never delay jobs)."""
    callbacks.deliver(delivery_id)
