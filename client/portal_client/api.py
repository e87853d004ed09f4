"""``PortalClient``: the portal's JSON-RPC methods (``RpcClient``) plus those answering ``PortalJob`` objects.

These three methods live a layer above the others because ``PortalJob`` is built on an ``RpcClient``:
were they in ``portal_client.client``, that module and ``portal_client.job`` would import each other.
``PortalJob`` and ``QuboProblem`` are imported when first used, since they bring qiskit and dimod,
and a script that only calls the portal's methods should not pay for them.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from portal_client.client import RpcClient

if TYPE_CHECKING:
    from portal_client.job import PortalJob


class PortalClient(RpcClient):
    """A connection to one portal as one caller (an API token).

    ``url`` is the portal's base address (``http://127.0.0.1:8000``); ``url`` and ``token`` default
    to the environment's ``PORTAL_URL`` and ``PORTAL_TOKEN``. ``max_retries`` bounds the
    retries of one call; the waits between them grow from ``backoff`` seconds, doubling, up to
    ``max_backoff``, each drawn at random below that bound (full jitter) so that many clients
    retrying together spread out.
    """

    def job(self, job_id: str | uuid.UUID) -> PortalJob:
        """A ``PortalJob`` for an existing job (raises ``NotFound`` if the caller may not read it)."""
        from portal_client.job import PortalJob

        return PortalJob.fetch(self, str(job_id))

    def submit(
        self, *, use_timeslot: bool | None = None, header: dict[str, Any] | None = None, **fields: Any
    ) -> PortalJob:
        """``submit_job`` with the same fields, answering a ``PortalJob``: ``use_timeslot`` (IQM's) and
        ``header`` (IBM's, read back by ``job.header()``) among them, sent when given."""
        from portal_client.job import PortalJob

        submitted = self.submit_job(use_timeslot=use_timeslot, header=header, **fields)
        return PortalJob.from_submitted(self, submitted)

    def submit_qubo(self, qubo: Any, *, backend: str = "qubo_sa", **fields: Any) -> PortalJob:
        """Submit one QUBO, given as a square matrix, a ``{(i, j): value}`` dict, a ``dimod.BQM``, a
        compiled pyqubo model, or the path of a ``.json`` / ``.csv`` matrix file; the job's
        ``result()`` is a ``dimod.SampleSet`` over the model's own variable names."""
        from portal_client.job import PortalJob
        from portal_client.qubo_problem import QuboProblem

        problem = QuboProblem.from_any(qubo)
        submitted = self.submit_job(code_type="qubo", source_code=[problem.matrix], backend=backend, **fields)
        return PortalJob.from_submitted(self, submitted, qubo=problem)
