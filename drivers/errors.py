"""Job-level (per entry) error codes, SPEC §3: what a driver reports inside a result entry."""

from __future__ import annotations

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
