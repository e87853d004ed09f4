"""State changes of backends."""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Subquery

from backends.models import Backend, BackendSnapshot, BackendStatus
from backends.signals import backend_online
from core.exceptions import InvalidParams


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


def backend_snapshot_ref(*, backend: Backend) -> Subquery:
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
    return Subquery(BackendSnapshot.objects.filter(backend_id=backend.pk, config_hash=digest).values("pk")[:1])


def forget_snapshots() -> None:
    """Drop this process's memory of stored snapshots (the tests' clean slate)."""
    with _known_lock:
        _known.clear()
