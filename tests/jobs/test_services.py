"""The job state machine (SPEC §2): one conditional update per transition, one winner per race."""

from __future__ import annotations

import dataclasses
import threading
import uuid

import pytest
from django.db import connection

from drivers.base import EntryResult
from jobs import services
from jobs.models import Job, JobEvent, JobResult
from jobs.services import JobSpec
from tests.factories import BELL, make_tenant


def new_job(tenant, **fields) -> Job:
    spec = JobSpec(code_type="qasm2", source_code=[BELL, BELL], backend="dummy", **fields)
    return services.job_submit(user=tenant.user, project=tenant.project, spec=spec)


@pytest.mark.django_db
def test_events_record_every_transition(tenant):
    """Each status change leaves an event with its time, in order."""
    job = new_job(tenant)
    services.job_start(job_id=job.job_id)
    for index in range(2):
        services.job_record_entry(job_id=job.job_id, index=index, entry=EntryResult(status="COMPLETED", results={}))
    assert services.job_finish(job_id=job.job_id) == "COMPLETED"
    events = list(JobEvent.objects.filter(job=job).values_list("status", flat=True))
    assert events == ["QUEUED", "RUNNING", "COMPLETED"]


@pytest.mark.django_db
def test_cancel_after_start_loses(tenant):
    """Once a worker started the job, a user's cancel does nothing."""
    job = new_job(tenant)
    assert services.job_start(job_id=job.job_id) is not None
    assert services.jobs_cancel(user=tenant.user, job_ids=[job.job_id]) == []
    assert Job.objects.get(pk=job.pk).status == "RUNNING"


@pytest.mark.django_db
def test_start_after_cancel_loses(tenant):
    """A worker that comes after a cancel does not start the job."""
    job = new_job(tenant)
    assert len(services.jobs_cancel(user=tenant.user, job_ids=[job.job_id])) == 1
    assert services.job_start(job_id=job.job_id) is None
    assert Job.objects.get(pk=job.pk).status == "CANCELLED"


@pytest.mark.django_db
def test_progress_moves_per_entry(tenant):
    """progress is the percentage of entries that ended; num_qubits the largest among them."""
    job = new_job(tenant)
    services.job_start(job_id=job.job_id)
    services.job_record_entry(job_id=job.job_id, index=0, entry=EntryResult(status="COMPLETED", num_qubits=3))
    job.refresh_from_db()
    assert (job.progress, job.num_qubits) == (50, 3)


@pytest.mark.django_db
def test_entry_is_stored_as_the_driver_gave_it(tenant):
    """A worker's entry keeps every field; an absent value is SQL NULL (found by ``isnull``), not
    JSON null, as the ORM's own save writes it."""
    job = new_job(tenant)
    services.job_start(job_id=job.job_id)
    entry = EntryResult(
        status="COMPLETED", results={"00": 3, "11": 5}, num_qubits=2, metadata={"shots": 8},
        profiling={"run_ms": 1.5}, memory=["00", "11"], transpiled="OPENQASM 2.0;",
    )  # fmt: skip
    services.job_record_entry(job_id=job.job_id, index=1, entry=entry)
    stored = JobResult.objects.get(job=job, index=1)
    assert {f.name: getattr(stored, f.name) for f in dataclasses.fields(entry)} == dataclasses.asdict(entry)
    assert stored.ended_at is not None
    assert JobResult.objects.filter(job=job, index=1, error__isnull=True).exists()
    services.job_record_entry(job_id=job.job_id, index=0, entry=EntryResult(status="COMPLETED"))
    assert JobResult.objects.filter(job=job, index=0, results__isnull=True, memory__isnull=True).exists()


