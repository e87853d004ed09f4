"""DRF glue: errors, rate limit, pagination and schema pieces shared by every REST view.

The exception handler translates the same domain errors as JSON-RPC (``portal/errors.py``), and
DRF's own errors into that table too, so a REST error always has one shape::

    {"error": {"code": -404, "error_code": "not_found", "message": "...", "data": {...}}}

``code`` is the JSON-RPC code, ``error_code`` the stable name, ``data`` the same object JSON-RPC
answers (``data.errors`` for field errors, ``data.retry_after``, ``data.ref`` for a bug).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError
from django.http import Http404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from core import ratelimit
from core.exceptions import InvalidParams, NotFound, PermissionDenied, PortalError, RateLimited, Unauthenticated
from core.validation import flatten_errors, json_safe, loads
from portal.errors import (
    HttpProtocolError,
    InternalError,
    InvalidRequest,
    ParseError,
    PayloadTooLarge,
    ServiceError,
    http_status,
    internal,
    rest_error,
)

logger = logging.getLogger(__name__)


# --- Errors -------------------------------------------------------------------------------------


def _as_portal_error(exc: Exception) -> PortalError | None:
    if isinstance(exc, PortalError):
        return exc
    if isinstance(exc, Http404):
        return NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, SuspiciousOperation):  # TooManyFieldsSent: more query parameters than Django parses
        return InvalidRequest(f"Invalid request: {exc}")
    if not isinstance(exc, exceptions.APIException):
        return None
    if isinstance(exc, exceptions.ValidationError):
        return InvalidParams(errors=flatten_errors(exc.detail))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        # DRF turns these into 403 when no authenticator can name a scheme for WWW-Authenticate.
        if exc.status_code == 403:
            return PermissionDenied(str(exc.detail))
        return Unauthenticated(str(exc.detail) if isinstance(exc, exceptions.AuthenticationFailed) else None)
    if isinstance(exc, exceptions.PermissionDenied):
        return PermissionDenied(None if exc.detail == exc.default_detail else str(exc.detail))
    if isinstance(exc, exceptions.NotFound):
        return NotFound(None if exc.detail == exc.default_detail else str(exc.detail))
    if isinstance(exc, exceptions.Throttled):
        retry_after = max(1, math.ceil(exc.wait or 1))
        return RateLimited(f"Too many requests. Retry in {retry_after} s.", retry_after=retry_after)
    if isinstance(exc, exceptions.ParseError):
        return ParseError(f"Malformed request body: {exc.detail}")
    # 405, 406, 415: no row in the table; answered with their own status.
    return HttpProtocolError(str(exc.detail), status=exc.status_code, error_code=exc.default_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every exception a REST view raises, as the one error shape; a bug is a 500 with a reference."""
    error = _as_portal_error(exc)
    if error is None:
        view = context.get("view")
        where = f"{type(view).__name__}.{getattr(view, 'action', None)}" if view is not None else "a REST view"
        error = internal(ServiceError if isinstance(exc, DatabaseError) else InternalError, f"error in {where}")
    # Imported here: rest_framework.views reads DEFAULT_THROTTLE_CLASSES, which names this module.
    from rest_framework.views import set_rollback

    set_rollback()
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if "retry_after" in error.extra:
        headers["Retry-After"] = str(error.extra["retry_after"])
    return Response(rest_error(error), status=http_status(error), headers=headers)


# --- JSON in and out ----------------------------------------------------------------------------


class StrictJSONParser(JSONParser):
    """Request bodies as JSON-RPC parses them (``core.validation.loads``): at most
    ``MAX_REQUEST_BYTES`` (DRF reads the stream without Django's size check), no deeper than
    ``MAX_JSON_DEPTH``, no NaN or Infinity. Always UTF-8 (or UTF-16/32 detected), as RFC 8259 asks."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge(limit)
        try:
            return loads(body)
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc


class StrictJSONRenderer(JSONRenderer):
    """DRF's renderer (strict: it refuses NaN), falling back to ``json_safe`` when an answer holds a
    non-finite number (a driver's result) or a lone surrogate (a row stored before the checks):
    null and an escape rather than a 500 with a body that is not JSON."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except ValueError:  # allow_nan=False, and UnicodeEncodeError of a lone surrogate
            logger.warning("a REST answer held a non-finite number or a lone surrogate; written as null or escaped")
            return super().render(json_safe(data), accepted_media_type, renderer_context)


# --- Rate limit ---------------------------------------------------------------------------------


class RateLimitThrottle(BaseThrottle):
    """The per-token rate limit of JSON-RPC (``portal/ratelimit.py``), on the same counters, so a
    client cannot double its rate by switching APIs. Anonymous requests get 401 before this runs
    (or reach only the public schema pages)."""

    def allow_request(self, request, view) -> bool:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return True
        token = request.auth
        key = ratelimit.caller_key(user, token if hasattr(token, "pk") else None)
        # Raised rather than answered False: the domain error carries the limit, the window and
        # retry_after exactly as JSON-RPC's -429 does.
        ratelimit.hit(key)
        return True


# --- Pagination ---------------------------------------------------------------------------------


class PortalPagination(PageNumberPagination):
    """``?page=N&page_size=M`` (1..1000, default 100); answers ``count``, ``next``, ``previous``,
    ``results``. A page size out of range is a 400 naming it, not silently clamped."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError({"page_size": [f"must be an integer from 1 to {self.max_page_size}"]})
        return size

    def get_schema_operation_parameters(self, view):
        """The bounds the code enforces, in the schema (a page past the last, or below 1, is a 404)."""
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.page_query_param: {"minimum": 1},
            self.page_size_query_param: {"minimum": 1, "maximum": self.max_page_size},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


# --- Fields and schema --------------------------------------------------------------------------


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "projects.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API token: `Authorization: Bearer qp_...`."}
