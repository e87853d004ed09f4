"""HTTP views of the jobs app outside the APIs: the live event stream (SPEC §9)."""

from __future__ import annotations

import uuid

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from jobs import events
from jobs.selectors import job_get_for_user
from portal.errors import PortalError
from projects.authentication import request_caller


def _error(exc: PortalError) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": exc.code, "error_code": exc.error_code, "message": exc.message, "data": exc.data}},
        status=exc.http_status,
    )


async def job_events(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """``GET /v1/job/<job_id>/events``: server-sent events of one job (Bearer token or session).

    ``event: status`` at once and on every change, ``event: progress`` as entries end, a keep-alive
    comment at least every 15 s, ``event: end`` after the final status, then the stream closes. A job
    the caller may not read answers 404, as a missing one does.
    """
    if request.method != "GET":
        response = JsonResponse({"error": {"code": -32600, "message": "Use GET."}}, status=405)
        response["Allow"] = "GET"
        return response
    try:
        user, _token = await sync_to_async(request_caller)(request)
        job = await sync_to_async(job_get_for_user)(user=user, job_id=job_id)
    except PortalError as exc:
        return _error(exc)

    def load() -> dict:
        return events.snapshot(job_get_for_user(user=user, job_id=job.job_id))

    response = StreamingHttpResponse(events.stream(job.job_id, load), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # proxies must not buffer the stream
    return response
