"""Reads of backends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import CharField, Count, DateTimeField, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncHour

from backends.models import Backend, Timeslot
from core.exceptions import NotFound
from core.prepared import Param, Prepared

_BACKEND_BY_NAME = Prepared(lambda: Backend.objects.filter(name=Param("name", CharField()))[:1])


def backend_get(name: str) -> Backend:
    backend = _BACKEND_BY_NAME.first(name=name)
    if backend is None:
        raise NotFound(f"Backend {name!r} not found.")
    return backend


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


# --- Timeslots ----------------------------------------------------------------------------------


def timeslots_at(at: datetime) -> QuerySet[Timeslot]:
    """The slots running at ``at`` (at most one per backend)."""
    return Timeslot.objects.filter(start_at__lte=at, end_at__gt=at)


def timeslot_holder(backend: Any, at: datetime) -> Subquery:
    """The project (id) whose slot holds ``backend`` (a backend id, or an ``OuterRef`` to one) at ``at``,
    as an expression: null when no slot runs. Annotated on a job's read, it costs no query of its own."""
    return Subquery(timeslots_at(at).filter(backend=backend).values("project_id")[:1])


def timeslot_holder_id(*, backend_id: int, at: datetime) -> int | None:
    """``timeslot_holder`` read on its own: one query."""
    return timeslots_at(at).filter(backend_id=backend_id).values_list("project_id", flat=True).first()


@dataclass(frozen=True)
class TimeslotStanding:
    """A backend's timeslots as one project's submit meets them."""

    holder: int | None  # the project whose slot runs now, if any
    project_has_slot: bool  # the project has a slot running now or to come


def _backend_for_submit() -> QuerySet[Backend]:
    at, project_id = Param("at", DateTimeField()), Param("project_id", IntegerField())
    slots_of_project = Timeslot.objects.filter(backend=OuterRef("pk"), end_at__gt=at, project_id=project_id)
    return (
        Backend.objects.filter(name=Param("name", CharField()))
        .annotate(slot_holder=timeslot_holder(OuterRef("pk"), at), project_has_slot=Exists(slots_of_project))
        .order_by()[:1]
    )


# Every submit reads it (compiled once: core.prepared).
_BACKEND_FOR_SUBMIT = Prepared(_backend_for_submit)


def backend_for_submit(*, name: str, project_id: int, at: datetime) -> tuple[Backend, TimeslotStanding]:
    """The backend named ``name`` and its timeslots as ``project_id``'s submit meets them at ``at``, in
    one query."""
    backend = _BACKEND_FOR_SUBMIT.first(name=name, at=at, project_id=project_id)
    if backend is None:
        raise NotFound(f"Backend {name!r} not found.")
    return backend, TimeslotStanding(holder=backend.slot_holder, project_has_slot=backend.project_has_slot)


def timeslot_next(*, backend_id: int, at: datetime, project_id: int | None = None) -> Timeslot | None:
    """The backend's slot running at ``at`` or else the next to start (of ``project_id``'s, when given)."""
    slots = Timeslot.objects.filter(backend_id=backend_id, end_at__gt=at)
    if project_id is not None:
        slots = slots.filter(project_id=project_id)
    return slots.order_by("start_at").first()


def timeslots_for_user(user: Any) -> QuerySet[Timeslot]:
    """The slots of the projects the caller may read (operators: every slot); a slot of another project
    is not found."""
    from projects.selectors import projects_for_user

    slots = Timeslot.objects.select_related("backend", "project", "created_by")
    return slots.filter(project__in=projects_for_user(user))


def backend_timeslots(backend: Backend, *, at: datetime, limit: int = 10) -> list[Timeslot]:
    """The backend's slots running at ``at`` or to come, first ``limit`` by start (its page's calendar)."""
    return list(Timeslot.objects.filter(backend=backend, end_at__gt=at).select_related("project")[:limit])
