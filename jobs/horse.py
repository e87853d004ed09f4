"""What holds inside a work process: its memory cap, its time limit raised as ``StopJob``, when it
is spent and must be replaced, and the record of its size that the worker's main process reads if
it dies (jobs/worker.py).

A work process is forked once and runs job after job, the way Celery's prefork pool does: forking
per job cost more than a tiny job itself (a fork of a prewarmed worker, new database and Redis
connections in every child). What the fork gave is kept: the process is replaced when it dies
(a crash in native code still costs only its job), after a job that broke off (time limit,
memory, an internal error), when it has grown, and after ``WORK_PROCESS_MAX_JOBS`` jobs.
"""

from __future__ import annotations

import mmap
import os
import select
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connections
from rq.timeouts import JobTimeoutException, UnixSignalDeathPenalty

from drivers import memory
from drivers.errors import StopJob

_in_work_horse = False
_replies: int | None = None
_spent: str | None = None
_birth_peak = 0
_jobs_run = 0

# What the work process says on its reply pipe: one byte at a job's end, and a job's time limit.
KEEP = b"k"  # ready for the next job
RETIRE = b"r"  # spent: exiting, fork a new one for the next job
LIMIT = b"t"  # the job's time limit in seconds follows (4 bytes): the worker arms its watchdog


def enter(replies: int) -> None:
    """Mark this process as a forked work process (called by the worker right after the fork);
    ``replies`` is its reply pipe."""
    global _in_work_horse, _birth_peak, _replies
    _in_work_horse = True
    _replies = replies
    _birth_peak = memory.vm_peak_bytes()


class JobTimeLimit(StopJob):
    """A job's time limit, raised by the work process's alarm (see TimeLimitDeathPenalty)."""


class TimeLimitDeathPenalty(UnixSignalDeathPenalty):
    """RQ's alarm, raising ``JobTimeLimit`` where RQ would raise its JobTimeoutException (an Exception
    that a driver's or library's ``except Exception`` would turn into the entry's error)."""

    def __init__(self, timeout, exception=JobTimeoutException, **kwargs):
        super().__init__(timeout, JobTimeLimit if exception is JobTimeoutException else exception, **kwargs)


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """The job's time limit over what runs inside, in a work process (a no-op elsewhere): its alarm
    raises ``JobTimeLimit`` in Python code at the limit, and the worker's main process, told the limit
    here, kills the process when native code ignores the alarm (``jobs/worker.py``)."""
    if not _in_work_horse or seconds <= 0:
        yield
        return
    os.write(_replies, LIMIT + int(seconds).to_bytes(4, "big"))
    with TimeLimitDeathPenalty(seconds, JobTimeLimit):
        yield


def limit_memory(limit_bytes: int) -> bool:
    """Cap this work process's address space for the job about to run; a no-op outside one (the
    tests' in-process workers, a web process), where the cap would hold the whole process. True when
    applied. Only the soft limit moves, so the next job's backend may have a larger cap."""
    if not _in_work_horse:
        return False
    memory.apply_cap(limit_bytes)
    return True


def lift_memory_limit() -> None:
    """Lift the job's memory cap (in a work process; a no-op elsewhere), so that writing how a job that
    ran out of memory ended cannot run out of it too."""
    if _in_work_horse:
        memory.lift_cap()


def spend(reason: str) -> None:
    """This work process must not run another job: the last one broke off (``reason``) somewhere a
    library may have left its state half-made."""
    global _spent
    _spent = reason


