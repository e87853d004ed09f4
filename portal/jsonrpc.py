"""JSON-RPC 2.0 over HTTP (SPEC §3): parse, batch, dispatch, error objects.

Written by hand rather than on a JSON-RPC library: the contract needs per-method URIs that
reject a different ``method`` (-32600), the portal's own error table with ``data.error_code``,
413 for oversized bodies, a batch cap, HTTP 204 for notification-only requests, and token or
session authentication resolved once per HTTP request -- together more glue around a library
than the ~200 lines of protocol itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from core import ratelimit
from core.exceptions import InvalidParams, PermissionDenied, PortalError
from core.validation import dumps, loads
from portal import openrpc
from portal.errors import (
    InternalError,
    InvalidRequest,
    MethodNotFound,
    ParseError,
    PayloadTooLarge,
    ServiceError,
    http_status,
    internal,
    rpc_error,
)
from portal.methods import METHODS

logger = logging.getLogger(__name__)


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


@dataclass
class RpcContext:
    """The caller of one HTTP request, authenticated once and shared by a batch's calls."""

    request: HttpRequest
    cost: int = 1  # calls in this HTTP request, each counted by the rate limit
    _resolved: bool = False
    _rate_checked: bool = False
    _rate_error: PortalError | None = None
    _user: Any = None
    _token: Any = None
    _error: PortalError | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def _resolve(self) -> None:
        if self._resolved:
            return
        self._resolved = True
        from projects.authentication import request_caller

        try:
            self._user, self._token = request_caller(self.request)
            if self._token is None:  # the web session: same-origin only
                reason = _CsrfCheck(lambda request: None).process_view(self.request, None, (), {})
                if reason:
                    self._user = None
                    raise PermissionDenied(f"CSRF check failed: {reason}.")
        except PortalError as exc:
            self._error = exc

    @property
    def user(self):
        self._resolve()
        if self._error is not None:
            raise self._error
        return self._user

    @property
    def token(self):
        self._resolve()
        return self._token

    def check_rate(self) -> None:
        """Count this HTTP request's calls against the caller's rate limit, once."""
        if not self._rate_checked:
            self._rate_checked = True
            try:
                ratelimit.hit(ratelimit.caller_key(self.user, self._token), self.cost)
            except PortalError as exc:
                self._rate_error = exc
        if self._rate_error is not None:
            raise self._rate_error


def unwrap(params: dict[str, Any], wrapper: str = "body") -> dict[str, Any]:
    """Seed 000 wraps fields as ``params.body``; the same fields directly in ``params`` work too."""
    if wrapper not in params:
        return dict(params)
    inner = params[wrapper]
    if not isinstance(inner, dict):
        raise InvalidParams.field(wrapper, "must be an object")
    outer = {k: v for k, v in params.items() if k != wrapper}
    clash = sorted(set(outer) & set(inner))
    if clash:
        raise InvalidParams(
            errors=[{"field": name, "message": f"given both in {wrapper} and outside"} for name in clash]
        )
    return {**outer, **inner}


def _response(req_id: Any, *, result: Any = None, error: PortalError | None = None) -> dict[str, Any]:
    if error is not None:
        return {"jsonrpc": "2.0", "id": req_id, "error": rpc_error(error)}
    return {"jsonrpc": "2.0", "id": req_id, "result": result}


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def _request_error(item: dict[str, Any], path_method: str | None) -> InvalidRequest | None:
    """Why ``item`` is not a valid Request object, if it is not."""
    if item.get("jsonrpc") != "2.0":
        return InvalidRequest('Invalid request: "jsonrpc" must be exactly "2.0".')
    if not isinstance(item.get("method"), str):
        return InvalidRequest('Invalid request: "method" must be a string.')
    if not _valid_id(item.get("id")):
        return InvalidRequest("Invalid request: id must be a string, a number or null.")
    if path_method is not None and item["method"] != path_method:
        return InvalidRequest(f"Invalid request: this URI serves {path_method!r}, not {item['method']!r}.")
    return None


