"""Timeslots (IQM's): a slot booked on a backend for a project lets only that project's jobs run while
it lasts; ``use_timeslot`` jobs, and every job of a backend that requires timeslots, wait for their
project's slot. Driven through JSON-RPC with real RQ workers on real Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends.models import Backend, Timeslot
from backends.services import timeslot_book, timeslot_cancel
from jobs import queues
from jobs.models import Job, JobResult
from jobs.services import job_recover_lost, job_start, jobs_operator_requeue, jobs_reconcile
from tests.conftest import error_of, result_of
from tests.factories import BELL, XX

pytestmark = pytest.mark.django_db


def book(staff, tenant, *, start=-60, end=3600, backend="dummy") -> Timeslot:
    """A slot of ``tenant``'s project from ``start`` to ``end`` seconds from now."""
    now = timezone.now()
    return timeslot_book(
        user=staff.user, backend=Backend.objects.get(name=backend), project=tenant.project,
        start_at=now + timedelta(seconds=start), end_at=now + timedelta(seconds=end),
    )  # fmt: skip


def move(slot: Timeslot, *, start: float, end: float) -> None:
    """Time passes: the slot now runs from ``start`` to ``end`` seconds from now (written around the
    service on purpose: nothing but the clock moved, so nothing was told)."""
    now = timezone.now()
    Timeslot.objects.filter(pk=slot.pk).update(
        start_at=now + timedelta(seconds=start), end_at=now + timedelta(seconds=end)
    )


def status(rpc, who, job) -> dict:
    return result_of(rpc("get_job_status", {"body": {"job_id": job["job_id"]}}, who=who))


def waiting(job) -> bool:
    return job["job_id"] in queues.waiting_ids()


def test_use_timeslot_needs_a_slot_of_the_project_on_the_backend(rpc, submit, tenant, other_tenant, staff):
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "use_timeslot": True}
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -409 and error["data"]["error_code"] == "no_booked_timeslots"
    book(staff, other_tenant)  # another project's slot is no slot of this one
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["data"]["error_code"] == "no_booked_timeslots"
    assert not Job.objects.exists()
    book(staff, tenant, start=7200, end=9000)  # one to come is enough
    job = result_of(rpc("submit_job", {"body": body}, who=tenant))
    assert job["use_timeslot"] is True and job["job_status"] == "QUEUED"


def test_a_backend_that_requires_timeslots_refuses_jobs_without_use_timeslot(rpc, tenant, staff):
    Backend.objects.filter(name="dummy").update(requires_timeslot=True)
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -409 and error["data"]["error_code"] == "timeslot_required"
    assert result_of(rpc("get_backends", {}, who=tenant))  # still listed
    backends = {b["name"]: b for b in result_of(rpc("get_backends", {}, who=tenant))}
    assert backends["dummy"]["requires_timeslot"] is True
    book(staff, tenant)
    assert result_of(rpc("submit_job", {"body": {**body, "use_timeslot": True}}, who=tenant))["job_status"] == "QUEUED"


def test_a_running_slot_runs_only_its_projects_jobs(
    rpc, submit, tenant, other_tenant, staff, run_worker, django_capture_on_commit_callbacks
):
    slot = book(staff, tenant)
    mine = submit(tenant)
    theirs = submit(other_tenant)
    assert waiting(mine) and not waiting(theirs)  # held in the database, out of Redis
    run_worker()
    done = status(rpc, tenant, mine)
    assert done["job_status"] == "COMPLETED" and done["scheduling_mode"] == "dedicated"
    held = status(rpc, other_tenant, theirs)
    assert held["job_status"] == "QUEUED" and held["queue_position"] is None
    assert held["estimate_basis"].startswith(
        f"backend dummy is booked for another project until {slot.end_at.isoformat()}"
    )
    assert held["estimated_start_at"] > slot.end_at.isoformat()

    with django_capture_on_commit_callbacks(execute=True):
        timeslot_cancel(user=staff.user, timeslot=slot)  # the backend is shared again at once
    assert waiting(theirs)
    run_worker()
    done = status(rpc, other_tenant, theirs)
    assert done["job_status"] == "COMPLETED" and done["scheduling_mode"] == "fairshare"


