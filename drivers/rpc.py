"""JSON-RPC methods about backends."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from core.validation import StrictSerializer, validate
from drivers.models import Backend
from portal.jsonrpc import RpcContext, openrpc_document, rpc_method


class _NoParams(StrictSerializer):
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


@rpc_method("get_backends", summary="Every backend with its status, limits and queue length.", params=_NoParams)
def get_backends(ctx: RpcContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    validate(_NoParams, params.get("body", params) if isinstance(params.get("body"), dict) else params)
    return [backend_view(backend, backend.queued) for backend in backends_with_queue_length()]


@rpc_method("rpc.discover", summary="This API as an OpenRPC document.", auth=False)
def discover(ctx: RpcContext, params: dict[str, Any]) -> dict[str, Any]:
    return openrpc_document()
