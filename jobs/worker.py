"""The RQ worker class of the portal (``manage.py rqworker --worker-class jobs.worker.JobWorker``).

RQ would fork a work horse per job. This worker forks one long-lived work process instead and hands
it job after job over a pipe (jobs/horse.py says when it is replaced); it keeps what the fork gave:
a crash in native code takes down only the work process and its one job, and the process can be
killed. On top of RQ's worker:

- A portal job runs without RQ's per-job bookkeeping (an execution record, the started registry,
  the job's hash written at its start and deleted at its end, in both processes: half of a tiny
  job's cost in RQ's code). Its row in the database is its record; while it runs, the worker's
  liveness key for it (holding the worker's name, for RQ's stop-job command) is what the started
  registry was, and the worker's own hash says it is busy, as RQ's would. A job's drawings, the
  one other task a job worker takes, run the RQ way.
- While jobs wait, the main process spends one Redis round trip between two of them: the last
  job's bookkeeping, the next one's pop and its liveness key go together (``_take_waiting``);
  RQ's blocking dequeue only when none waits.

- What is expensive to build (simulators, pass managers) is built in the worker's main process
  before it forks, so the work process inherits it instead of paying 65-83 ms per pass manager.
- A job's time limit holds on native code. The work process's own alarm interrupts Python code at
  the limit (``horse.time_limit``, which tells this process the limit as the run starts), but Aer
  and neal run in C++/C and ignore signals until they return; so the main process kills a work
  process that outlives the limit by KILL_GRACE seconds, and the job ends FAILED -105. (RQ itself
  would wait 60 s past the limit.)
- While a job runs, the main process keeps the job's liveness key fresh (every
  job_monitoring_interval); a RUNNING job whose key expired has lost its worker.
- Every RECONCILE_INTERVAL seconds, busy or idle, one worker of the pool runs jobs_reconcile.
- Each job runs under its backend's memory cap, and its time limit is raised into the driver as
  ``StopJob``, which no ``except Exception`` can swallow (``jobs/horse.py``). A work process that dies
  of its job (aborted past its cap, crashed in native code) fails that job at once
  (``runner.horse_died``).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from datetime import UTC, datetime

from django.conf import settings
from django.db import connections
from redis import RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.executions import Execution
from rq.utils import as_text
from rq.utils import now as utcnow
from rq.worker import Worker, WorkerStatus

from core.redis import ensure_server
from jobs import horse, queues, runner
from jobs.horse import PeakRecorder, TimeLimitDeathPenalty, WorkProcess

logger = logging.getLogger(__name__)

KILL_GRACE = 2.0
RECONCILE_LOCK = "portal:reconcile-lock"
# The portal's own tasks, run in the work process without RQ: what the command to it names them.
RUN, DRAW = "run", "draw"
_PORTAL_TASKS = {queues.RUN_JOB: RUN, queues.DRAW_JOB: DRAW}


def prewarm() -> None:
    """Build each backend's simulator and default pass manager in this (the main) process."""
    from backends.models import Backend
    from drivers.registry import get_driver

    try:
        for backend in Backend.objects.all():
            try:
                get_driver(backend.driver).prepare(backend)
            except Exception:
                logger.exception("could not prepare backend %s", backend.name)
    except Exception:
        logger.exception("could not prepare backends (is the database migrated?)")
    finally:
        connections.close_all()  # a horse must never share the parent's database connection


def reconcile_once() -> dict[str, int] | None:
    """Run jobs_reconcile unless another worker of the pool did within the interval."""
    from jobs.services import jobs_reconcile

    try:
        if not queues.connection().set(RECONCILE_LOCK, "1", nx=True, ex=max(settings.RECONCILE_INTERVAL - 1, 1)):
            return None
        summary = jobs_reconcile()
    except RedisError:
        logger.warning("reconcile skipped: Redis unavailable", exc_info=True)
        return None
    except Exception:
        logger.exception("reconcile failed")
        return None
    finally:
        connections.close_all()
    if any(summary.values()):
        logger.warning("reconciled jobs: %s", summary)
    return summary


