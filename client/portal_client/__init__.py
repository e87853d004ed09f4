"""Python client for the quantum job portal (SPEC §11).

- ``PortalClient(url, token)``: every JSON-RPC method, typed exceptions, retries, idempotent submits;
- ``PortalJob``: a job as qiskit's ``JobV1``;
- ``PortalProvider(url, token)``: the circuit backends as qiskit ``BackendV2``;
- ``PortalSampler(url, token, backend="qubo_sa")``: the QUBO backends as a ``dimod.Sampler``;
- ``PortalSamplerV2`` / ``PortalEstimatorV2(url, token, backend="aer_simulator")``: qiskit's V2
  primitives run on the portal, one job per ``run``;
- ``qportal`` / ``python -m portal_client``: the command line.

The names are imported on first use (PEP 562): qiskit and dimod take seconds to import, and the
command line, or a script that only needs ``PortalClient``, should not pay for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from portal_client.errors import (
    BackendUnavailable,
    Conflict,
    ConnectionFailed,
    InternalError,
    InvalidParams,
    InvalidPayload,
    InvalidRequest,
    InvalidState,
    JobError,
    JobNotSubmittedToQC,
    JobTimeout,
    JobTypeNotSupported,
    MethodNotFound,
    NoBookedTimeslots,
    NotFound,
    NotImplementedByPortal,
    ParseError,
    PermissionDenied,
    PortalError,
    QuotaExceeded,
    RateLimited,
    ServiceError,
    TimeslotRequired,
    Unauthenticated,
)

if TYPE_CHECKING:
    from portal_client.api import PortalClient
    from portal_client.job import PortalJob
    from portal_client.primitives import PortalEstimatorV2, PortalPrimitiveJob, PortalSamplerV2
    from portal_client.provider import PortalBackend, PortalProvider
    from portal_client.qubo import PortalSampler
    from portal_client.qubo_problem import QuboProblem

from portal_client.version import __version__ as __version__  # noqa: E402  (re-exported)

# name -> the module that defines it; loaded when the name is first read.
_LAZY = {
    "PortalClient": "portal_client.api",
    "PortalJob": "portal_client.job",
    "PortalBackend": "portal_client.provider",
    "PortalProvider": "portal_client.provider",
    "PortalSampler": "portal_client.qubo",
    "PortalSamplerV2": "portal_client.primitives",
    "PortalEstimatorV2": "portal_client.primitives",
    "PortalPrimitiveJob": "portal_client.primitives",
    "QuboProblem": "portal_client.qubo_problem",
}
_SUBMODULES = (
    "api", "cli", "client", "errors", "job", "primitives", "primitives_results", "provider", "qubo", "qubo_problem",
    "transport",
)  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"portal_client.{name}")
    raise AttributeError(f"module 'portal_client' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBMODULES})


__all__ = [
    "BackendUnavailable", "Conflict", "ConnectionFailed", "InternalError", "InvalidParams", "InvalidPayload",
    "InvalidRequest", "InvalidState", "JobError", "JobNotSubmittedToQC", "JobTimeout", "JobTypeNotSupported",
    "MethodNotFound", "NoBookedTimeslots",
    "NotFound", "NotImplementedByPortal", "ParseError", "PermissionDenied", "PortalBackend", "PortalClient",
    "PortalError", "PortalEstimatorV2", "PortalJob", "PortalPrimitiveJob", "PortalProvider", "PortalSampler",
    "PortalSamplerV2", "QuboProblem", "QuotaExceeded", "RateLimited",
    "ServiceError", "TimeslotRequired", "Unauthenticated",
]  # fmt: skip
