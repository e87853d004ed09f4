"""``version`` (QCOS's ``POST /version``, SPEC §12): what this portal is and, with ``details``, what it can
run: job types, drivers with their code types and options, transpilers, profiling stages."""

from __future__ import annotations

from typing import Any

from core.calls import Caller
from core.validation import StrictBooleanField, StrictSerializer, validate
from drivers.base import PROFILING_STAGES
from drivers.registry import driver_names, get_driver
from drivers.transpilers import TRANSPILER_INFO

VERSION = "0.1.0"
API_VERSION = "v1"
JOB_TYPES = ["sampling", "estimation", "sampler", "estimator"]
TECH_TYPES = {"generic_simulator": {"alias_name": "Simulator"}}


class VersionParams(StrictSerializer):
    details = StrictBooleanField(default=False)


def capabilities() -> dict[str, Any]:
    drivers = {name: get_driver(name) for name in driver_names()}
    return {
        "job_types": JOB_TYPES,
        "drivers": {
            name: {
                "supported_code_types": list(driver.code_types),
                "description": (type(driver).__doc__ or "").strip().split("\n")[0],
                "driver_options": {option: None for option in driver.option_names},
            }
            for name, driver in drivers.items()
        },
        "transpilers": {name: dict(info) for name, info in TRANSPILER_INFO.items()},
        "tech_types": TECH_TYPES,
        "profiling": {"all": {"alias_name": "every stage"}}
        | {stage: {"alias_name": stage} for stage in PROFILING_STAGES},
        "driver_transpiler_mappings": {name: list(driver.transpilers) for name, driver in drivers.items()},
    }


def version(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(VersionParams, params)
    return {
        "version": VERSION,
        "api_version": API_VERSION,
        "supported_api_versions": [{"version": API_VERSION, "status": "CURRENT"}],
        "platform_version": f"Quantum job portal {VERSION}",
        "auth_mode": "token",
        "capabilities": capabilities() if data["details"] else None,
    }
