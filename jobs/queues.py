"""Priority queues on RQ (SPEC §5): one RQ queue per job priority, the job's UUID as RQ job id.

Workers listen to ``jobs-p1`` .. ``jobs-p10`` in that order and RQ pops from the first non-empty
queue it is given, which makes priorities strict and each queue FIFO. A job is in Redis only
while it can run: jobs of a paused backend wait in the database (still QUEUED) and are enqueued
when it resumes. The database is the source of truth; ``jobs_reconcile`` puts back what Redis
lost, so every Redis failure here is logged, never raised into a request.

A job's entry is its id alone, pushed onto its priority's list, and so is a job's in the drawings
list: what RQ would store beside it (a hash of twenty fields: the task, its argument, its time limit)
is the same for every job or already in the job's row, so ``JobQueue`` makes the RQ job from the id
when a worker pops it. (RQ's enqueue was a fifth of a submit's CPU.) The callbacks queue, with its
retries, stays RQ's own.
"""

from __future__ import annotations

import logging
import uuid
from functools import partial

import django_rq
from django.conf import settings
from django.db import transaction
from django_rq.queues import DjangoRQ
from redis import Redis, RedisError
from redis.client import Pipeline
from rq import Queue
from rq.command import send_command
from rq.job import Job as RQJob

from core.redis import after_commit
from core.redis import client as redis_client

logger = logging.getLogger(__name__)

RUN_JOB = "jobs.tasks.run_job"
DRAW_JOB = "jobs.tasks.draw_job"
DRAWING_TIMEOUT = 120
# Results live in the database, so RQ keeps nothing of a task that returned: storing its copy (the
# job's payload written again, a results stream, the finished registry) cost a tiny job 7% of its
# CPU. A task that failed in RQ's own terms (its work process died) stays in RQ's failed registry,
# where operators look (django-rq's queue pages).
RQ_RESULT_TTL = 0
RQ_FAILURE_TTL = 7 * 24 * 3600
RUNNING_KEY = "portal:running:{}"


# The first non-empty of the given lists, popped in one round trip; given a worker's name and a TTL
# (ARGV), the id popped from a list whose flag in ARGV[1] is "1" (a portal task's) has its liveness
# key set for that worker in the same round trip.
_POP_FIRST = """
for i, key in ipairs(KEYS) do
  local id = redis.call('LPOP', key)
  if id then
    if string.sub(ARGV[1] or '', i, i) == '1' then
      redis.call('SET', ARGV[4] .. id, ARGV[2], 'EX', ARGV[3])
    end
    return {key, id}
  end
end
return false
"""


class JobQueue(DjangoRQ):
    """django-rq's queue (``RQ["QUEUE_CLASS"]``). Its workers' non-blocking dequeue (a burst worker,
    or one with work waiting) costs one Redis round trip: RQ's own tries each priority's queue in turn,
    five round trips to reach a job of the default priority. A job popped from a job queue is made
    from its id (see the module's docstring), not read back."""

    @classmethod
    def lpop(cls, queue_keys, timeout, connection=None):
        if timeout is not None or len(queue_keys) < 2:
            return super().lpop(queue_keys, timeout, connection=connection)
        result = connection.eval(_POP_FIRST, len(queue_keys), *queue_keys)
        return (result[0], result[1]) if result else None

    @classmethod
    def take_first(cls, queue_keys: list[str], *, worker_name: str, ttl: int, pipeline: Pipeline) -> None:
        """Pop the first non-empty of ``queue_keys`` in ``pipeline`` (its last reply: (key, id) or
        None), a portal task marked running for ``worker_name`` at once (``mark_running``)."""
        flags = "".join("1" if key in _TASKS else "0" for key in queue_keys)
        prefix = RUNNING_KEY.format("")
        pipeline.eval(_POP_FIRST, len(queue_keys), *queue_keys, flags, worker_name, ttl, prefix)

    @classmethod
    def _fetch_dequeued_job(cls, connection, queue_key, job_id, job_class=None, serializer=None, **kwargs):
        task = _TASKS.get(queue_key)
        if task is None:
            return super()._fetch_dequeued_job(connection, queue_key, job_id, job_class, serializer, **kwargs)
        # The queue object of each list, made once per worker connection (RQ makes one a dequeue, and
        # checks its serializer against a Protocol each time).
        cached = _DEQUEUED_FROM.get(queue_key)
        if cached is None or cached[0] is not connection:
            queue = cls.from_queue_key(
                queue_key, connection=connection, job_class=job_class, serializer=serializer, **kwargs
            )
            cached = _DEQUEUED_FROM[queue_key] = (connection, queue)
        queue = cached[1]
        return portal_task(queue, job_id, *task), queue