def begin_job() -> None:
    """Before each job in a work process: a connection that broke during an earlier job is replaced.
    Healthy ones are kept, which is the point of a long-lived process."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and (connection.errors_occurred or connection.in_atomic_block):
            if connection.in_atomic_block or not connection.is_usable():
                connection.close()
            else:
                connection.errors_occurred = False


def finish_job() -> bytes:
    """After each job: KEEP, or RETIRE when this process is spent, has grown, or has run its share."""
    global _jobs_run
    _jobs_run += 1
    grown = memory.vm_peak_bytes() - _birth_peak > settings.WORK_PROCESS_MAX_GROWTH_MB * 2**20
    # Growth is measured by VmPeak, which never falls: a process that once grew is replaced, so every
    # job starts within that margin of the process's birth and its own growth reads true
    # (memory.peak_since).
    if _spent or grown or _jobs_run >= settings.WORK_PROCESS_MAX_JOBS:
        return RETIRE
    return KEEP


class WorkProcess:
    """The worker's handle on its work process: a pid, a pipe to send it jobs and one to hear back."""

    def __init__(self, pid: int, commands: int, replies: int) -> None:
        self.pid = pid
        self.commands = commands
        self.replies = replies

    def alive(self) -> bool:
        try:
            pid, _status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return pid == 0

    def send_task(self, kind: str, job_id: str) -> None:
        """Run the portal's task ``kind`` (run a job, draw its circuits) on job ``job_id``."""
        self._send(f"{kind} {job_id}\n")

    def send(self, job_id: str, queue_name: str, execution_id: str, execution_created: float) -> None:
        """Perform RQ's job ``job_id`` as RQ would (a callback, with its retries)."""
        self._send(f"{job_id} {queue_name} {execution_id} {execution_created!r}\n")

    def _send(self, line: str) -> None:
        try:
            os.write(self.commands, line.encode())
        except BrokenPipeError:
            # It died after the worker last saw it alive (killed from outside): its reply pipe
            # ends too, so the worker hears the death in ``reply`` as for a death mid-job.
            pass

    def wait(self, timeout: float) -> bool:
        """Whether the process has said something (or died) within ``timeout`` seconds."""
        return bool(select.select([self.replies], [], [], timeout)[0])

    def reply(self) -> tuple[bytes, int]:
        """Block until the process speaks: (KEEP or RETIRE, 0) once the job sent last has ended,
        (LIMIT, seconds) as it starts the job's run, (b"", 0) when it died."""
        kind = os.read(self.replies, 1)
        if kind != LIMIT:
            return kind, 0
        return kind, int.from_bytes(os.read(self.replies, 4), "big")  # written with its byte, in one write

    def reap(self) -> tuple[int, int, object]:
        """Wait for the process to exit (it has been told to, or it died); (pid, status, rusage)."""
        self.close()
        try:
            return os.wait4(self.pid, 0)
        except ChildProcessError:
            return self.pid, 0, None

    def close(self) -> None:
        for fd in (self.commands, self.replies):
            try:
                os.close(fd)
            except OSError:
                pass
        self.commands = self.replies = -1

    def retire(self, timeout: float = 5.0) -> None:
        """Ask an idle process to exit (end of its command pipe); kill it when it does not in time."""
        self.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return
            time.sleep(0.02)
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.reap()


class PeakRecorder:
    """The work process's virtual size at the job's start and its peak during the job, kept where the
    worker can read them after the process died: a process that crashes in native code leaves no word
    of why, and whether it had grown toward its cap tells a job that met the memory limit from one
    that crashed on its own. Sampled only while a job runs, from INTERVAL into it: a job that ends
    sooner has had no time to grow, and an idle process reads nothing."""

    INTERVAL = 0.02

    def __init__(self) -> None:
        self._shared = mmap.mmap(-1, 16)  # anonymous and shared: survives the fork, both ways
        self._start_peak = 0
        self._running = threading.Event()
        self._lock = threading.Lock()  # a sample of the last job never lands on the next one

    def start_in_horse(self) -> None:
        threading.Thread(target=self._sample, daemon=True).start()

    def begin_job(self) -> None:
        with self._lock:
            size, self._start_peak = memory.vm_bytes()
            self._shared[0:8] = size.to_bytes(8, "little")
            self._shared[8:16] = size.to_bytes(8, "little")
            self._running.set()

    def end_job(self) -> None:
        with self._lock:
            self._running.clear()

    def _sample(self) -> None:
        while True:
            self._running.wait()
            time.sleep(self.INTERVAL)
            with self._lock:
                if self._running.is_set():
                    peak = max(memory.peak_since(self._start_peak), int.from_bytes(self._shared[8:16], "little"))
                    self._shared[8:16] = peak.to_bytes(8, "little")

    def read(self) -> tuple[int, int]:
        """(virtual size at the job's start, its last recorded peak) in bytes."""
        return int.from_bytes(self._shared[0:8], "little"), int.from_bytes(self._shared[8:16], "little")
