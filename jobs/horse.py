"""What holds inside a forked work horse: its memory cap, its time limit raised as ``StopJob``, and
the record of its size that the worker's main process reads if the horse dies (jobs/worker.py)."""

from __future__ import annotations

import mmap
import threading
import time

from rq.timeouts import JobTimeoutException, UnixSignalDeathPenalty

from drivers import memory
from drivers.errors import StopJob

_in_work_horse = False


def enter() -> None:
    """Mark this process as a forked work horse (called by the worker right after the fork)."""
    global _in_work_horse
    _in_work_horse = True


class JobTimeLimit(StopJob):
    """A job's time limit, raised by the horse's alarm (see TimeLimitDeathPenalty)."""


class TimeLimitDeathPenalty(UnixSignalDeathPenalty):
    """RQ's alarm, raising ``JobTimeLimit`` where RQ would raise its JobTimeoutException (an Exception
    that a driver's or library's ``except Exception`` would turn into the entry's error)."""

    def __init__(self, timeout, exception=JobTimeoutException, **kwargs):
        super().__init__(timeout, JobTimeLimit if exception is JobTimeoutException else exception, **kwargs)


def limit_memory(limit_bytes: int) -> bool:
    """Cap this work horse's address space; a no-op outside a forked horse (the tests' in-process
    workers, a web process), where the cap would hold the whole process. True when applied."""
    if not _in_work_horse:
        return False
    memory.apply_cap(limit_bytes)
    return True


class PeakRecorder:
    """The horse's virtual size at its start and its peak, kept where the worker can read them after
    the horse died: a horse that crashes in native code leaves no word of why, and whether it had
    grown toward its cap tells a job that met the memory limit from one that crashed on its own."""

    INTERVAL = 0.02

    def __init__(self) -> None:
        self._shared = mmap.mmap(-1, 16)  # anonymous and shared: survives the fork, both ways

    def start_in_horse(self) -> None:
        self._shared[0:8] = memory.vm_peak_bytes().to_bytes(8, "little")
        self._shared[8:16] = bytes(8)
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            self._shared[8:16] = memory.vm_peak_bytes().to_bytes(8, "little")
            time.sleep(self.INTERVAL)

    def read(self) -> tuple[int, int]:
        """(virtual size at the horse's start, its last recorded peak) in bytes."""
        return int.from_bytes(self._shared[0:8], "little"), int.from_bytes(self._shared[8:16], "little")
