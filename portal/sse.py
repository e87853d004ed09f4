"""The live event stream of a job (SPEC §9), a face beside JSON-RPC and REST."""

from __future__ import annotations

import asyncio
import uuid

from asgiref.sync import sync_to_async
from django.db import connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from core.exceptions import InvalidParams, NotFound, PortalError
from core.validation import dumps
from jobs import live
from jobs.selectors import job_get_for_user, jobs_visible_to
from portal.errors import HttpProtocolError, http_status, rest_error
from projects.authentication import request_caller

# Streams read the database briefly (at start and at each keep-alive), never holding a connection
# in between; this bounds how many do so at once per process, so a burst of hundreds of streams
# cannot exhaust PostgreSQL's max_connections.
STREAM_DB_SLOTS = 16
_db_slots: asyncio.Semaphore | None = None


def _closing(func):
    """``func`` as a coroutine that waits for a database slot, runs in a thread and closes that
    thread's database connections after."""

    def run():
        try:
            return func()
        finally:
            connections.close_all()

    async def slotted():
        global _db_slots
        if _db_slots is None:
            _db_slots = asyncio.Semaphore(STREAM_DB_SLOTS)  # created inside the server's event loop
        async with _db_slots:
            return await sync_to_async(run)()

    return slotted


def _error(exc: PortalError) -> HttpResponse:
    return HttpResponse(dumps(rest_error(exc)), status=http_status(exc), content_type="application/json")


async def job_events(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """``GET /v1/job/<job_id>/events``: server-sent events of one job (Bearer token or session).

    ``event: status`` at once and on every change, ``event: progress`` as entries end, a keep-alive
    comment at least every 15 s, ``event: end`` after the final status, then the stream closes. A job
    the caller may not read answers 404, as a missing one does.
    """
    if request.method != "GET":
        response = _error(HttpProtocolError("Use GET.", status=405, error_code="method_not_allowed"))
        response["Allow"] = "GET"
        return response

    def authorize():
        user, _token = request_caller(request)
        return user, job_get_for_user(user=user, job_id=job_id)

    try:
        user, job = await _closing(authorize)()
    except PortalError as exc:
        return _error(exc)

    def load() -> dict:
        return live.snapshot(job_get_for_user(user=user, job_id=job.job_id))

    response = StreamingHttpResponse(live.stream(job.job_id, _closing(load)), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # proxies must not buffer the stream
    return response


def _job_ids(request: HttpRequest) -> list[uuid.UUID]:
    values = [v for value in request.GET.getlist("job_ids") for v in value.split(",") if v.strip()]
    if not values:
        raise InvalidParams(
            "Give job_ids: the jobs to follow, comma-separated.", errors=[{"field": "job_ids", "message": "required"}]
        )
    if len(values) > live.MAX_STREAMED_JOBS:
        raise InvalidParams(
            f"At most {live.MAX_STREAMED_JOBS} jobs per stream.",
            errors=[{"field": "job_ids", "message": f"at most {live.MAX_STREAMED_JOBS}"}],
        )
    try:
        return list(dict.fromkeys(uuid.UUID(v.strip()) for v in values))
    except ValueError as exc:
        raise InvalidParams(
            "job_ids must be job UUIDs.", errors=[{"field": "job_ids", "message": "not a UUID"}]
        ) from exc


async def jobs_events(request: HttpRequest) -> HttpResponse:
    """``GET /v1/jobs/events?job_ids=<id>,<id>``: server-sent events of up to 100 jobs at once (the job
    list follows its page with it). Each event is a job's, as on ``/v1/job/<job_id>/events``, and names
    its ``job_id``; ``event: end`` once every job followed is final. Jobs the caller may not read are
    left out, as missing ones are; none readable answers 404."""
    if request.method != "GET":
        response = _error(HttpProtocolError("Use GET.", status=405, error_code="method_not_allowed"))
        response["Allow"] = "GET"
        return response

    def authorize():
        user, _token = request_caller(request)
        wanted = _job_ids(request)
        readable = list(jobs_visible_to(user).filter(pk__in=wanted).values_list("pk", flat=True))
        if not readable:
            raise NotFound("None of these jobs was found.")
        return user, readable

    try:
        user, job_ids = await _closing(authorize)()
    except PortalError as exc:
        return _error(exc)

    def load() -> list[dict]:
        return [live.snapshot(job) for job in jobs_visible_to(user).filter(pk__in=job_ids).only(*SNAPSHOT_FIELDS)]

    response = StreamingHttpResponse(live.stream_many(job_ids, _closing(load)), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


SNAPSHOT_FIELDS = ("job_id", "status", "progress", "updated_at")
