"""The one output shape of a backend: JSON-RPC ``get_backends``, the REST API, the web pages."""

from __future__ import annotations

from typing import Any

from backends.models import Backend


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
