"""Python client for the quantum job portal (SPEC §11).

- ``PortalClient(url, token)``: every JSON-RPC method, typed exceptions, retries, idempotent submits;
- ``PortalJob``: a job as qiskit's ``JobV1``;
- ``PortalProvider(url, token)``: the circuit backends as qiskit ``BackendV2``;
- ``PortalSampler(url, token, backend="qubo_sa")``: the QUBO backends as a ``dimod.Sampler``;
- ``qportal`` / ``python -m portal_client``: the command line.
"""

from portal_client.client import PortalClient
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
    JobTimeout,
    JobTypeNotSupported,
    MethodNotFound,
    NotFound,
    NotImplementedByPortal,
    ParseError,
    PermissionDenied,
    PortalError,
    QuotaExceeded,
    RateLimited,
    ServiceError,
    Unauthenticated,
)
from portal_client.job import PortalJob
from portal_client.provider import PortalBackend, PortalProvider
from portal_client.qubo import PortalSampler, QuboProblem

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailable", "Conflict", "ConnectionFailed", "InternalError", "InvalidParams", "InvalidPayload",
    "InvalidRequest", "InvalidState", "JobError", "JobTimeout", "JobTypeNotSupported", "MethodNotFound",
    "NotFound", "NotImplementedByPortal", "ParseError", "PermissionDenied", "PortalBackend", "PortalClient",
    "PortalError", "PortalJob", "PortalProvider", "PortalSampler", "QuboProblem", "QuotaExceeded", "RateLimited",
    "ServiceError", "Unauthenticated",
]  # fmt: skip
