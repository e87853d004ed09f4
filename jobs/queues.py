"""Priority queues on RQ (SPEC §5): one RQ queue per job priority, the job's UUID as RQ job id.

Workers listen to ``jobs-p1`` .. ``jobs-p10`` in that order and RQ pops from the first non-empty
queue it is given, which makes priorities strict and each queue FIFO. A job is in Redis only
while its backend is online; jobs of a paused backend wait in the database (still QUEUED) and
are enqueued when it resumes.
"""

from __future__ import annotations

import uuid
from functools import partial

import django_rq
from django.conf import settings
from django.db import transaction
from redis import Redis
from rq import Queue
from rq.job import Job as RQJob

RUN_JOB = "jobs.tasks.run_job"
# Results live in the database; RQ's copies only help operators read the queue pages.
RQ_RESULT_TTL = 3600
RQ_FAILURE_TTL = 7 * 24 * 3600


def queue_name(priority: int) -> str:
    return f"jobs-p{priority}"


def get_queue(priority: int) -> Queue:
    return django_rq.get_queue(queue_name(priority))


def job_queues() -> list[Queue]:
    return [django_rq.get_queue(name) for name in settings.JOB_QUEUE_NAMES]


def connection() -> Redis:
    return django_rq.get_connection(settings.JOB_QUEUE_NAMES[0])


def enqueue(job_id: uuid.UUID | str, priority: int, timeout: int) -> None:
    """Enqueue by id. Inside a transaction django-rq (COMMIT_MODE "on_db_commit") holds the enqueue
    until the transaction commits, so a worker always finds the committed row."""
    get_queue(priority).enqueue(
        RUN_JOB,
        str(job_id),
        job_id=str(job_id),
        job_timeout=timeout,
        result_ttl=RQ_RESULT_TTL,
        failure_ttl=RQ_FAILURE_TTL,
    )


def remove(job_id: uuid.UUID | str, priority: int) -> bool:
    """Take the job out of its queue; False when it was not there (a worker already took it)."""
    conn = connection()
    removed = conn.lrem(get_queue(priority).key, 0, str(job_id))
    if removed:
        conn.delete(RQJob.key_for(str(job_id)))
    return bool(removed)


def remove_on_commit(job_id: uuid.UUID | str, priority: int) -> None:
    transaction.on_commit(partial(remove, job_id, priority))


def move(job_id: uuid.UUID | str, old_priority: int, new_priority: int, timeout: int) -> None:
    """Re-queue at the end of the new priority's queue, if the job was still waiting in Redis."""
    if remove(job_id, old_priority):
        enqueue(job_id, new_priority, timeout)


def move_on_commit(job_id: uuid.UUID | str, old_priority: int, new_priority: int, timeout: int) -> None:
    transaction.on_commit(partial(move, job_id, old_priority, new_priority, timeout))


def is_enqueued(job_id: uuid.UUID | str, priority: int) -> bool:
    return connection().lpos(get_queue(priority).key, str(job_id)) is not None


def position(job_id: uuid.UUID | str, priority: int) -> int | None:
    """1 = the next job a worker takes; None when the job is not waiting in Redis."""
    conn = connection()
    index = conn.lpos(get_queue(priority).key, str(job_id))
    if index is None:
        return None
    with conn.pipeline(transaction=False) as pipe:
        for ahead in range(1, priority):
            pipe.llen(get_queue(ahead).key)
        ahead_count = sum(pipe.execute()) if priority > 1 else 0
    return ahead_count + index + 1


def depths() -> dict[int, int]:
    """Waiting jobs per priority."""
    conn = connection()
    with conn.pipeline(transaction=False) as pipe:
        for priority in settings.JOB_PRIORITIES:
            pipe.llen(get_queue(priority).key)
        return dict(zip(settings.JOB_PRIORITIES, pipe.execute(), strict=True))
