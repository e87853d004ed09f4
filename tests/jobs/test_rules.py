"""jobs/rules.py: the scheduling rules, each asked directly."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from backends.models import BackendStatus
from jobs.models import Job
from jobs.rules import handed_to_device, may_be_enqueued, may_be_enqueued_q, occupies_backend, scheduling_mode
from tests.factories import submit_bell

A, B = 1, 2  # two projects' ids


def job(
    *, dry_run=False, job_type="", backend_status=BackendStatus.ONLINE, project=A, use_timeslot=False, required=False
):
    return SimpleNamespace(
        dry_run=dry_run, job_type=job_type, project_id=project, use_timeslot=use_timeslot,
        backend=SimpleNamespace(status=backend_status, requires_timeslot=required),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("dry_run", "job_type", "occupies"),
    [(False, "", True), (False, "sampling", True), (True, "", False), (False, "estimation", False)],
)
def test_dry_runs_and_estimates_do_not_occupy_the_backend(dry_run, job_type, occupies):
    assert occupies_backend(job(dry_run=dry_run, job_type=job_type)) is occupies


@pytest.mark.parametrize("status", [BackendStatus.PAUSED, BackendStatus.OFFLINE])
def test_a_held_backend_keeps_real_runs_out_of_redis_but_not_dry_runs(status):
    """A job that occupies its backend waits in the database while the backend is not online."""
    assert may_be_enqueued(job(backend_status=BackendStatus.ONLINE), holder=None)
    assert not may_be_enqueued(job(backend_status=status), holder=None)
    assert not may_be_enqueued(job(backend_status=status), holder=A)
    assert may_be_enqueued(job(backend_status=status, dry_run=True), holder=None)
    assert may_be_enqueued(job(backend_status=status, job_type="estimation"), holder=None)


def test_a_running_timeslot_lets_only_its_projects_jobs_run():
    """While project A's slot holds the backend, A's jobs run (with use_timeslot or not) and B's wait."""
    assert may_be_enqueued(job(project=A), holder=A)
    assert may_be_enqueued(job(project=A, use_timeslot=True), holder=A)
    assert not may_be_enqueued(job(project=B), holder=A)
    assert not may_be_enqueued(job(project=B, use_timeslot=True), holder=A)
    assert may_be_enqueued(job(project=B, dry_run=True), holder=A)  # a dry run never occupies the backend


def test_outside_timeslots_a_job_that_needs_one_waits():
    """use_timeslot, or a backend that requires timeslots, keeps a job waiting until its project's slot."""
    assert may_be_enqueued(job(), holder=None)
    assert not may_be_enqueued(job(use_timeslot=True), holder=None)
    assert not may_be_enqueued(job(required=True), holder=None)
    assert may_be_enqueued(job(required=True), holder=A)


def test_a_job_started_in_its_projects_timeslot_is_dedicated():
    assert scheduling_mode(job(project=A), holder=A) == "dedicated"
    assert scheduling_mode(job(project=A), holder=None) == "fairshare"
    assert scheduling_mode(job(project=A, dry_run=True), holder=B) == "fairshare"


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
    now = timezone.now()
    allowed = {j.job_name for j in jobs.filter(may_be_enqueued_q(now))}
    assert allowed == {j.job_name for j in jobs if may_be_enqueued(j, holder=None)}
    assert allowed == {"dry", "estimate"}


@pytest.mark.django_db
def test_the_query_twin_follows_the_timeslots(tenant, other_tenant, staff):
    """may_be_enqueued_q picks exactly the jobs may_be_enqueued allows, before, during and after a slot."""
    from backends.models import Backend
    from backends.services import timeslot_book

    dummy = Backend.objects.get(name="dummy")
    now = timezone.now()
    timeslot_book(
        user=staff.user, backend=dummy, project=tenant.project, start_at=now + timedelta(hours=1),
        end_at=now + timedelta(hours=2),
    )  # fmt: skip
    submit_bell(tenant, job_name="a")
    submit_bell(tenant, job_name="a-slot", use_timeslot=True)
    submit_bell(other_tenant, job_name="b")
    submit_bell(other_tenant, job_name="b-dry", dry_run=True)
    jobs = Job.objects.select_related("backend")
    for at, expected in [
        (now, {"a", "b", "b-dry"}),
        (now + timedelta(hours=1, minutes=30), {"a", "a-slot", "b-dry"}),
        (now + timedelta(hours=3), {"a", "b", "b-dry"}),
    ]:
        holder = tenant.project.pk if expected == {"a", "a-slot", "b-dry"} else None
        assert {j.job_name for j in jobs.filter(may_be_enqueued_q(at))} == expected
        assert {j.job_name for j in jobs if may_be_enqueued(j, holder=holder)} == expected
