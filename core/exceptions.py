"""The domain errors (SPEC §3): what services, selectors and drivers raise.

Each carries a stable machine-readable ``error_code``, a one-sentence ``message`` and ``details``,
and no transport code: the faces in ``portal/`` alone map an error to a JSON-RPC code and an HTTP
status, from the one table in ``portal/errors.py``.
"""

from __future__ import annotations

from typing import Any


class PortalError(Exception):
    """Base of every error the portal answers with its own message (a bug is not one)."""

    error_code: str = "internal_error"
    default_message: str = "The request failed."

    def __init__(self, message: str | None = None, *, details: str = "", error_code: str | None = None, **data: Any):
        self.message = message or self.default_message
        self.details = details or self.message
        if error_code:
            self.error_code = error_code
        self.extra = data
        super().__init__(self.message)

    @property
    def data(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "details": self.details, **self.extra}


def field_path(field: str) -> list[str]:
    """A field's path as its parts: ``callbacks[0].headers.X`` -> ``["callbacks", "0", "headers", "X"]``."""
    return [part for part in field.replace("[", ".").replace("]", "").split(".") if part] if field else []


def with_qcos_keys(error: dict[str, Any]) -> dict[str, Any]:
    """A field error as QCOS's client reads it too: ``msg`` and ``loc`` (the path's parts, as strings,
    which its CLI joins) beside ``field`` and ``message``."""
    return {**error, "msg": error.get("message", ""), "loc": field_path(error.get("field", ""))}


class InvalidParams(PortalError):
    """``errors`` is a list of ``{"field": ..., "message": ...}``, one per offending field (with QCOS's
    ``msg`` and ``loc`` added)."""

    error_code = "invalid_params"
    default_message = "Invalid params."

    def __init__(self, message: str | None = None, *, errors: list[dict[str, Any]] | None = None, **kwargs: Any):
        errors = [with_qcos_keys(error) for error in errors or []]
        if message is None and errors:
            message = "Invalid params: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(message, errors=errors, **kwargs)

    @classmethod
    def field(cls, field: str, message: str) -> InvalidParams:
        return cls(errors=[{"field": field, "message": message}])


class InvalidPayload(PortalError):
    error_code = "invalid_payload"
    default_message = "The payload is not acceptable."


class JobTypeNotSupported(InvalidPayload):
    error_code = "job_type_not_supported"


class Unauthenticated(PortalError):
    error_code = "unauthenticated"
    default_message = "Authentication required: send a valid API token as 'Authorization: Bearer <token>'."


class PermissionDenied(PortalError):
    error_code = "permission_denied"
    default_message = "You may not do this."


class NotFound(PortalError):
    error_code = "not_found"
    default_message = "Not found."


class Conflict(PortalError):
    error_code = "conflict"
    default_message = "Conflict."


class InvalidState(Conflict):
    error_code = "invalid_state"


class JobNotSubmittedToQC(InvalidState):
    """A single job asked to be cancelled has ended already (IQM's ``job_not_submitted_to_qc``)."""

    error_code = "job_not_submitted_to_qc"


class QuotaExceeded(PortalError):
    error_code = "quota_exceeded"
    default_message = "Quota exceeded."


class RateLimited(QuotaExceeded):
    error_code = "rate_limited"


class NotImplementedYet(PortalError):
    error_code = "not_implemented"
    default_message = "Not implemented."


class BackendUnavailable(PortalError):
    error_code = "backend_unavailable"
    default_message = "The backend is unavailable."
