"""An example of a device whose results come later (``results_fetch_mode: async``).

This is the extension point for real hardware: ``run`` hands the job to the device and returns
without reporting entries, so the job stays RUNNING; the device's own process (or a poller)
later calls JSON-RPC ``set_job_results`` with a ``driver``-scoped token, which stores the results,
ends the job and fires its callbacks. Here the "device" is a Redis list that a test (or a script)
pops job ids from; a real driver would POST the circuits to the device's API instead.
"""

from __future__ import annotations

from core.redis import client as redis_client
from drivers.base import Driver, DriverJob, Report
from drivers.registry import get_driver, register
from drivers.transpilers import TRANSPILERS

SUBMITTED_KEY = "portal:async_example:submitted"


@register("async_example")
class AsyncExampleDriver(Driver):
    """A device that answers later, through set_job_results (a Redis list stands in for it)."""

    results_fetch_mode = "async"
    code_types = ("qasm", "qasm2", "qasm3")
    transpilers = TRANSPILERS

    def run(self, backend, job: DriverJob, report: Report) -> None:
        if job.dry_run or job.job_type == "estimation":
            # Neither occupies the device: parse, transpile and sample or estimate locally.
            get_driver("aer").run(backend, job, report)
            return
        redis_client().rpush(SUBMITTED_KEY, job.job_id)