def call(
    ctx: RpcContext, item: Any, path_method: str | None, table: Mapping[str, Any] = METHODS
) -> dict[str, Any] | None:
    """Handle one request object; None for a notification. An invalid Request object is always
    answered (with id null unless its id was usable), since it cannot be a notification."""
    if not isinstance(item, dict):
        return _response(None, error=InvalidRequest("Invalid request: each request must be a JSON object."))
    invalid = _request_error(item, path_method)
    req_id = item.get("id") if _valid_id(item.get("id")) else None
    if invalid is not None:
        return _response(req_id, error=invalid)
    is_notification = "id" not in item
    name = item["method"]
    try:
        params = item.get("params", {})
        if isinstance(params, list):
            raise InvalidParams.field("params", "must be an object of named parameters (by-name)")
        if not isinstance(params, dict):
            raise InvalidParams.field("params", "must be an object of named parameters")
        method = table.get(name)
        if method is None:
            raise MethodNotFound(f"Method not found: {name!r}.")
        if method.auth:
            ctx.user  # noqa: B018 -- raises Unauthenticated before the method runs
            ctx.check_rate()
        result = method.func(ctx, unwrap(params))
    except PortalError as exc:
        error = exc
    except DatabaseError:
        error = internal(ServiceError, f"database failure in {name!r}")
    except Exception:
        error = internal(InternalError, f"internal error in {name!r}")
    else:
        return None if is_notification else _response(req_id, result=result)
    return None if is_notification else _response(req_id, error=error)


def _json(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(dumps(data), status=status, content_type="application/json")


@csrf_exempt
def endpoint(request: HttpRequest, method: str | None = None, table: Mapping[str, Any] = METHODS) -> HttpResponse:
    """``POST /v1/job`` or ``/v1/job/`` (any method of ``table``), ``POST /v1/job/<method>`` (that method
    only); likewise the other tables' URLs (portal/urls.py). Any other HTTP method is 405: a POST that a
    redirect turned into a GET must never read as a result (the OpenRPC document is at /openrpc.json)."""
    if request.method != "POST":
        response = _json(_response(None, error=InvalidRequest("Use POST for JSON-RPC calls.")), status=405)
        response["Allow"] = "POST"
        return response
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    too_big = PayloadTooLarge(limit)
    try:
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
            return _json(_response(None, error=too_big), status=http_status(too_big))
        body = request.body
    except RequestDataTooBig:
        return _json(_response(None, error=too_big), status=http_status(too_big))
    except ValueError:
        return _json(_response(None, error=InvalidRequest("Invalid Content-Length.")), status=400)
    try:
        payload = loads(body)
    except ValueError as exc:  # JSONRejected and JSONDecodeError; neither message quotes the body
        return _json(_response(None, error=ParseError(details=str(exc))))
    ctx = RpcContext(request, cost=len(payload) if isinstance(payload, list) else 1)
    if isinstance(payload, list):
        if not payload:
            return _json(_response(None, error=InvalidRequest("Invalid request: an empty batch.")))
        if len(payload) > settings.JSONRPC_MAX_BATCH:
            error = InvalidRequest(
                f"Invalid request: a batch may hold at most {settings.JSONRPC_MAX_BATCH} calls.",
                limit=settings.JSONRPC_MAX_BATCH,
            )
            return _json(_response(None, error=error))
        responses = [r for r in (call(ctx, item, method, table) for item in payload) if r is not None]
        return _json(responses) if responses else HttpResponse(status=204)
    response = call(ctx, payload, method, table)
    return _json(response) if response is not None else HttpResponse(status=204)


@require_GET
def openrpc_document(request: HttpRequest) -> HttpResponse:
    """``GET /openrpc.json``: the job API as an OpenRPC document (also the method ``rpc.discover``)."""
    return _json(openrpc.document(METHODS, request.build_absolute_uri(reverse("jsonrpc"))))


def locked_out(request: HttpRequest) -> HttpResponse:
    """django-axes refused a sign-in made over JSON-RPC (``/v1/auth``): the call answers -403 with the
    cool-off in ``data.retry_after``, as JSON-RPC, never the HTML sign-in page."""
    try:
        item = loads(request.body)
    except ValueError:
        item = None
    req_id = item.get("id") if isinstance(item, dict) and _valid_id(item.get("id")) else None
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    error = PermissionDenied("Too many failed sign-ins; try again later.", retry_after=seconds)
    return _json(_response(req_id, error=error))
