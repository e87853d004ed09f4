"""Prometheus metrics at ``/metrics``, for staff tokens (or a staff session) and the networks in
``METRICS_ALLOWED_NETWORKS``; anyone else gets a 404, as for a page that is not there.

What processes counted (``core/metrics.py``) is summed over every process's files in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode); what is true now (jobs by
status, queue depths, live workers) is read at scrape time, each in one query or one Redis round trip.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from datetime import timedelta
from inspect import iscoroutinefunction
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.utils import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.decorators import sync_and_async_middleware
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from redis import RedisError

from core.api_stats import api_stats, count_request
from core.calls import Caller
from core.exceptions import PermissionDenied, PortalError
from core.validation import StrictSerializer, validate
from jobs import ops_selectors, queues
from portal.embedded_redis import pid_alive
from projects.authentication import request_caller

logger = logging.getLogger(__name__)


class NowCollector:
    """The figures read at scrape time."""

    def collect(self):
        jobs = GaugeMetricFamily(
            "portal_jobs",
            "Jobs queued, running or cancelling now, by backend and status.",
            labels=["backend", "status"],
        )
        for backend, status, n in ops_selectors.active_jobs_by_backend():
            jobs.add_metric([backend, status], n)
        yield jobs
        ended = GaugeMetricFamily(
            "portal_jobs_ended_last_hour", "Jobs that ended in the last hour, by backend and status.",
            labels=["backend", "status"],
        )  # fmt: skip
        for backend, status, n in ops_selectors.ended_by_backend(since=timezone.now() - timedelta(hours=1)):
            ended.add_metric([backend, status], n)
        yield ended
        depth = GaugeMetricFamily(
            "portal_queue_depth", "QUEUED jobs by backend and priority (1 runs first), waiting in Redis or held.",
            labels=["backend", "priority"],
        )  # fmt: skip
        for backend, priority, n in ops_selectors.queued_by_backend_and_priority():
            depth.add_metric([backend, str(priority)], n)
        yield depth
        try:
            depths, workers = queues.depths(), queues.worker_count()
        except RedisError:
            logger.warning("metrics: Redis unavailable", exc_info=True)
            yield GaugeMetricFamily("portal_redis_up", "Whether Redis answered this scrape.", value=0)
            return
        yield GaugeMetricFamily("portal_redis_up", "Whether Redis answered this scrape.", value=1)
        waiting = GaugeMetricFamily(
            "portal_redis_queue_depth", "Jobs waiting in each priority's Redis queue.", labels=["priority"]
        )
        for priority, n in depths.items():
            waiting.add_metric([str(priority)], n)
        yield waiting
        yield GaugeMetricFamily("portal_workers", "Job workers alive (registered with RQ).", value=workers)


def _allowed(request: HttpRequest) -> bool:
    address = request.META.get("REMOTE_ADDR", "")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        ip = None
    if ip is not None and any(ip in network for network in settings.METRICS_ALLOWED_NETWORKS):
        return True
    try:
        user, _token = request_caller(request)
    except PortalError:
        return False
    return user.is_staff


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        raise Http404("Not found.")
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=settings.METRICS_DIR)
    registry.register(NowCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def forget_dead_processes(directory: Path) -> int:
    """Remove the metric files of processes that have died (runportal at its start): their counts are
    gone from the sums (Prometheus's rate() reads that as a counter reset), and the folder stops
    growing with every process that ever ran. Answers how many files went."""
    removed = 0
    for path in Path(directory).glob("*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# --- Requests counted (QCOS's get_api_stats) ---------------------------------------------------------

# What QCOS leaves out of its counts too: the monitoring itself, and files.
UNCOUNTED = ("/metrics", "/v1/metrics", "/static/", "/favicon.ico")


@sync_and_async_middleware
def count_requests(get_response):
    """Count every request (``core.api_stats``) but the monitoring's and static files'; first in
    MIDDLEWARE, so refusals and errors count too."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            if not request.path.startswith(UNCOUNTED):
                count_request()
            return await get_response(request)

    else:

        def middleware(request):
            if not request.path.startswith(UNCOUNTED):
                count_request()
            return get_response(request)

    return middleware


# --- QCOS's /v1/metrics (SPEC §12): the same figures, in the answers wy-qcos-client reads ------------


class NoParams(StrictSerializer):
    pass


def _staff_only(caller: Caller, params: dict) -> None:
    validate(NoParams, params)
    if not caller.user.is_staff:
        raise PermissionDenied("Only operators (staff) may read the portal's metrics.")


def _database_up() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


def get_system_health(caller: Caller, params: dict) -> dict:
    """Each part of the portal, checked now: the web server (answering this), the database, Redis, the
    job workers (at least one alive)."""
    _staff_only(caller, params)
    try:
        queues.connection().ping()
        redis_up, workers = True, queues.worker_count()
    except RedisError:
        redis_up, workers = False, 0
    status = {"web": True, "database": _database_up(), "redis": redis_up, "worker": workers > 0}
    return {
        "system_healthy": all(status.values()),
        "heartbeat_timestamp": time.time(),
        "component_status": {name: "online" if up else "offline" for name, up in status.items()},
    }


def get_api_stats(caller: Caller, params: dict) -> dict:
    """Requests answered in all, in the last hour, in the last day (``core.api_stats``)."""
    _staff_only(caller, params)
    return api_stats()


JOB_STATS_STATUSES = (
    "completed", "failed", "running", "queued", "cancelling", "cancelled", "deleting", "deleted", "unknown",
)  # fmt: skip


def get_job_stats(caller: Caller, params: dict) -> dict:
    """Every job by status (QCOS's ten counts; the portal has no DELETING, so 0), and the jobs submitted
    and completed in the last minute."""
    _staff_only(caller, params)
    counts = ops_selectors.jobs_by_status()
    submitted, completed = ops_selectors.jobs_submitted_and_completed_since(timezone.now() - timedelta(minutes=1))
    return {
        "total": sum(counts.values()),
        **{name: counts.get(name.upper(), 0) for name in JOB_STATS_STATUSES},
        "submitted_job_rate_min": float(submitted),
        "completed_job_rate_min": float(completed),
    }