_DEQUEUED_FROM: dict[str, tuple[Redis, Queue]] = {}


# What an id popped from each of the portal's own lists is to run, and RQ's time limit for it.
_TASKS: dict[str, tuple[str, int | None]] = {
    **{Queue.redis_queue_namespace_prefix + name: (RUN_JOB, None) for name in settings.JOB_QUEUE_NAMES},
    Queue.redis_queue_namespace_prefix + settings.DRAWING_QUEUE_NAME: (DRAW_JOB, DRAWING_TIMEOUT),
}


def portal_task(queue: Queue, job_id: str, task: str, timeout: int | None) -> RQJob:
    """The RQ job of ``task(job_id)``, as RQ would have stored it, in memory only. A portal worker
    runs it without RQ (``jobs/worker.py``): a job's time limit is then its backend's, which
    ``runner.run_job`` applies once it has read it. RQ's (``timeout``, else the queue's default)
    holds on a worker that runs it the RQ way (the tests' in-process SimpleWorker)."""
    return queue.job_class.create(
        task,
        args=(job_id,),
        id=job_id,
        connection=queue.connection,
        origin=queue.name,
        timeout=timeout,
        result_ttl=RQ_RESULT_TTL,
        failure_ttl=RQ_FAILURE_TTL,
        serializer=queue.serializer,
    )


def queue_name(priority: int) -> str:
    return f"jobs-p{priority}"


def get_queue(priority: int) -> Queue:
    # commit_mode "auto": this module decides when to push (after commit, see enqueue).
    name = queue_name(priority)
    return django_rq.get_queue(name, connection=redis_client(name), commit_mode="auto")


def job_queues() -> list[Queue]:
    return [get_queue(priority) for priority in settings.JOB_PRIORITIES]


def connection() -> Redis:
    return redis_client(settings.JOB_QUEUE_NAMES[0])


def _push(key: str, job_id: str, pipeline: Pipeline) -> None:
    pipeline.rpush(Queue.redis_queue_namespace_prefix + key, job_id)


def enqueue(job_id: uuid.UUID | str, priority: int) -> None:
    """Enqueue by id once the surrounding transaction has committed (at once outside one), so a
    worker always finds the committed row, in one round trip with the transaction's other Redis
    writes; a Redis failure then is logged, not raised (reconcile_jobs enqueues it later)."""
    job_id = str(job_id)
    after_commit(
        redis_client(queue_name(priority)),
        partial(_push, queue_name(priority), job_id),
        failure=f"could not enqueue job {job_id} (Redis unavailable); reconcile_jobs will",
    )


def enqueue_drawing(job_id: uuid.UUID | str) -> None:
    """Have a worker draw the job's circuits once the surrounding transaction has committed (when
    ``CIRCUIT_DRAWINGS`` is on). A job without its drawings loses nothing: its page says there are none."""
    if settings.CIRCUIT_DRAWINGS:
        job_id = str(job_id)
        after_commit(
            redis_client(settings.DRAWING_QUEUE_NAME),
            partial(_push, settings.DRAWING_QUEUE_NAME, job_id),
            failure=f"could not enqueue the drawings of job {job_id} (Redis unavailable)",
        )


def remove(job_id: uuid.UUID | str, priority: int) -> bool:
    """Take the job out of its queue; False when it was not there (a worker already took it) or Redis
    could not be reached. Either way harmless: the job's row is no longer QUEUED, so a worker that
    pops it skips it (``job_start`` is conditional)."""
    try:
        conn = connection()
        removed = conn.lrem(get_queue(priority).key, 0, str(job_id))
    except RedisError:
        logger.warning("could not remove job %s from its queue (Redis unavailable)", job_id, exc_info=True)
        return False
    return bool(removed)


