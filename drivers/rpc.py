"""JSON-RPC methods about backends."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from core.calls import Caller
from core.validation import StrictSerializer, validate
from drivers.models import Backend


class NoParams(StrictSerializer):
    pass


def backends_with_queue_length() -> QuerySet[Backend]:
    """Every backend by name, annotated with ``queued`` (its QUEUED jobs) in the same query. (The model's
    ordering does not apply to an aggregate query, hence order_by.)"""
    return Backend.objects.annotate(queued=Count("jobs", filter=Q(jobs__status="QUEUED"))).order_by("name")


def backend_view(backend: Backend, queue_length: int) -> dict[str, Any]:
    """A backend as ``get_backends`` and the REST API show it."""
    return {
        "name": backend.name,
        "status": backend.status,
        "description": backend.description,
        "driver": backend.driver,
        "code_types": backend.code_types,
        "max_qubits": backend.max_qubits,
        "max_shots": backend.max_shots,
        "max_circuits": backend.max_circuits,
        "max_variables": backend.max_variables,
        "time_limit": backend.time_limit,
        "basis_gates": backend.basis_gates,
        "coupling_map": backend.coupling_map,
        "results_fetch_mode": backend.results_fetch_mode,
        "queue_length": queue_length,
    }


def get_backends(caller: Caller, params: dict[str, Any]) -> list[dict[str, Any]]:
    validate(NoParams, params)
    return [backend_view(backend, backend.queued) for backend in backends_with_queue_length()]