def test_a_slot_that_starts_keeps_other_jobs_already_in_line_from_starting(
    rpc, submit, tenant, other_tenant, staff, run_worker, django_capture_on_commit_callbacks
):
    theirs = submit(other_tenant)
    assert waiting(theirs)
    slot = book(staff, tenant, start=-1)
    mine = submit(tenant)
    run_worker()  # pops both; the other project's job is refused and stays QUEUED, held
    assert status(rpc, tenant, mine)["job_status"] == "COMPLETED"
    assert status(rpc, other_tenant, theirs)["job_status"] == "QUEUED" and not waiting(theirs)

    move(slot, start=-7200, end=-1)  # the slot ends; nothing was told: the next reconcile releases the job
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_reconcile(queued_grace=0)["enqueued_missing"] == 1
    run_worker()
    assert status(rpc, other_tenant, theirs)["job_status"] == "COMPLETED"


def test_a_use_timeslot_job_waits_for_its_slot_to_begin(
    rpc, submit, tenant, staff, run_worker, django_capture_on_commit_callbacks
):
    slot = book(staff, tenant, start=3600, end=7200)
    job = submit(tenant, use_timeslot=True)
    plain = submit(tenant)
    assert not waiting(job) and waiting(plain)
    held = status(rpc, tenant, job)
    assert held["estimate_basis"].startswith(
        f"waits for its project's timeslot on backend dummy from {slot.start_at.isoformat()}"
    )
    assert held["estimated_start_at"] > slot.start_at.isoformat()
    run_worker()
    assert status(rpc, tenant, job)["job_status"] == "QUEUED"
    assert status(rpc, tenant, plain)["scheduling_mode"] == "fairshare"
    assert jobs_reconcile(queued_grace=0)["enqueued_missing"] == 0  # still held: its slot has not begun

    move(slot, start=-1, end=3600)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_reconcile(queued_grace=0)["enqueued_missing"] == 1
    run_worker()
    done = status(rpc, tenant, job)
    assert done["job_status"] == "COMPLETED" and done["scheduling_mode"] == "dedicated"


def test_a_slot_is_held_by_one_project_at_a_time(tenant, other_tenant, staff):
    from core.exceptions import Conflict, InvalidParams, PermissionDenied

    book(staff, tenant, start=0, end=3600)
    with pytest.raises(Conflict) as overlap:
        book(staff, other_tenant, start=1800, end=5400)
    assert overlap.value.error_code == "timeslot_overlap"
    book(staff, other_tenant, start=3600, end=5400)  # back to back is fine
    book(staff, other_tenant, start=0, end=3600, backend="aer_simulator")  # another backend is another calendar
    with pytest.raises(InvalidParams):
        book(staff, tenant, start=9000, end=8000)
    with pytest.raises(InvalidParams):
        book(staff, tenant, start=9000, end=9000 + 32 * 86400)
    with pytest.raises(PermissionDenied):
        book(tenant, tenant, start=90000, end=93600)  # members do not book
    assert Timeslot.objects.count() == 3


def test_a_rerun_keeps_the_entries_its_owner_cancelled(
    rpc, submit, tenant, staff, run_worker, django_capture_on_commit_callbacks
):
    """A job whose worker was lost, or that an operator re-queues, runs again from scratch but for the
    entries its owner cancelled before it ran: they stay cancelled and never run."""
    job = submit(tenant, source_code=[BELL, XX, BELL], backend="aer_simulator")
    result_of(rpc("cancel_job_entries", {"body": {"job_id": job["job_id"], "indexes": [1]}}, who=tenant))
    started = job_start(job_id=job["job_id"])
    assert job_recover_lost(job_id=started.job_id, attempt=started.attempts, reason="test") == "QUEUED"
    assert list(JobResult.objects.filter(job_id=job["job_id"]).values_list("index", "status")) == [(1, "CANCELLED")]
    run_worker()
    done = result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert [(e["index"], e["metadata"]["status"]) for e in done["results"]] == [
        (0, "COMPLETED"), (1, "CANCELLED"), (2, "COMPLETED"),
    ]  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):  # CANCELLED by its entries: an operator re-queues it
        assert jobs_operator_requeue(user=staff.user, job_ids=[started.job_id])
    assert list(JobResult.objects.filter(job_id=job["job_id"]).values_list("index", "status")) == [(1, "CANCELLED")]
    run_worker()
    again = result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert [e["metadata"]["status"] for e in again["results"]] == ["COMPLETED", "CANCELLED", "COMPLETED"]
    assert again["results"][1]["results"] is None  # it never ran


def test_the_header_is_stored_as_sent(rpc, submit, tenant):
    header = {"circuits": [{"name": "bell", "metadata": {"run": 3, "tags": ["a"]}}]}
    job = submit(tenant, header=header)
    assert status(rpc, tenant, job)["header"] == header
    assert submit(tenant)["header"] == {}
    big = {"blob": "x" * (64 * 1024)}
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "header": big}
    assert error_of(rpc("submit_job", {"body": body}, who=tenant))["code"] == -32602
