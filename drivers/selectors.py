"""Reads of backends."""

from __future__ import annotations

from django.db.models import QuerySet

from core.exceptions import NotFound
from drivers.models import Backend


def backend_get(name: str) -> Backend:
    try:
        return Backend.objects.get(name=name)
    except Backend.DoesNotExist as exc:
        raise NotFound(f"Backend {name!r} not found.") from exc


def backend_list() -> QuerySet[Backend]:
    return Backend.objects.all()
