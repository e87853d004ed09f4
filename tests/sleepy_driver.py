"""A driver for the recovery tests: it holds a job "running" while a Redis key says so, then
completes it -- so a test can kill the worker mid-job and later let the re-run finish at once. Each
entry's metadata names the process that ran it (``pid``)."""

from __future__ import annotations

import os
import time

import django_rq
from django.utils import timezone

from drivers.base import Driver, DriverJob, EntryResult, Report
from drivers.registry import register

HOLD_KEY = "portal:test:hold:{}"


def hold(job_id: str) -> None:
    django_rq.get_connection("default").set(HOLD_KEY.format(job_id), "1", ex=300)


def release(job_id: str) -> None:
    django_rq.get_connection("default").delete(HOLD_KEY.format(job_id))


@register("sleepy")
class SleepyDriver(Driver):
    def run(self, backend, job: DriverJob, report: Report) -> None:
        conn = django_rq.get_connection("default")
        deadline = time.monotonic() + 120
        while conn.exists(HOLD_KEY.format(job.job_id)) and time.monotonic() < deadline:
            time.sleep(0.02)
        for index in range(len(job.source_code)):
            metadata = {"results_fetch_mode": "sync", "status": "COMPLETED", "ended_at": timezone.now().isoformat(),
                        "pid": os.getpid()}  # fmt: skip
            report(index, EntryResult(status="COMPLETED", results={"0": job.shots}, num_qubits=1, metadata=metadata))
