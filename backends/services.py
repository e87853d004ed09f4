"""State changes of backends."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import CharField, IntegerField, Subquery

from backends.models import Backend, BackendSnapshot, BackendStatus, Timeslot
from backends.signals import backend_online, timeslots_changed
from core.exceptions import Conflict, InvalidParams, PermissionDenied
from core.prepared import Bound, Param


def backend_status_of(status: str) -> BackendStatus:
    """``status`` as a backend status, or InvalidParams naming the choices."""
    if status not in BackendStatus.values:
        raise InvalidParams.field("status", f"must be one of {', '.join(BackendStatus.values)}")
    return BackendStatus(status)


def backend_set_status(*, backend: Backend, status: str) -> Backend:
    """Put a backend online, pause it (jobs stay queued) or take it offline (submissions refused).

    Jobs of a paused backend wait in the database only; going online again enqueues them, in
    priority and submission order (the jobs app hears ``backend_online``, in this transaction).
    """
    status = backend_status_of(status)
    with transaction.atomic():
        previous = backend.status
        backend.status = status
        backend.save(update_fields=["status"])
        if status == BackendStatus.ONLINE and previous != BackendStatus.ONLINE:
            backend_online.send(sender=Backend, backend=backend)
    return backend


# Fields of a backend that describe what its jobs run on (its status and description do not).
SNAPSHOT_FIELDS = (
    "name", "driver", "code_types", "options", "max_qubits", "max_shots", "max_circuits", "max_variables",
    "time_limit", "basis_gates", "coupling_map",
)  # fmt: skip
_known: set[tuple[int, str]] = set()  # (backend id, config hash) stored already, as far as this process knows
_known_lock = threading.Lock()


def backend_properties(backend: Backend) -> dict[str, Any]:
    """What a job's record of its backend holds: the configuration fields and the driver's description."""
    from drivers.registry import get_driver

    described: dict[str, Any] = {name: getattr(backend, name) for name in SNAPSHOT_FIELDS}
    try:
        described["driver_properties"] = get_driver(backend.driver).properties(backend)
    except KeyError:
        described["driver_properties"] = {}
    return described


# The snapshot's id by its backend and configuration, inside the start's UPDATE (a Bound template).
_SNAPSHOT_ID = Subquery(
    BackendSnapshot.objects.filter(
        backend_id=Param("snapshot_backend_id", IntegerField()), config_hash=Param("snapshot_hash", CharField())
    ).values("pk")[:1]
)


def backend_snapshot_ref(*, backend: Backend) -> Bound:
    """The snapshot of ``backend`` as it is configured now, as an expression for the job's start UPDATE:
    stored the first time this process meets that configuration, then referred to inside the UPDATE,
    so a job's start costs no query of its own for it (and a snapshot gone meanwhile is a null, not an
    error)."""
    properties = backend_properties(backend)
    digest = hashlib.sha256(json.dumps(properties, sort_keys=True, default=str).encode()).hexdigest()
    key = (backend.pk, digest)
    with _known_lock:
        known = key in _known
    if not known:
        try:
            with transaction.atomic():
                BackendSnapshot.objects.get_or_create(
                    backend=backend, config_hash=digest, defaults={"properties": properties}
                )
        except IntegrityError:
            pass  # another worker stored the same configuration meanwhile
        with _known_lock:
            _known.add(key)
    return Bound(_SNAPSHOT_ID, snapshot_backend_id=backend.pk, snapshot_hash=digest)


def forget_snapshots() -> None:
    """Drop this process's memory of stored snapshots (the tests' clean slate)."""
    with _known_lock:
        _known.clear()


# --- Timeslots ----------------------------------------------------------------------------------

MAX_TIMESLOT = timedelta(days=31)


def _require_staff(user: Any) -> None:
    if not user.is_staff:
        raise PermissionDenied("Only operators (staff) book and cancel timeslots.")


def timeslot_validate(*, timeslot: Timeslot) -> None:
    """What a timeslot must be: ending after it starts, lasting at most 31 days, overlapping no other
    slot of its backend. InvalidParams or Conflict (``timeslot_overlap``) otherwise. (``timeslot_save``
    asks again with the backend's row locked; a form may ask first.)"""
    try:
        timeslot.full_clean(exclude=["created_by"], validate_constraints=False)  # clean() says it
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidParams.field(field, "; ".join(messages)) from exc
    if timeslot.end_at - timeslot.start_at > MAX_TIMESLOT:
        raise InvalidParams.field("end_at", "a timeslot lasts at most 31 days")
    clash = (
        Timeslot.objects.filter(
            backend_id=timeslot.backend_id, start_at__lt=timeslot.end_at, end_at__gt=timeslot.start_at
        )
        .exclude(pk=timeslot.pk)
        .select_related("project")
        .first()
    )
    if clash is not None:
        raise Conflict(
            f"Backend {timeslot.backend.name} is booked from {clash.start_at.isoformat()} to "
            f"{clash.end_at.isoformat()} (project {clash.project.slug}); timeslots of a backend cannot overlap.",
            error_code="timeslot_overlap",
        )


def timeslot_save(*, user: Any, timeslot: Timeslot) -> Timeslot:
    """Book a new timeslot, or store the changed times of one (operators only), once
    ``timeslot_validate`` passes with the backend's row locked, so two bookings cannot both take one
    window. The jobs the change lets run now are enqueued (the jobs app hears ``timeslots_changed``)."""
    _require_staff(user)
    with transaction.atomic():
        Backend.objects.select_for_update().filter(pk=timeslot.backend_id).first()
        timeslot_validate(timeslot=timeslot)
        if timeslot.pk is None and timeslot.created_by_id is None:
            timeslot.created_by = user
        timeslot.save()
        timeslots_changed.send(sender=Timeslot, backend=timeslot.backend)
    return timeslot


def timeslot_book(*, user: Any, backend: Backend, project: Any, start_at: datetime, end_at: datetime, note: str = ""):
    """Book ``backend`` for ``project`` from ``start_at`` to ``end_at`` (``timeslot_save``)."""
    slot = Timeslot(backend=backend, project=project, start_at=start_at, end_at=end_at, note=note, created_by=user)
    return timeslot_save(user=user, timeslot=slot)


def timeslot_cancel(*, user: Any, timeslot: Timeslot) -> None:
    """Remove a timeslot (operators only); the jobs it kept waiting may run now."""
    _require_staff(user)
    with transaction.atomic():
        backend = timeslot.backend
        timeslot.delete()
        timeslots_changed.send(sender=Timeslot, backend=backend)
