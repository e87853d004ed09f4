"""Job-level (per entry) error codes, SPEC §3: what a driver reports inside a result entry."""

from __future__ import annotations

from drivers import memory

INVALID_PAYLOAD = -101
PARSE_ERROR = -102
TRANSPILE_ERROR = -103
EXECUTION_ERROR = -104
TIMEOUT = -105
WORKER_LOST = -106
CANCELLED_WHILE_RUNNING = -107

_LABELS = {
    INVALID_PAYLOAD: "Invalid Payload",
    PARSE_ERROR: "Parse Error",
    TRANSPILE_ERROR: "Transpile Error",
    EXECUTION_ERROR: "Execution Error",
    TIMEOUT: "Timeout",
    WORKER_LOST: "Worker Lost",
    CANCELLED_WHILE_RUNNING: "Cancelled",
}


class EntryError(Exception):
    """An expected failure of one entry: it ends that entry FAILED with ``code``, never a traceback."""

    def __init__(self, code: int, detail: str):
        self.code = code
        self.detail = detail
        super().__init__(detail)

    def as_dict(self) -> dict:
        return error_dict(self.code, self.detail)


def error_dict(code: int, detail: str) -> dict:
    """The seed's entry error shape: ``{"code": -102, "message": "[JobEngine] Parse Error: ..."}``."""
    return {"code": code, "message": f"[JobEngine] {_LABELS.get(code, 'Error')}: {detail}"}


class StopJob(BaseException):
    """Raised into a running driver by its worker to stop the job now (its time limit).

    A BaseException, like KeyboardInterrupt: the ``except Exception`` inside drivers and the libraries
    they call cannot swallow it, and ``entry_error`` passes it on.
    """


# The worker's own signals: a driver passes these on, never turns them into an entry's error.
PASS_ON = (KeyboardInterrupt, SystemExit, GeneratorExit, StopJob)
MEMORY_LIMIT = "memory limit: the job ran out of the memory its work process may use"


def entry_error(exc: BaseException, code: int) -> EntryError:
    """The entry error for whatever a library raised in a stage whose failures are ``code``.

    Native panics (pyo3's PanicException is a BaseException) end the entry like any other error;
    running out of memory is an execution error wherever it happens; the worker's signals go on up.
    """
    if isinstance(exc, PASS_ON):
        raise exc
    if isinstance(exc, EntryError):
        return exc
    detail = str(exc).strip("'\"") or type(exc).__name__
    if isinstance(exc, MemoryError) or memory.near_cap():
        return EntryError(
            EXECUTION_ERROR, MEMORY_LIMIT if isinstance(exc, MemoryError) else f"{MEMORY_LIMIT} ({detail})"
        )
    return EntryError(code, detail)
