"""Reads of backends."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncHour

from backends.models import Backend
from core.exceptions import NotFound


def backend_get(name: str) -> Backend:
    try:
        return Backend.objects.get(name=name)
    except Backend.DoesNotExist as exc:
        raise NotFound(f"Backend {name!r} not found.") from exc


def backend_list() -> QuerySet[Backend]:
    return Backend.objects.all()


def with_queue_length(backends: QuerySet[Backend]) -> QuerySet[Backend]:
    """``backends`` annotated with ``queued``, its jobs waiting to run, in the same query: the one
    definition of a backend's queue length (JSON-RPC, REST, web, admin and the ops pages)."""
    # "QUEUED" is JobStatus.QUEUED, spelled out: the jobs app sits above this one.
    return backends.annotate(queued=Count("jobs", filter=Q(jobs__status="QUEUED")))


def backends_with_queue_length() -> QuerySet[Backend]:
    """Every backend by name, with ``queued``. (The model's ordering does not apply to an aggregate
    query, hence order_by.)"""
    return with_queue_length(Backend.objects.all()).order_by("name")


# The jobs a QCOS device answer counts: those still waiting or running (lower-case, QCOS's keys), read
# through the status index. Counting every status would aggregate the whole jobs table on each listing.
JOB_COUNT_STATUSES = ("queued", "running", "cancelling")


def job_counts(backends: QuerySet[Backend]) -> dict[str, dict[str, int]]:
    """Per backend name, its active jobs by status (and their total), in one grouped query."""
    counts = {b.name: {"total": 0, **dict.fromkeys(JOB_COUNT_STATUSES, 0)} for b in backends}
    active = [status.upper() for status in JOB_COUNT_STATUSES]
    # From the bare table: ``backends`` may carry annotations whose joins would multiply these counts.
    rows = (
        Backend.objects.filter(name__in=counts, jobs__status__in=active)
        .values_list("name", "jobs__status")
        .annotate(n=Count("jobs"))
    )
    for name, status, n in rows.order_by():
        counts[name]["total"] += n
        counts[name][status.lower()] += n
    return counts


def backend_jobs_per_hour(backend: Backend, *, until: datetime, hours: int = 24) -> list[tuple[datetime, int]]:
    """Jobs that ran to their end on ``backend`` (COMPLETED or FAILED) in each of the last ``hours``
    whole hours up to ``until``, oldest first: one grouped query, read off the (backend, ended_at) index."""
    end = until.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    rows = (
        backend.jobs.filter(ended_at__gte=start, ended_at__lt=end, status__in=["COMPLETED", "FAILED"])
        .annotate(hour=TruncHour("ended_at"))
        .values_list("hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = dict(rows)
    return [(hour, counts.get(hour, 0)) for hour in (start + timedelta(hours=i) for i in range(hours))]
