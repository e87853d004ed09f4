"""Priority queues on real Redis with a real RQ worker (SPEC §5)."""

from __future__ import annotations

import pytest
import redis
from django.db import transaction

from backends.models import Backend
from backends.selectors import backend_get
from backends.services import backend_set_status
from jobs import queues
from jobs.models import Job, JobEvent
from jobs.services import JobSpec, job_submit
from jobs.services.state import transition
from tests.conftest import result_of
from tests.factories import BELL

pytestmark = pytest.mark.django_db


def start_order() -> list[str]:
    """Job ids in the order workers started them."""
    return [str(e.job_id) for e in JobEvent.objects.filter(status="RUNNING").order_by("id")]


def test_strict_priority_then_fifo(submit, tenant, run_worker):
    """Every priority-1 job starts before any priority-2 job; FIFO within a priority."""
    submitted = [(p, submit(tenant, job_priority=p)["job_id"]) for p in (5, 1, 10, 1, 5, 2)]
    run_worker()
    expected = [job_id for _, job_id in sorted(submitted, key=lambda pair: pair[0])]  # stable sort keeps FIFO
    assert start_order() == expected
    assert set(Job.objects.values_list("status", flat=True)) == {"COMPLETED"}


def test_rq_job_id_is_the_job_id(submit, tenant):
    """The job row's UUID is the RQ job id, in the queue of its priority."""
    job = submit(tenant, job_priority=3)
    assert queues.get_queue(3).job_ids == [job["job_id"]]


def test_queue_position_across_priorities(rpc, submit, tenant):
    """queue_position counts every job that starts first (1 = next)."""
    a = submit(tenant, job_priority=5)
    b = submit(tenant, job_priority=1)
    c = submit(tenant, job_priority=5)

    def position(job):
        return result_of(rpc("get_job_status", {"body": {"job_id": job["job_id"]}}, who=tenant))["queue_position"]

    assert [position(b), position(a), position(c)] == [1, 2, 3]
    rpc("update_job", {"body": {"job_id": c["job_id"], "job_priority": 1}}, who=tenant)
    assert [position(b), position(c), position(a)] == [1, 2, 3]


def test_priority_change_changes_start_order(rpc, submit, tenant, run_worker):
    """A job moved to a better priority starts before the jobs it overtook."""
    first = submit(tenant, job_priority=5)
    second = submit(tenant, job_priority=5)
    rpc("update_job", {"body": {"job_id": second["job_id"], "job_priority": 2}}, who=tenant)
    run_worker()
    assert start_order() == [second["job_id"], first["job_id"]]


def test_worker_skips_job_no_longer_queued(submit, tenant, run_worker):
    """A worker that dequeues a job that already left QUEUED leaves it as it is."""
    job = submit(tenant)
    # Cancelled behind the queue's back: the state machine alone, its Redis entry left in place.
    assert transition(job["job_id"], allowed=["QUEUED"], to="CANCELLED")
    run_worker()
    stored = Job.objects.get(pk=job["job_id"])
    assert stored.status == "CANCELLED"
    assert stored.started_at is None
    assert not stored.entries.exists()


def test_enqueue_only_after_commit(tenant, django_capture_on_commit_callbacks):
    """Nothing reaches Redis before the submitting transaction commits."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        job = job_submit(
            user=tenant.user,
            project=tenant.project,
            spec=JobSpec(code_type="qasm2", source_code=[BELL], backend="dummy"),
        )
        assert queues.position(job.job_id, 5) is None
    assert queues.position(job.job_id, 5) is None
    assert callbacks, "the enqueue waits for the commit"
    for callback in callbacks:
        callback()
    assert queues.position(job.job_id, 5) == 1


def test_paused_backend_holds_jobs(rpc, submit, tenant, run_worker, django_capture_on_commit_callbacks):
    """Jobs of a paused backend stay QUEUED (even one dequeued while paused) and run once it is online."""
    before = submit(tenant)  # enqueued while online
    with django_capture_on_commit_callbacks(execute=True):
        backend_set_status(backend=backend_get("dummy"), status="paused")
    during = submit(tenant)  # held in the database only
    assert queues.position(during["job_id"], 5) is None
    run_worker()
    assert set(Job.objects.values_list("status", flat=True)) == {"QUEUED"}
    with django_capture_on_commit_callbacks(execute=True):
        backend_set_status(backend=backend_get("dummy"), status="online")
    run_worker()
    assert start_order() == [before["job_id"], during["job_id"]]
    assert set(Job.objects.values_list("status", flat=True)) == {"COMPLETED"}


def test_resume_does_not_enqueue_twice(submit, tenant, run_worker, django_capture_on_commit_callbacks):
    """Resuming a backend enqueues only the jobs not already waiting in Redis."""
    submit(tenant)
    Backend.objects.filter(name="dummy").update(status="paused")
    with django_capture_on_commit_callbacks(execute=True):
        backend_set_status(backend=backend_get("dummy"), status="online")
    assert queues.depths()[5] == 1


@pytest.fixture
def redis_down(monkeypatch):
    """The queues' Redis unreachable: a real client to a port nothing listens on."""
    from tests.workers import free_port

    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    monkeypatch.setattr(queues, "connection", lambda: dead)


def test_cancel_with_redis_down_answers_the_cancel_it_committed(rpc, submit, tenant, redis_down):
    """The cancel commits in the database; Redis being down is logged, not a -500 (workers skip the job)."""
    job = submit(tenant)
    answer = rpc("cancel_jobs", {"body": {"job_ids": [job["job_id"]]}}, who=tenant)
    assert result_of(answer) == [{"job_id": job["job_id"], "job_status": "CANCELLED"}]
    assert Job.objects.get(pk=job["job_id"]).status == "CANCELLED"


def test_status_with_redis_down_answers_without_a_queue_position(rpc, submit, tenant, redis_down):
    """get_job_status still answers a QUEUED job, its queue_position null."""
    job = submit(tenant)
    status = result_of(rpc("get_job_status", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert status["job_status"] == "QUEUED" and status["queue_position"] is None


def test_a_submit_enqueues_and_tells_its_event_in_one_round_trip(redis_pipelines, submit, tenant):
    """The job's push and its QUEUED live event go after the commit in one pipeline (core.redis)."""
    job = submit(tenant)
    assert queues.get_queue(5).job_ids == [job["job_id"]]
    (after_commit,) = [commands for commands in redis_pipelines if "PUBLISH" in commands or "RPUSH" in commands]
    assert after_commit[0] == "PUBLISH" and after_commit[-1] == "RPUSH"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_run_tells_redis_in_one_round_trip_at_start_and_one_at_the_end(redis_pipelines, submit, tenant):
    """A one-entry job's start sends its RUNNING event; its end, in one pipeline, its progress, its
    COMPLETED event and its drawings' push. Outside a test's transaction, as a worker runs it: its
    start and its end each commit by themselves."""
    from jobs.runner import run_job

    job = submit(tenant)
    redis_pipelines.clear()  # the submit's own
    assert run_job(job["job_id"]) == "COMPLETED"
    assert redis_pipelines == [["PUBLISH"], ["PUBLISH", "PUBLISH", "RPUSH"]]
