"""JSON-RPC methods about backends (listed in portal/methods.py): the seed's ``get_backends``, and the
backends as QCOS devices and its transpilers (``/v1/device``, ``/v1/transpiler``, SPEC §12)."""

from __future__ import annotations

from typing import Any

import qiskit

from backends.models import Backend, BackendStatus
from backends.presenters import backend_view
from backends.selectors import backend_get, backends_with_queue_length, job_counts
from core.calls import Caller
from core.exceptions import NotFound
from core.validation import StrictBooleanField, StrictCharField, StrictSerializer, validate
from drivers.registry import get_driver
from drivers.transpilers import TRANSPILER_INFO


class NoParams(StrictSerializer):
    pass


class DevicesParams(StrictSerializer):
    details = StrictBooleanField(default=False)


class DeviceParams(DevicesParams):
    name = StrictCharField(max_length=64)


class NameParams(StrictSerializer):
    name = StrictCharField(max_length=64)


def get_backends(caller: Caller, params: dict[str, Any]) -> list[dict[str, Any]]:
    validate(NoParams, params)
    return [backend_view(backend) for backend in backends_with_queue_length()]


# A paused backend holds its jobs, as a device under maintenance would.
_DEVICE_STATUS = {BackendStatus.ONLINE: "online", BackendStatus.PAUSED: "maintain", BackendStatus.OFFLINE: "offline"}


def device_view(backend: Backend, job_count: dict[str, int], *, details: bool) -> dict[str, Any]:
    """A backend as QCOS's ``get_device`` answers a device; ``details`` adds the portal's own view of it."""
    return {
        "name": backend.name,
        "alias_name": None,
        "description": backend.description or None,
        "driver_name": backend.driver,
        "enable": backend.status != BackendStatus.OFFLINE,
        "status": _DEVICE_STATUS.get(backend.status, "unknown"),
        "is_manual": backend.status != BackendStatus.ONLINE,  # paused or taken offline by an operator
        "tech_type": get_driver(backend.driver).tech_type,
        "max_qubits": backend.max_qubits,
        "available_qubits": backend.max_qubits,
        "enable_device_monitor": False,
        "device_monitor_status": "offline",
        "monitor_polling_interval": None,
        "enable_device_manager": False,
        "device_manager_status": "offline",
        "configs": None,
        "job_count": job_count,
        "last_updated_at": None,
        "metrics": None,
        "details": backend_view(backend) if details else None,
    }


def get_devices(caller: Caller, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    data = validate(DevicesParams, params)
    backends = backends_with_queue_length()
    counts = job_counts(backends)
    return {b.name: device_view(b, counts[b.name], details=data["details"]) for b in backends}


def get_device(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(DeviceParams, params)
    backend_get(data["name"])  # a name that is no backend is not found
    backends = backends_with_queue_length().filter(name=data["name"])
    (backend,) = backends
    return device_view(backend, job_counts(backends)[backend.name], details=data["details"])


def transpiler_view(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "alias_name": TRANSPILER_INFO[name]["alias_name"],
        "version": qiskit.__version__,
        "enable": True,
        "supported_code_types": TRANSPILER_INFO[name]["supported_code_types"],
        "transpiler_options": None,
        "transpiler_options_schema": None,
    }


def get_transpilers(caller: Caller, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    validate(NoParams, params)
    return {name: transpiler_view(name) for name in sorted(TRANSPILER_INFO)}


def get_transpiler(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(NameParams, params)
    if data["name"] not in TRANSPILER_INFO:
        raise NotFound(f"Transpiler {data['name']!r} not found.")
    return transpiler_view(data["name"])
