"""``PortalSampler``: the portal's QUBO backends as a ``dimod.Sampler``.

Each ``sample`` is one job; its BQM goes to the portal as a ``QuboProblem`` (``portal_client.qubo_problem``),
which maps the answer back to the BQM's own labels, vartype and offset.
"""

from __future__ import annotations

from typing import Any

import dimod

from portal_client.api import PortalClient
from portal_client.qubo_problem import QuboProblem

# Driver options of the QUBO backends; only those given are sent (the exact solver takes no reads).
SAMPLER_PARAMETERS = ("num_reads", "num_sweeps", "top_k", "seed")


class PortalSampler(dimod.Sampler):
    """The portal's QUBO backends as a dimod sampler, for D-Wave Ocean code.

    ``PortalSampler(url, token, backend="qubo_sa", **submit_options)``; ``submit_options`` are
    ``submit_job`` fields every job gets (``job_priority``, ``tags``, ``project_id``...). Sampling
    parameters (``num_reads``, ``num_sweeps``, ``top_k``, ``seed``) become the job's driver options.
    ``sample`` returns at once; the SampleSet waits for its job when first read.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        backend: str = "qubo_sa",
        *,
        client: PortalClient | None = None,
        **submit_options: Any,
    ):
        if client is None:
            client = PortalClient(url, token)
        self.client = client
        self.backend = backend
        self.submit_options = submit_options
        self._properties: dict[str, Any] | None = None

    @property
    def properties(self) -> dict[str, Any]:
        if self._properties is None:
            info = self.client.get_backend(self.backend)
            self._properties = {
                "backend": info["name"],
                "description": info.get("description", ""),
                "max_variables": info.get("max_variables"),
                "time_limit": info.get("time_limit"),
                "status": info.get("status"),
            }
        return self._properties

    @property
    def parameters(self) -> dict[str, list]:
        return {name: [] for name in SAMPLER_PARAMETERS}

    def sample(self, bqm: dimod.BinaryQuadraticModel, **parameters: Any) -> dimod.SampleSet:
        unknown = sorted(set(parameters) - set(SAMPLER_PARAMETERS))
        if unknown:
            raise ValueError(f"unknown sampling parameters {unknown}; this sampler takes {list(SAMPLER_PARAMETERS)}")
        if not bqm.num_variables:
            # Nothing to solve, and the portal takes no empty matrix: the one empty sample, at the offset.
            return dimod.SampleSet.from_samples(([[]], []), bqm.vartype, energy=[bqm.offset])
        problem = QuboProblem.from_bqm(bqm)
        driver_options = {name: value for name, value in parameters.items() if value is not None}
        options = dict(self.submit_options)
        if driver_options:
            options["driver_options"] = {**options.get("driver_options", {}), **driver_options}
        job = self.client.submit_qubo(problem, backend=self.backend, **options)
        return dimod.SampleSet.from_future(job, lambda job: job.result())
