"""Time limits hold on native code (Aer and neal ignore Python signals): the worker's main process
kills an overdue work horse, the job ends FAILED -105, and the worker carries on."""

from __future__ import annotations

import numpy as np
import pytest

from backends.models import Backend
from jobs.models import Job
from jobs.services import JobSpec, job_submit
from tests.factories import BELL, make_tenant
from tests.workers import run_burst_worker

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_annealing_over_time_limit_is_killed_and_worker_goes_on():
    """A neal run far longer than its backend's 1 s limit ends FAILED -105; the next job still completes."""
    tenant = make_tenant()
    Backend.objects.filter(name="qubo_sa").update(time_limit=1)
    rng = np.random.default_rng(0)
    matrix = np.triu(rng.integers(-10, 10, size=(300, 300))).tolist()
    slow = job_submit(
        user=tenant.user,
        project=tenant.project,
        spec=JobSpec(
            code_type="qubo", source_code=[matrix], backend="qubo_sa",
            driver_options={"num_reads": 1000, "num_sweeps": 100_000},
        ),
    )  # fmt: skip
    quick = job_submit(
        user=tenant.user, project=tenant.project, spec=JobSpec(code_type="qasm2", source_code=[BELL], backend="dummy")
    )
    # Unkilled, the slow job would anneal for tens of minutes; the timeout fails the test instead.
    run_burst_worker(timeout=120)
    slow = Job.objects.get(pk=slow.pk)
    assert slow.status == "FAILED"
    entry = slow.entries.get()
    assert entry.error["code"] == -105
    assert "time limit of 1 s" in entry.error["message"]
    assert Job.objects.get(pk=quick.pk).status == "COMPLETED"
