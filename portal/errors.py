"""The one table of domain errors (SPEC §3).

Services raise these; the JSON-RPC layer, the REST exception handler and the web views translate
the same exceptions. ``code`` is the JSON-RPC error code (seed 000's platform numbering),
``error_code`` the stable machine-readable name, ``http_status`` what REST answers.
"""

from __future__ import annotations

from typing import Any


class PortalError(Exception):
    code: int = -500
    error_code: str = "internal_error"
    http_status: int = 500
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


class ParseError(PortalError):
    code, error_code, http_status = -32700, "parse_error", 400
    default_message = "Parse error: the body is not valid JSON."


class InvalidRequest(PortalError):
    code, error_code, http_status = -32600, "invalid_request", 400
    default_message = "Invalid request: not a JSON-RPC 2.0 request object."


class PayloadTooLarge(InvalidRequest):
    """A body over ``MAX_REQUEST_BYTES``: an Invalid Request on JSON-RPC and REST alike, answered 413."""

    error_code, http_status = "payload_too_large", 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body too large: the limit is {limit} bytes.", limit=limit)


class MethodNotFound(PortalError):
    code, error_code, http_status = -32601, "method_not_found", 404
    default_message = "Method not found."


class InvalidParams(PortalError):
    """``errors`` is a list of ``{"field": ..., "message": ...}``, one per offending field."""

    code, error_code, http_status = -32602, "invalid_params", 400
    default_message = "Invalid params."

    def __init__(self, message: str | None = None, *, errors: list[dict[str, str]] | None = None, **kwargs: Any):
        errors = errors or []
        if message is None and errors:
            message = "Invalid params: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(message, errors=errors, **kwargs)

    @classmethod
    def field(cls, field: str, message: str) -> InvalidParams:
        return cls(errors=[{"field": field, "message": message}])


class InternalError(PortalError):
    code, error_code, http_status = -32603, "internal_error", 500
    default_message = "Internal error."


class InvalidPayload(PortalError):
    code, error_code, http_status = -400, "invalid_payload", 400
    default_message = "The payload is not acceptable."


class JobTypeNotSupported(InvalidPayload):
    error_code = "job_type_not_supported"


class Unauthenticated(PortalError):
    code, error_code, http_status = -401, "unauthenticated", 401
    default_message = "Authentication required: send a valid API token as 'Authorization: Bearer <token>'."


class PermissionDenied(PortalError):
    code, error_code, http_status = -403, "permission_denied", 403
    default_message = "You may not do this."


class NotFound(PortalError):
    code, error_code, http_status = -404, "not_found", 404
    default_message = "Not found."


class Conflict(PortalError):
    code, error_code, http_status = -409, "conflict", 409
    default_message = "Conflict."


class InvalidState(Conflict):
    error_code = "invalid_state"


class QuotaExceeded(PortalError):
    code, error_code, http_status = -429, "quota_exceeded", 429
    default_message = "Quota exceeded."


class RateLimited(QuotaExceeded):
    error_code = "rate_limited"


class ServiceError(PortalError):
    """An unexpected failure behind a method (database down, ...): -500."""

    code, error_code, http_status = -500, "internal_error", 500
    default_message = "The service failed; try again later."


class NotImplementedYet(PortalError):
    code, error_code, http_status = -501, "not_implemented", 501
    default_message = "Not implemented."


class BackendUnavailable(PortalError):
    code, error_code, http_status = -503, "backend_unavailable", 503
    default_message = "The backend is unavailable."