def remove_on_commit(job_id: uuid.UUID | str, priority: int) -> None:
    transaction.on_commit(partial(remove, job_id, priority))


def move(job_id: uuid.UUID | str, old_priority: int, new_priority: int) -> None:
    """Re-queue at the end of the new priority's queue, if the job was still waiting in Redis."""
    if remove(job_id, old_priority):
        enqueue(job_id, new_priority)


def move_on_commit(job_id: uuid.UUID | str, old_priority: int, new_priority: int) -> None:
    transaction.on_commit(partial(move, job_id, old_priority, new_priority))


def waiting_ids() -> set[str]:
    """Ids of every job waiting in the job queues."""
    conn = connection()
    with conn.pipeline(transaction=False) as pipe:
        for queue in job_queues():
            pipe.lrange(queue.key, 0, -1)
        lists = pipe.execute()
    return {value.decode() if isinstance(value, bytes) else value for ids in lists for value in ids}


def position(job_id: uuid.UUID | str, priority: int) -> int | None:
    """1 = the next job a worker takes; None when the job is not waiting in Redis (or Redis cannot be
    reached: a job's status answers without its place in line rather than not at all)."""
    try:
        conn = connection()
        index = conn.lpos(get_queue(priority).key, str(job_id))
        if index is None:
            return None
        with conn.pipeline(transaction=False) as pipe:
            for ahead in range(1, priority):
                pipe.llen(get_queue(ahead).key)
            ahead_count = sum(pipe.execute()) if priority > 1 else 0
    except RedisError:
        logger.warning("queue position of job %s unknown (Redis unavailable)", job_id, exc_info=True)
        return None
    return ahead_count + index + 1


def worker_count() -> int:
    """Workers listening to the job queues (RQ's registry of the first priority's queue; every job
    worker listens to all of them)."""
    from rq import Worker

    return Worker.count(queue=get_queue(settings.JOB_PRIORITIES[0]))


def depths() -> dict[int, int]:
    """Waiting jobs per priority."""
    conn = connection()
    with conn.pipeline(transaction=False) as pipe:
        for priority in settings.JOB_PRIORITIES:
            pipe.llen(get_queue(priority).key)
        return dict(zip(settings.JOB_PRIORITIES, pipe.execute(), strict=True))


# --- Liveness of running jobs -------------------------------------------------------------------
# The worker's main process keeps a short-lived key per running job alive while its work process
# runs it, holding the worker's name; a RUNNING job without one has lost its worker (see
# jobs.services.jobs_reconcile).


def stop_running(job_id: uuid.UUID | str) -> None:
    """Ask the worker running the job to kill its work process (RQ's stop-job command, over pub/sub)."""
    try:
        conn = connection()
        worker_name = conn.get(RUNNING_KEY.format(job_id))
        if worker_name is None:
            logger.info("no running work process to stop for job %s", job_id)
            return
        send_command(conn, worker_name.decode(), "stop-job", job_id=str(job_id))
    except RedisError:
        logger.warning("could not ask for job %s to be stopped (Redis unavailable)", job_id, exc_info=True)


def mark_running(job_id: str, ttl: int, worker_name: str, pipeline: Pipeline | None = None) -> None:
    (pipeline if pipeline is not None else connection()).set(RUNNING_KEY.format(job_id), worker_name, ex=ttl)


def clear_running(job_id: str, pipeline: Pipeline | None = None) -> None:
    (pipeline if pipeline is not None else connection()).delete(RUNNING_KEY.format(job_id))


def running_alive(job_ids: list[str]) -> set[str]:
    """Those of ``job_ids`` whose worker still reports them running."""
    if not job_ids:
        return set()
    flags = connection().mget([RUNNING_KEY.format(job_id) for job_id in job_ids])
    return {job_id for job_id, flag in zip(job_ids, flags, strict=True) if flag is not None}