@pytest.mark.django_db
def test_late_writer_loses(tenant):
    """After the job ended, a late or duplicate entry write stores nothing."""
    job = new_job(tenant)
    services.job_start(job_id=job.job_id)
    entry = EntryResult(status="COMPLETED", results={"00": 1})
    assert services.job_record_entry(job_id=job.job_id, index=0, entry=entry)
    assert not services.job_record_entry(job_id=job.job_id, index=0, entry=entry)  # duplicate
    services.job_fail(job_id=job.job_id, error={"code": -104, "message": "x"})
    assert not services.job_record_entry(job_id=job.job_id, index=1, entry=entry)  # late
    assert list(JobResult.objects.filter(job=job).values_list("index", "status")) == [(0, "COMPLETED"), (1, "FAILED")]


@pytest.mark.django_db
def test_fail_fills_missing_entries(tenant):
    """A run that broke off fails the job; entries without an outcome carry the error."""
    job = new_job(tenant)
    services.job_start(job_id=job.job_id)
    services.job_fail(job_id=job.job_id, error={"code": -105, "message": "[JobEngine] Timeout: x"})
    job.refresh_from_db()
    assert job.status == "FAILED" and job.progress == 100
    assert [e.error["code"] for e in job.entries.all()] == [-105, -105]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_cancel_racing_start_has_one_winner():
    """Threads racing to start and to cancel the same job, 25 times: exactly one wins each time, and
    what each caller was told matches the outcome."""
    tenant = make_tenant()
    for _ in range(25):
        job = new_job(tenant)
        barrier = threading.Barrier(4)
        outcomes: list[str] = []

        def start(job_id=job.job_id, barrier=barrier, outcomes=outcomes):
            barrier.wait()
            if services.job_start(job_id=job_id) is not None:
                outcomes.append("started")
            connection.close()

        def cancel(job_id=job.job_id, barrier=barrier, outcomes=outcomes):
            barrier.wait()
            if services.jobs_cancel(user=tenant.user, job_ids=[job_id]):
                outcomes.append("cancelled")
            connection.close()

        threads = [threading.Thread(target=f) for f in (start, cancel, start, cancel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(outcomes) == 1, outcomes
        final = Job.objects.get(pk=job.pk).status
        assert final == {"started": "RUNNING", "cancelled": "CANCELLED"}[outcomes[0]]
        assert JobEvent.objects.filter(job=job).count() == 2


@pytest.mark.django_db
def test_update_priority_needs_queued(tenant):
    """Changing the priority of a job no longer queued is invalid_state."""
    from core.exceptions import InvalidState

    job = new_job(tenant)
    services.job_start(job_id=job.job_id)
    with pytest.raises(InvalidState):
        services.job_update(user=tenant.user, job_id=job.job_id, job_priority=1)


@pytest.mark.django_db
def test_unknown_job_is_not_found(tenant):
    """Services answer not found for a job that does not exist."""
    from core.exceptions import NotFound

    with pytest.raises(NotFound):
        services.job_update(user=tenant.user, job_id=uuid.uuid4(), job_name="x")


@pytest.mark.django_db
def test_set_results_is_for_operators_and_driver_tokens_only(tenant):
    """job_set_results itself refuses a member without a driver token: the rule is the service's, not a face's."""
    from core.exceptions import PermissionDenied

    job = new_job(tenant)
    with pytest.raises(PermissionDenied):
        services.job_set_results(user=tenant.user, token=None, job_id=job.job_id, results=[{"results": {"0": 1}}])
    assert Job.objects.get(pk=job.pk).status == "QUEUED"


@pytest.mark.django_db
@pytest.mark.parametrize("tags", [[], ["b", "a"]])
def test_a_submitted_job_answers_its_tags_without_reading_them_back(tenant, tags, django_assert_num_queries):
    """The submit's answer is built from what was just stored: its tags cost no query."""
    from jobs.presenters import job_full

    job = new_job(tenant, tags=tags)
    with django_assert_num_queries(0):
        answer = job_full(job)
    assert answer["tags"] == sorted(tags)
    assert sorted(Job.objects.get(pk=job.pk).tags.values_list("name", flat=True)) == sorted(tags)
