"""Reads of backends."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

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
