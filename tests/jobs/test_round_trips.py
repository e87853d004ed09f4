"""The database and Redis round trips of the hot paths (issue 14). On PostgreSQL a status change (the job's
UPDATE, its event, its project's counter) and a submit (the quota, the job, its event) are one
statement each; one that is all its transaction writes is its own transaction, with no BEGIN and
COMMIT around it. Run outside a test transaction, as the worker and the web server run."""

from __future__ import annotations

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from drivers.base import EntryResult
from jobs import services
from jobs.models import Job, JobEvent, JobResult
from tests.factories import make_tenant, submit_bell
from webhooks.models import CallbackDelivery

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

POSTGRES = connection.vendor == "postgresql"
WRITES = ("INSERT", "UPDATE", "WITH", "DELETE")


@pytest.fixture
def commits(monkeypatch) -> list[int]:
    """The transactions committed, counted where Django commits them."""
    made: list[int] = []
    wrapper = connections["default"]
    real = wrapper.commit

    def commit() -> None:
        made.append(1)
        real()

    monkeypatch.setattr(wrapper, "commit", commit)
    return made


def writes(ran: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in ran.captured_queries if query["sql"].lstrip().startswith(WRITES)]


def test_a_plain_submit_is_one_write_and_no_transaction_of_its_own_on_postgresql(commits):
    tenant = make_tenant()
    commits.clear()
    with CaptureQueriesContext(connection) as ran:
        job = submit_bell(tenant)
    assert (len(writes(ran)), len(commits)) == ((1, 0) if POSTGRES else (3, 1))
    assert Job.objects.get(pk=job.pk).status == "QUEUED"
    assert list(JobEvent.objects.filter(job=job).values_list("status", flat=True)) == ["QUEUED"]
    tenant.project.refresh_from_db()
    assert tenant.project.active_jobs == 1


def test_a_submit_with_tags_writes_them_in_the_same_transaction(commits):
    tenant = make_tenant()
    commits.clear()
    job = submit_bell(tenant, tags=["a", "b"])
    assert len(commits) == 1
    assert sorted(Job.objects.get(pk=job.pk).tags.values_list("name", flat=True)) == ["a", "b"]


def warmed(job) -> Job:
    """``job``, once the worker has started a job of its backend before (the first start of a backend's
    configuration stores its snapshot, in a transaction of its own)."""
    warm = submit_bell(make_tenant())
    services.job_start(job_id=warm.job_id)
    return job


def test_a_workers_start_of_a_job_without_callbacks_is_one_read_and_one_write(commits):
    job = warmed(submit_bell(make_tenant()))
    commits.clear()
    with CaptureQueriesContext(connection) as ran:
        assert services.job_start(job_id=job.job_id, worker_name="w") is not None
    if POSTGRES:
        assert (len(ran), len(commits)) == (2, 0)
    assert list(JobEvent.objects.filter(job=job).values_list("status", flat=True)) == ["QUEUED", "RUNNING"]
    assert Job.objects.get(pk=job.pk).worker_name == "w"


def test_a_one_entry_jobs_finish_is_one_read_and_one_write(commits):
    """Its entry, its change (UPDATE, event, counter) in one statement, written only if it wins."""
    tenant = make_tenant()
    job = submit_bell(tenant)
    started = services.job_start(job_id=job.job_id)
    commits.clear()
    with CaptureQueriesContext(connection) as ran:
        entry = (0, EntryResult(status="COMPLETED", results={"00": 1}))
        assert services.job_finish(job_id=job.job_id, attempt=started.attempts, last=entry) == "COMPLETED"
    if POSTGRES:
        assert (len(ran), len(commits)) == (2, 0)
    assert list(JobResult.objects.filter(job=job).values_list("index", "status", "results")) == [
        (0, "COMPLETED", {"00": 1})
    ]
    tenant.project.refresh_from_db()
    assert tenant.project.active_jobs == 0
    assert list(JobEvent.objects.filter(job=job).values_list("status", flat=True)) == ["QUEUED", "RUNNING", "COMPLETED"]


def test_a_finish_that_lost_its_job_writes_nothing(commits):
    """Taken from its worker meanwhile (recovered here), the job keeps what its new owner wrote."""
    tenant = make_tenant()
    job = submit_bell(tenant)
    started = services.job_start(job_id=job.job_id)
    services.job_recover_lost(job_id=job.job_id, attempt=started.attempts, reason="test")
    entry = (0, EntryResult(status="COMPLETED", results={"00": 1}))
    assert services.job_finish(job_id=job.job_id, attempt=started.attempts, last=entry) is None
    assert Job.objects.get(pk=job.pk).status == "QUEUED"
    assert not JobResult.objects.filter(job=job).exists()
    assert list(JobEvent.objects.filter(job=job).values_list("status", flat=True))[-1] == "QUEUED"
    tenant.project.refresh_from_db()
    assert tenant.project.active_jobs == 1


def test_a_change_that_owes_callbacks_writes_their_deliveries_in_its_own_transaction(commits):
    hook = {"name": "hook", "type": "status", "method": "post", "url": "http://127.0.0.1:9/hook"}
    job = warmed(submit_bell(make_tenant(), callbacks=[hook]))
    commits.clear()
    assert services.job_start(job_id=job.job_id) is not None
    assert len(commits) == 1
    assert list(CallbackDelivery.objects.filter(job_id=job.job_id).values_list("job_status", flat=True)) == [
        "QUEUED",
        "RUNNING",
    ]


def test_a_worker_takes_a_waiting_job_with_the_last_ones_bookkeeping_in_one_redis_round_trip(monkeypatch):
    """Between two jobs a worker's main process writes the last one's end (its liveness key cleared,
    its count), says busy, pops the next job by priority and sets that job's liveness key: one round
    trip where RQ's dequeue and the job's start and end were three."""
    import redis.connection
    from rq.worker import WorkerStatus

    from jobs import queues
    from jobs.worker import JobWorker

    tenant = make_tenant()
    ended, low, high = (submit_bell(tenant, job_priority=p) for p in (5, 8, 2))
    conn = queues.connection()
    conn.lrem(queues.get_queue(5).key, 0, str(ended.job_id))  # it ran already
    worker = JobWorker(queues.job_queues(), connection=conn, queue_class=queues.JobQueue)
    worker.register_birth()
    queues.mark_running(str(ended.job_id), 60, worker.name)
    worker._ended = (str(ended.job_id), False, 0.25)
    sent: list[bytes] = []
    real = redis.connection.AbstractConnection.send_packed_command

    def send(connection, command, *args, **kwargs):
        sent.append(command)
        return real(connection, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", send)
    job, queue = worker.dequeue_job_and_maintain_ttl(timeout=None)
    monkeypatch.undo()
    assert len(sent) == 1
    assert (job.id, queue.name) == (str(high.job_id), queues.queue_name(2))
    assert queues.running_alive([str(ended.job_id), str(high.job_id), str(low.job_id)]) == {str(high.job_id)}
    assert conn.get(queues.RUNNING_KEY.format(high.job_id)).decode() == worker.name
    assert int(conn.hget(worker.key, "successful_job_count")) == 1
    assert conn.hget(worker.key, "state").decode() == WorkerStatus.BUSY
    worker.register_death()
