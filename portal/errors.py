"""How an error is answered, on every face (SPEC §3): the only place an exception becomes a JSON-RPC
code or an HTTP status.

The domain errors live in ``core.exceptions``; the protocol's own (a body that is not JSON, a call
that is not a request, an unknown method, a bug) live here, since only the faces raise them.
``STATUS`` maps each error class to its (JSON-RPC code, HTTP status); a class not named answers as
its nearest base that is.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from core.exceptions import (
    BackendUnavailable,
    Conflict,
    InvalidParams,
    InvalidPayload,
    NotFound,
    NotImplementedYet,
    PermissionDenied,
    PortalError,
    QuotaExceeded,
    Unauthenticated,
)

logger = logging.getLogger(__name__)


class ParseError(PortalError):
    error_code = "parse_error"
    default_message = "Parse error: the body is not valid JSON."


class InvalidRequest(PortalError):
    error_code = "invalid_request"
    default_message = "Invalid request: not a JSON-RPC 2.0 request object."


class PayloadTooLarge(InvalidRequest):
    """A body over ``MAX_REQUEST_BYTES``: an Invalid Request on JSON-RPC and REST alike, answered 413."""

    error_code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body too large: the limit is {limit} bytes.", limit=limit)


class MethodNotFound(PortalError):
    error_code = "method_not_found"
    default_message = "Method not found."


class InternalError(PortalError):
    """A bug: logged with a reference that the answer's ``data.ref`` carries."""

    error_code = "internal_error"
    default_message = "Internal error."


class ServiceError(PortalError):
    """An unexpected failure behind a method (database down, ...): -500."""

    error_code = "internal_error"
    default_message = "The service failed; try again later."


class HttpProtocolError(PortalError):
    """An HTTP-level refusal the table has no row for (405, 406, 415): its status, negated as the
    code, as the JSON-RPC business codes are."""

    def __init__(self, message: str, *, status: int, error_code: str) -> None:
        super().__init__(message, error_code=error_code)
        self.status = status


# Seed 000's platform numbering: the JSON-RPC standard codes, then negated HTTP-like business codes.
STATUS: dict[type[PortalError], tuple[int, int]] = {
    PortalError: (-500, 500),
    ParseError: (-32700, 400),
    InvalidRequest: (-32600, 400),
    PayloadTooLarge: (-32600, 413),
    MethodNotFound: (-32601, 404),
    InvalidParams: (-32602, 400),
    InternalError: (-32603, 500),
    InvalidPayload: (-400, 400),
    Unauthenticated: (-401, 401),
    PermissionDenied: (-403, 403),
    NotFound: (-404, 404),
    Conflict: (-409, 409),
    QuotaExceeded: (-429, 429),
    ServiceError: (-500, 500),
    # A known option this portal does not honour is the request's problem, not a server failure: 422.
    NotImplementedYet: (-501, 422),
    BackendUnavailable: (-503, 503),
}


def _status(exc: PortalError) -> tuple[int, int]:
    if isinstance(exc, HttpProtocolError):
        return -exc.status, exc.status
    return next(STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS)


def rpc_code(exc: PortalError) -> int:
    return _status(exc)[0]


def http_status(exc: PortalError) -> int:
    return _status(exc)[1]


def rpc_error(exc: PortalError) -> dict[str, Any]:
    """The JSON-RPC error object."""
    return {"code": rpc_code(exc), "message": exc.message, "data": exc.data}


def rest_error(exc: PortalError) -> dict[str, Any]:
    """The REST (and event stream) error body: the JSON-RPC object plus ``error_code`` beside it."""
    return {"error": {"code": rpc_code(exc), "error_code": exc.error_code, "message": exc.message, "data": exc.data}}


def internal(exc_class: type[PortalError], message: str) -> PortalError:
    """Log the exception being handled under a reference the client gets in ``data.ref``; no internals leak."""
    ref = uuid.uuid4().hex[:12]
    logger.exception("%s (ref %s)", message, ref)
    return exc_class(f"{exc_class.default_message} Reference: {ref}.", ref=ref)
