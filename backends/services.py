"""State changes of backends."""

from __future__ import annotations

from django.db import transaction

from backends.models import Backend, BackendStatus
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
