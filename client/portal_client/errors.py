"""The portal's error table (SPEC §3) as exceptions.

Every error the portal answers becomes an instance of the class registered for its ``error_code``
(or, failing that, its numeric ``code``), so callers catch ``NotFound`` or ``QuotaExceeded`` rather
than compare numbers. Each carries ``code``, ``error_code``, ``message`` and ``data`` as answered.
"""

from __future__ import annotations

from typing import Any


class PortalError(Exception):
    """An error answered by the portal, or met on the way to it."""

    code: int = -500
    error_code: str = "internal_error"
    # Set by the transport on the errors worth another attempt (connection, HTTP 5xx, rate_limited).
    retryable: bool = False

    def __init__(
        self,
        message: str = "",
        *,
        code: int | None = None,
        error_code: str | None = None,
        data: dict[str, Any] | None = None,
    ):
        self.message = message or type(self).__name__
        if code is not None:
            self.code = code
        if error_code is not None:
            self.error_code = error_code
        self.data = data or {}
        super().__init__(self.message)

    @property
    def details(self) -> str:
        return self.data.get("details", "")

    def __str__(self) -> str:
        return f"{self.message} [{self.code} {self.error_code}]"


class ParseError(PortalError):
    code, error_code = -32700, "parse_error"


class InvalidRequest(PortalError):
    code, error_code = -32600, "invalid_request"


class MethodNotFound(PortalError):
    code, error_code = -32601, "method_not_found"


class InvalidParams(PortalError):
    """``errors`` lists each offending field as ``{"field": ..., "message": ...}``."""

    code, error_code = -32602, "invalid_params"

    @property
    def errors(self) -> list[dict[str, str]]:
        return self.data.get("errors", [])


class InternalError(PortalError):
    """A bug in the portal; ``ref`` is the reference its log carries."""

    code, error_code = -32603, "internal_error"

    @property
    def ref(self) -> str | None:
        return self.data.get("ref")


class InvalidPayload(PortalError):
    code, error_code = -400, "invalid_payload"


class JobTypeNotSupported(InvalidPayload):
    error_code = "job_type_not_supported"


class Unauthenticated(PortalError):
    code, error_code = -401, "unauthenticated"


class PermissionDenied(PortalError):
    code, error_code = -403, "permission_denied"


class NotFound(PortalError):
    code, error_code = -404, "not_found"


class Conflict(PortalError):
    code, error_code = -409, "conflict"


class InvalidState(Conflict):
    error_code = "invalid_state"


class JobNotSubmittedToQC(InvalidState):
    """Cancelling one job that has ended already (IQM's ``job_not_submitted_to_qc``)."""

    error_code = "job_not_submitted_to_qc"


class TimeslotRequired(Conflict):
    """A submit to a backend that runs jobs only in booked timeslots, without ``use_timeslot`` (IQM's
    ``timeslot_required``)."""

    error_code = "timeslot_required"


class NoBookedTimeslots(Conflict):
    """A submit with ``use_timeslot`` while the job's project has no active or upcoming timeslot on the
    backend (IQM's ``no_booked_timeslots``)."""

    error_code = "no_booked_timeslots"


class QuotaExceeded(PortalError):
    code, error_code = -429, "quota_exceeded"

    @property
    def retry_after(self) -> float | None:
        value = self.data.get("retry_after")
        return float(value) if value is not None else None


class RateLimited(QuotaExceeded):
    error_code = "rate_limited"


class ServiceError(PortalError):
    """An unexpected failure behind a method (-500), or an HTTP 5xx that outlasted the retries."""

    code, error_code = -500, "internal_error"


class NotImplementedByPortal(PortalError):
    code, error_code = -501, "not_implemented"


class BackendUnavailable(PortalError):
    code, error_code = -503, "backend_unavailable"


class ConnectionFailed(PortalError):
    """The portal could not be reached (or answered something that is not JSON-RPC) after the retries."""

    code, error_code = 0, "connection_failed"


class JobError(PortalError):
    """A job ended without results to give: FAILED (``entry_errors`` says why, per entry) or CANCELLED."""

    code, error_code = 0, "job_failed"

    def __init__(self, message: str, *, job_id: str, job_status: str, entry_errors: list[dict] | None = None):
        super().__init__(message, data={"job_id": job_id, "job_status": job_status})
        self.job_id = job_id
        self.job_status = job_status
        self.entry_errors = entry_errors or []


class JobTimeout(PortalError):
    """Waiting for a job took longer than the caller allowed; the job itself goes on."""

    code, error_code = 0, "timeout"


# Every class the portal answers with; each lookup below is made from the classes' own attributes.
_ANSWERED: tuple[type[PortalError], ...] = (
    ParseError, InvalidRequest, MethodNotFound, InvalidParams, InternalError, InvalidPayload, JobTypeNotSupported,
    Unauthenticated, PermissionDenied, NotFound, Conflict, InvalidState, JobNotSubmittedToQC, TimeslotRequired,
    NoBookedTimeslots, QuotaExceeded, RateLimited, ServiceError,
    NotImplementedByPortal, BackendUnavailable,
)  # fmt: skip
# error_code first (it tells QuotaExceeded from RateLimited, both -429), then the number: the class
# that declares it (a subclass that only narrows the error_code inherits its parent's number).
_BY_ERROR_CODE: dict[str, type[PortalError]] = {cls.error_code: cls for cls in _ANSWERED}
_BY_CODE: dict[int, type[PortalError]] = {cls.code: cls for cls in _ANSWERED if "code" in vars(cls)}


def from_rpc_error(error: dict[str, Any]) -> PortalError:
    """The exception for a JSON-RPC ``error`` object as the portal answers it."""
    code = error.get("code")
    data = error.get("data") if isinstance(error.get("data"), dict) else {}
    error_code = data.get("error_code")
    cls = _BY_CODE.get(code, PortalError)
    # internal_error is both -32603 and -500: the number decides between them.
    if error_code in _BY_ERROR_CODE and error_code != "internal_error":
        cls = _BY_ERROR_CODE[error_code]
    return cls(str(error.get("message", "")), code=code, error_code=error_code, data=data)