class JobWorker(Worker):
    death_penalty_class = TimeLimitDeathPenalty

    def __init__(self, *args, **kwargs):
        ensure_server()  # run by django-rq's rqworker, whose connection is its own: the embedded Redis may not run yet
        kwargs.setdefault("job_monitoring_interval", settings.WORKER_HEARTBEAT_INTERVAL)
        kwargs.setdefault("maintenance_interval", settings.RECONCILE_INTERVAL)
        # RQ runs maintenance between jobs and whenever a blocking dequeue times out; its dequeue
        # timeout is worker_ttl - 15, so this keeps an idle worker reconciling on time.
        kwargs["worker_ttl"] = min(kwargs.get("worker_ttl") or 420, settings.RECONCILE_INTERVAL + 5)
        super().__init__(*args, **kwargs)
        self._watchdog: threading.Timer | None = None
        self._overdue_job_id: str | None = None
        self._peaks = PeakRecorder()
        self._work_process: WorkProcess | None = None
        self._running_job_id: str | None = None
        self._taken_job_id: str | None = None  # dequeued with its liveness key set (``_take_waiting``)
        self._ended: tuple[str, bool, float] | None = None  # the last job's bookkeeping, not yet written
        self._suspension_checked = 0.0
        prewarm()

    @property
    def running_ttl(self) -> int:
        """A job's liveness key outlives two missed refreshes, then lapses."""
        return 3 * self.job_monitoring_interval

    def heartbeat(self, timeout=None, pipeline=None):
        """RQ's heartbeat, in one round trip instead of three when it is not in a pipeline already, and
        at most once a second on its own: RQ sends three a job (its suspension check sends one more),
        while the worker's registration lasts worker_ttl + 60 seconds."""
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline=pipeline)
        if timeout is None and self.last_heartbeat is not None and (utcnow() - self.last_heartbeat).total_seconds() < 1:
            return
        with self.connection.pipeline() as pipe:
            super().heartbeat(timeout, pipeline=pipe)
            pipe.execute()

    def set_state(self, state, pipeline=None):
        """RQ sets IDLE after each job and again before each dequeue: the second write is skipped."""
        if pipeline is None and state == self.get_state():
            return
        super().set_state(state, pipeline=pipeline)

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """A job that waits is taken in one round trip with the last job's bookkeeping (``_take_waiting``);
        RQ's own dequeue, which blocks, only when none waits."""
        try:
            if issubclass(self.queue_class, queues.JobQueue) and len(self._ordered_queues) > 1:
                taken = self._take_waiting()
                if taken is not None or timeout is None:
                    return taken  # a burst worker with nothing waiting is done
            else:
                self._write_ended()
        except (RedisConnectionError, RedisTimeoutError):
            pass  # RQ's dequeue below waits for Redis to come back, as it would have
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)

    def _take_waiting(self):
        """(job, queue) of the first job waiting in this worker's queues, else None. One round trip
        writes the last job's bookkeeping, says busy and pops the job, setting its liveness key:
        three a job, as RQ's dequeue and this worker's start and end of a job were."""
        keys = [queue.key for queue in self._ordered_queues]
        while True:
            with self.connection.pipeline(transaction=False) as pipe:
                self._write_ended(pipe)
                self.set_state(WorkerStatus.BUSY, pipeline=pipe)  # said IDLE again by RQ's dequeue if none waits
                self.queue_class.take_first(keys, worker_name=self.name, ttl=self.running_ttl, pipeline=pipe)
                popped = pipe.execute()[-1]
            if not popped:
                return None
            queue_key, job_id = (as_text(value) for value in popped)
            taken = self.queue_class._fetch_dequeued_job(
                self.connection,
                queue_key,
                job_id,
                job_class=self.job_class,
                serializer=self.serializer,
                death_penalty_class=self.death_penalty_class,
            )
            if taken is not None:  # else an RQ job whose hash is gone, skipped as RQ's dequeue skips it
                break
        job, queue = taken
        self._taken_job_id = job.id
        job.redis_server_version = self.get_redis_server_version()
        if self.log_job_description:  # the line RQ's dequeue logs
            self.log.info("Worker %s: %s: %s (%s)", self.name, queue.name, job.description, job.id)
        else:
            self.log.info("Worker %s: %s: %s", self.name, queue.name, job.id)
        return job, queue

    def _write_ended(self, pipeline=None) -> None:
        """The last portal job's bookkeeping (its liveness key cleared, the worker's counts), written
        with the next dequeue: in ``pipeline``, else at once."""
        if self._ended is None:
            return
        (job_id, failed, seconds), self._ended = self._ended, None
        with self.connection.pipeline(transaction=False) as own:
            pipe = pipeline if pipeline is not None else own
            queues.clear_running(job_id, pipeline=pipe)
            pipe.hincrby(self.key, "failed_job_count" if failed else "successful_job_count", 1)
            pipe.hincrbyfloat(self.key, "total_working_time", seconds)
            if pipeline is None:
                own.execute()

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        reconcile_once()

    # --- The work process: forked once, fed job after job ----------------------------------------

    def execute_job(self, job, queue):
        kind = _PORTAL_TASKS.get(job.func_name)
        if kind is None:
            super().execute_job(job, queue)  # a callback: RQ's own, with its retries
        else:
            self._execute_portal_task(kind, job.id)

    def _execute_portal_task(self, kind: str, job_id: str) -> None:
        """Run a job, or draw its circuits, in the work process, RQ's bookkeeping left out (see the
        module's docstring)."""
        process = self._ready_work_process()
        taken, self._taken_job_id = self._taken_job_id == job_id, None
        if not taken:  # dequeued by RQ's own dequeue: its liveness key is set now
            # Plain pipelines, not MULTI: these writes need no isolation from each other.
            with self.connection.pipeline(transaction=False) as pipe:
                queues.mark_running(job_id, self.running_ttl, self.name, pipeline=pipe)
                self.set_state(WorkerStatus.BUSY, pipeline=pipe)
                pipe.execute()
        self._running_job_id = job_id
        self._horse_pid = process.pid
        started = time.monotonic()
        try:
            process.send_task(kind, job_id)
            status = self._watch_run(process, job_id)
        except BaseException:
            queues.clear_running(job_id)  # the worker is going down: its job is recovered at once
            raise
        finally:
            self._running_job_id = None
            self._horse_pid = 0
        if status is not None:
            self._work_process_died(job_id, status)
        self._ended = (job_id, status is not None, time.monotonic() - started)

    def check_for_suspension(self, burst: bool) -> None:
        """RQ's check (``rq suspend``) at most once a second: it cost a round trip a job."""
        now = time.monotonic()
        if now - self._suspension_checked >= 1:
            self._suspension_checked = now
            super().check_for_suspension(burst)

    def _watch_run(self, process: WorkProcess, job_id: str) -> int | None:
        """Until the job has ended: None when its process lived, else the process's exit status. The
        job's time limit is a deadline of this loop (a timer thread a job cost the main process a
        tenth of its CPU)."""
        deadline: float | None = None
        while True:
            wait = self.job_monitoring_interval
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            if not process.wait(wait):
                if deadline is not None and time.monotonic() >= deadline:
                    deadline = None
                    self._kill_overdue(process.pid, job_id)  # then its pipe ends: reaped below
                    continue
                with self.connection.pipeline(transaction=False) as pipe:
                    self.heartbeat(self.job_monitoring_interval + 60, pipeline=pipe)
                    queues.mark_running(job_id, self.running_ttl, self.name, pipeline=pipe)
                    pipe.execute()
                continue
            reply, seconds = process.reply()
            if reply == horse.LIMIT:
                deadline = time.monotonic() + seconds + KILL_GRACE
            elif reply == horse.KEEP:
                return None
            else:
                self._work_process = None
                _pid, status, _rusage = process.reap()
                return None if reply == horse.RETIRE else status

    def _work_process_died(self, job_id: str, status: int) -> None:
        stopped, self._stopped_job_id = self._stopped_job_id == job_id, None
        if stopped:
            return  # an operator's stop: the job is CANCELLED already
        self.log.warning("job %s: its work process died (wait status %s)", job_id, status)
        signal_number = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        start, peak = self._peaks.read()
        try:
            runner.horse_died(
                job_id,
                timed_out=self._overdue_job_id == job_id,
                signal_number=signal_number,
                vm_start=start,
                vm_peak=peak,
            )
        finally:
            self._overdue_job_id = None
            connections.close_all()

    def get_current_job_id(self):
        """The job this worker runs (RQ's stop-job command asks): a portal job has no RQ execution."""
        return self._running_job_id or super().get_current_job_id()

    def _ready_work_process(self) -> WorkProcess:
        """The work process, forked first when there is none (or it died idle)."""
        if self._work_process is not None and not self._work_process.alive():
            self._work_process.reap()  # it died between jobs (killed from outside): no job is lost
            self._work_process = None
        if self._work_process is None:
            self._work_process = self._fork_work_process()
        return self._work_process

    def _arm_watchdog(self, horse_pid: int, job_id: str, seconds: int) -> None:
        self._cancel_watchdog()
        self._watchdog = threading.Timer(seconds + KILL_GRACE, self._kill_overdue, (horse_pid, job_id))
        self._watchdog.daemon = True
        self._watchdog.start()

    def _cancel_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def fork_work_horse(self, job, queue):
        """Hand an RQ job (a job's drawings) to the work process, to perform the RQ way."""
        os.environ["RQ_JOB_ID"] = job.id
        process = self._ready_work_process()
        process.send(job.id, queue.name, self.execution.id, self.execution.created_at.timestamp())
        self._horse_pid = process.pid
        self._running_job_id = job.id
        self.procline(f"Sent {job.id} to {process.pid} at {time.time()}")
        if job.timeout and job.timeout > 0:
            self._arm_watchdog(process.pid, job.id, job.timeout)

    def _fork_work_process(self) -> WorkProcess:
        connections.close_all()  # the work process must never share this process's database connection
        os.environ["RQ_WORKER_ID"] = self.name
        commands_read, commands_write = os.pipe()
        replies_read, replies_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.setpgrp()
            os.close(commands_write)
            os.close(replies_read)
            self._work_process_main(commands_read, replies_write)
        os.close(commands_read)
        os.close(replies_write)
        self.procline(f"Forked {pid} at {time.time()}")
        return WorkProcess(pid, commands_write, replies_read)

    def _work_process_main(self, commands: int, replies: int) -> None:
        """The work process: run each job the worker sends until told to stop (end of the command
        pipe, the worker gone) or spent. Never returns."""
        random.seed()
        self.setup_work_horse_signals()
        self._is_horse = True
        self.log = logger
        horse.enter(replies)
        self._peaks.start_in_horse()
        status = 0
        try:
            with os.fdopen(commands, "r") as lines:
                for line in lines:
                    fields = line.split()
                    if len(fields) == 2:
                        self._run_in_work_process(*fields)
                    else:
                        job_id, queue_name, execution_id, created = fields
                        self._perform_in_work_process(job_id, queue_name, execution_id, float(created))
                    reply = horse.finish_job()
                    os.write(replies, reply)
                    if reply == horse.RETIRE:
                        break
        except BaseException:
            logger.exception("work process failed")
            status = 1
        os._exit(status)

    def _run_in_work_process(self, kind: str, job_id: str) -> None:
        """A run that breaks off outside the driver (its end's writes out of memory under the cap, the
        database gone) ends the process, and the worker's main process decides the job's fate as for
        any death of its process (``runner.horse_died``)."""
        from jobs import tasks

        horse.begin_job()
        self._peaks.begin_job()
        try:
            if kind == DRAW:
                with horse.time_limit(queues.DRAWING_TIMEOUT):
                    tasks.draw_job(job_id)
            else:
                tasks.run_job(job_id)
        finally:
            self._peaks.end_job()

    def _perform_in_work_process(self, job_id: str, queue_name: str, execution_id: str, created: float) -> None:
        os.environ["RQ_JOB_ID"] = job_id
        job = self.job_class.fetch(job_id, connection=self.connection, serializer=self.serializer)
        queue = self.queue_class(
            queue_name,
            connection=self.connection,
            job_class=self.job_class,
            serializer=self.serializer,
            death_penalty_class=self.death_penalty_class,
        )
        # The execution as the worker created it a moment ago: no need to read it back from Redis.
        execution = Execution(id=execution_id, job_id=job.id, connection=self.connection, worker_name=self.name)
        execution.created_at = execution.last_heartbeat = datetime.fromtimestamp(created, tz=UTC)
        execution._job = job
        self.executions = {execution.id: execution}
        horse.begin_job()
        self._peaks.begin_job()
        try:
            self.perform_job(job, queue, execution)
        finally:
            self._peaks.end_job()

    def wait_for_horse(self):
        """Until the work process has ended the job it was sent: (pid, status, rusage) as RQ's
        ``os.wait4`` of a forked horse would give them, an exit status of 0 when it ended normally."""
        process = self._work_process
        if process is None:
            return None, None, None
        reply, _ = process.reply()  # RQ's monitor interrupts this every job_monitoring_interval
        if reply == horse.KEEP:
            return process.pid, os.EX_OK, None
        self._work_process = None
        pid, status, rusage = process.reap()
        return pid, (os.EX_OK if reply == horse.RETIRE else status), rusage

    def teardown(self):
        try:
            self._write_ended()
        except RedisError:
            logger.warning("could not write the last job's bookkeeping (Redis unavailable)", exc_info=True)
        super().teardown()
        if not self.is_horse and self._work_process is not None:
            self._work_process.retire()
            self._work_process = None

    def monitor_work_horse(self, job, queue, execution):
        try:
            super().monitor_work_horse(job, queue, execution)
        finally:
            self._running_job_id = None
            self._cancel_watchdog()

    def _kill_overdue(self, horse_pid: int, job_id: str) -> None:
        if self._running_job_id != job_id or self.horse_pid != horse_pid:
            return  # that job has ended already (the process may be running the next one)
        self._overdue_job_id = job_id
        logger.warning("job %s outlived its time limit; killing its work process %s", job_id, horse_pid)
        try:
            os.killpg(os.getpgid(horse_pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
