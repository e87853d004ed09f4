"""jobs/rules.py: the scheduling rules, each asked directly."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from backends.models import BackendStatus
from jobs.models import Job
from jobs.rules import handed_to_device, may_be_enqueued, may_be_enqueued_q, occupies_backend
from tests.factories import submit_bell


def job(*, dry_run=False, job_type="", backend_status=BackendStatus.ONLINE):
    return SimpleNamespace(dry_run=dry_run, job_type=job_type, backend=SimpleNamespace(status=backend_status))


@pytest.mark.parametrize(
    ("dry_run", "job_type", "occupies"),
    [(False, "", True), (False, "sampling", True), (True, "", False), (False, "estimation", False)],
)
def test_dry_runs_and_estimates_do_not_occupy_the_backend(dry_run, job_type, occupies):
    assert occupies_backend(job(dry_run=dry_run, job_type=job_type)) is occupies


@pytest.mark.parametrize("status", [BackendStatus.PAUSED, BackendStatus.OFFLINE])
def test_a_held_backend_keeps_real_runs_out_of_redis_but_not_dry_runs(status):
    """A job that occupies its backend waits in the database while the backend is not online."""
    assert may_be_enqueued(job(backend_status=BackendStatus.ONLINE))
    assert not may_be_enqueued(job(backend_status=status))
    assert may_be_enqueued(job(backend_status=status, dry_run=True))
    assert may_be_enqueued(job(backend_status=status, job_type="estimation"))


def test_only_an_async_drivers_real_run_is_handed_to_the_device():
    assert handed_to_device(job(), "async")
    assert not handed_to_device(job(), "sync")
    assert not handed_to_device(job(dry_run=True), "async")
    assert not handed_to_device(job(job_type="estimation"), "async")


@pytest.mark.django_db
def test_the_query_twin_selects_what_the_rule_allows(tenant):
    """may_be_enqueued_q picks exactly the jobs may_be_enqueued allows, the backend paused."""
    from backends.models import Backend

    submit_bell(tenant, job_name="run")
    submit_bell(tenant, job_name="dry", dry_run=True)
    submit_bell(tenant, job_name="estimate", job_type="estimation")
    Backend.objects.filter(name="dummy").update(status=BackendStatus.PAUSED)
    jobs = Job.objects.select_related("backend")
    assert {j.job_name for j in jobs.filter(may_be_enqueued_q())} == {j.job_name for j in jobs if may_be_enqueued(j)}
    assert {j.job_name for j in jobs.filter(may_be_enqueued_q())} == {"dry", "estimate"}
