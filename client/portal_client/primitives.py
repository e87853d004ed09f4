"""``PortalSamplerV2`` and ``PortalEstimatorV2``: qiskit's V2 primitives, run on the portal's Aer backends.

Each ``run`` is ONE job (``code_type`` "qasm3", ``job_type`` "sampler" or "estimator") holding one
entry per PUB. The PUBs are coerced by qiskit's own ``SamplerPub`` / ``EstimatorPub``, so they take
every PUB-like qiskit takes and are refused as qiskit refuses them; the wire format is the portal's
primitives contract (issue 17). The job answered is a ``BasePrimitiveJob`` whose ``result()`` is the
``PrimitiveResult`` qiskit's ``StatevectorSampler`` / ``StatevectorEstimator`` would give (rebuilt
by ``portal_client.primitives_results``): one ``BitArray`` per classical register, or ``evs`` and
``stds`` of the PUB's shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, qasm3
from qiskit import __version__ as qiskit_version
from qiskit.circuit import Parameter
from qiskit.primitives import BaseEstimatorV2, BasePrimitiveJob, BaseSamplerV2, PrimitiveResult
from qiskit.primitives.containers import EstimatorPub, SamplerPub
from qiskit.primitives.containers.estimator_pub import EstimatorPubLike
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.primitives.containers.sampler_pub import SamplerPubLike
from qiskit.providers import JobStatus
from qiskit.quantum_info import SparsePauliOp

from portal_client.api import PortalClient
from portal_client.client import client_versions
from portal_client.job import PortalJob
from portal_client.primitives_results import primitive_result
from portal_client.provider import circuits_header

DEFAULT_SHOTS = 1024
DEFAULT_PRECISION = 0.0  # exact expectation values, as StatevectorEstimator's and Aer's EstimatorV2's default
# submit_job fields a primitive sets itself; the others may be given as submit options.
RESERVED_FIELDS = ("code_type", "job_type", "source_code", "backend", "shots", "job_id")
# What the circuit's parameters are renamed to before export: zero-padded indexes sort by name in the
# order of ``circuit.parameters``, which is the order the portal reads the parameter values in.
PARAMETER_PREFIX = "_portal_p"
# Imaginary parts of observable coefficients below this are rounding, not a non-Hermitian observable.
IMAGINARY_TOLERANCE = 1e-12


def circuit_and_values(circuit: QuantumCircuit, bindings: Any) -> tuple[str, list | None]:
    """The circuit as OpenQASM 3 and its parameter values as nested lists (the last axis one value per
    parameter), or None for a circuit without parameters.

    The exporter renames parameters that are no OpenQASM identifiers (``θ[10]`` becomes ``_θ_10_``),
    and the portal reads the values in the order of the parameters' names, which for such names is not
    the circuit's order (``_θ_10_`` sorts before ``_θ_1_``). So the parameters go out renamed to
    ``_portal_p0``, ``_portal_p1``..., zero-padded: their names sort in the circuit's own order."""
    parameters = list(circuit.parameters)
    if not parameters:
        return qasm3.dumps(circuit), None
    width = len(str(len(parameters) - 1))
    renamed = {parameter: Parameter(f"{PARAMETER_PREFIX}{i:0{width}d}") for i, parameter in enumerate(parameters)}
    values = np.asarray(bindings.as_array(parameters), dtype=float)
    return qasm3.dumps(circuit.assign_parameters(renamed, inplace=False)), values.tolist()


def _pauli_dict(observable: Any) -> dict[str, float]:
    """One observable (a ``SparseObservable``) as ``{pauli string: real coefficient}``; projector terms
    (``0``, ``+``, ``r``...) are expanded into Paulis."""
    return _real_terms(dict(SparsePauliOp.from_sparse_observable(observable).simplify(atol=0).to_list()))


def _real_terms(terms: dict[str, Any]) -> dict[str, float]:
    for label, coeff in terms.items():
        if abs(complex(coeff).imag) > IMAGINARY_TOLERANCE:
            raise ValueError(f"observable term {label!r} has a complex coefficient {coeff}: not Hermitian")
    return {str(label): float(complex(coeff).real) for label, coeff in terms.items()}


def observables_as_lists(observables: ObservablesArray) -> Any:
    """An ``ObservablesArray`` as nested lists of its shape whose leaves are Pauli dicts (a single dict
    for shape ())."""
    if hasattr(observables, "sparse_observables_array") and hasattr(SparsePauliOp, "from_sparse_observable"):
        return np.vectorize(_pauli_dict, otypes=[object])(observables.sparse_observables_array()).tolist()
    # qiskit before 2.1: the elements are Pauli dicts already (its __array__: an object array of them)
    return np.vectorize(_real_terms, otypes=[object])(np.asarray(observables)).tolist()


class PortalPrimitiveJob(BasePrimitiveJob[PrimitiveResult, JobStatus]):
    """A sampler or estimator job on the portal, as qiskit's ``BasePrimitiveJob``. It waits as
    ``PortalJob`` does (the job's events stream, else polling); ``portal_job`` is that ``PortalJob``,
    for everything else the portal offers (queue position, tags, per-entry status)."""

    def __init__(self, portal_job: PortalJob, circuits: Sequence[QuantumCircuit] | None = None):
        super().__init__(portal_job.job_id())
        self.portal_job = portal_job
        self._circuits = list(circuits) if circuits is not None else None
        self._result: PrimitiveResult | None = None

    @classmethod
    def fetch(cls, client: PortalClient, job_id: str) -> PortalPrimitiveJob:
        """An existing sampler or estimator job by id (its results need no circuits at hand)."""
        job = PortalJob.fetch(client, str(job_id))
        if job.data.get("job_type") not in ("sampler", "estimator"):
            raise ValueError(f"job {job_id} is no sampler or estimator job (job_type {job.data.get('job_type')!r})")
        return cls(job)

    def __repr__(self) -> str:
        return f"<PortalPrimitiveJob {self.job_id()} {self.portal_job.data.get('job_status', '?')}>"

    def result(self, timeout: float | None = None, wait: float = 5) -> PrimitiveResult:
        """Wait for the job (at most ``timeout`` seconds, else ``JobTimeout``), then its
        ``PrimitiveResult``. A FAILED or CANCELLED job raises ``JobError`` with the entries' errors."""
        if self._result is None:
            job = self.portal_job
            job.wait_for_final_state(timeout=timeout, wait=wait)
            if job.portal_status() != "COMPLETED":
                job.result()  # raises JobError naming the status and each entry's error
            self._result = primitive_result(job.data, job.results(), self._circuits)
        return self._result

    def status(self) -> JobStatus:
        return self.portal_job.status()

    def done(self) -> bool:
        return self.status() is JobStatus.DONE

    def running(self) -> bool:
        return self.status() is JobStatus.RUNNING

    def cancelled(self) -> bool:
        return self.status() is JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        return self.status() in (JobStatus.DONE, JobStatus.CANCELLED, JobStatus.ERROR)

    def cancel(self) -> bool:
        """Cancel the job while it is queued; answers whether it was (False while it runs). A job that
        has ended raises ``JobNotSubmittedToQC``."""
        return self.portal_job.cancel()

    def wait_for_final_state(self, timeout: float | None = None, wait: float = 5) -> None:
        self.portal_job.wait_for_final_state(timeout=timeout, wait=wait)


class _PortalPrimitive:
    """What both primitives share: the connection, the backend, the submit options, one job per run."""

    job_type = ""

    def __init__(
        self,
        url: str | None,
        token: str | None,
        backend: str,
        client: PortalClient | None,
        seed: int | None,
        submit_options: dict[str, Any],
    ):
        reserved = sorted(set(submit_options) & set(RESERVED_FIELDS))
        if reserved:
            raise TypeError(f"{type(self).__name__} sets {reserved} itself; they cannot be submit options")
        self.client = client if client is not None else PortalClient(url, token)
        self.backend = backend
        self.submit_options = dict(submit_options)
        if seed is not None:  # the simulator's seed, as the Aer backends take it
            driver_options = dict(self.submit_options.get("driver_options") or {})
            self.submit_options["driver_options"] = {**driver_options, "seed_simulator": seed}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.client.url!r}, backend={self.backend!r})"

    def job(self, job_id: str) -> PortalPrimitiveJob:
        """A job of this kind submitted before, by id (``result()`` rebuilds its results)."""
        return PortalPrimitiveJob.fetch(self.client, job_id)

    def _submit(self, pubs: list[dict[str, Any]], circuits: list[QuantumCircuit], **fields: Any) -> PortalPrimitiveJob:
        if not pubs:
            raise ValueError("run() needs at least one PUB")
        options = {**self.submit_options, **fields}
        options.setdefault("client_version", client_versions(qiskit=qiskit_version))
        options.setdefault("header", circuits_header(circuits))
        submitted = self.client.submit_job(
            code_type="qasm3", job_type=self.job_type, source_code=pubs, backend=self.backend, **options
        )
        return PortalPrimitiveJob(PortalJob.from_submitted(self.client, submitted), circuits)


class PortalSamplerV2(_PortalPrimitive, BaseSamplerV2):
    """qiskit's ``BaseSamplerV2`` on a portal backend (``aer_simulator``, ``aer_noisy``, ``dummy``).

    ``PortalSamplerV2(url, token, backend="aer_simulator", *, client=None, default_shots=1024, seed=None,
    **submit_options)``: ``url`` and ``token`` default to ``PORTAL_URL`` and ``PORTAL_TOKEN``; ``seed``
    is the simulator's (``driver_options.seed_simulator``); ``submit_options`` are ``submit_job`` fields
    every job gets (``job_priority``, ``tags``, ``project_id``, ``driver_options``, ``dry_run``...).
    ``run`` returns at once.
    """

    job_type = "sampler"

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        backend: str = "aer_simulator",
        *,
        client: PortalClient | None = None,
        default_shots: int = DEFAULT_SHOTS,
        seed: int | None = None,
        **submit_options: Any,
    ):
        super().__init__(url, token, backend, client, seed, submit_options)
        self.default_shots = default_shots

    def run(self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None) -> PortalPrimitiveJob:
        """One job sampling every PUB: ``shots`` for the PUBs that name none (``default_shots`` if None).
        Circuits must measure into classical registers (their results are one ``BitArray`` each)."""
        shots = self.default_shots if shots is None else shots
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        wire = []
        for index, pub in enumerate(coerced):
            if not pub.circuit.cregs:
                raise ValueError(
                    f"PUB {index}: the circuit has no classical registers, so there is nothing to sample; "
                    "measure into a register (circuit.measure_all())"
                )
            circuit, values = circuit_and_values(pub.circuit, pub.parameter_values)
            wire.append({"circuit": circuit, "parameter_values": values, "shots": pub.shots})
        return self._submit(wire, [pub.circuit for pub in coerced], shots=shots)


class PortalEstimatorV2(_PortalPrimitive, BaseEstimatorV2):
    """qiskit's ``BaseEstimatorV2`` on a portal backend (``aer_simulator``, ``aer_noisy``, ``dummy``).

    ``PortalEstimatorV2(url, token, backend="aer_simulator", *, client=None, default_precision=0.0,
    seed=None, **submit_options)``: precision 0 means exact expectation values; > 0, values with noise of
    that standard deviation (Aer's estimator, seeded by ``seed``). The rest as ``PortalSamplerV2``.
    """

    job_type = "estimator"

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        backend: str = "aer_simulator",
        *,
        client: PortalClient | None = None,
        default_precision: float = DEFAULT_PRECISION,
        seed: int | None = None,
        **submit_options: Any,
    ):
        super().__init__(url, token, backend, client, seed, submit_options)
        self.default_precision = default_precision

    def run(self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None) -> PortalPrimitiveJob:
        """One job estimating every PUB: ``precision`` for the PUBs that name none (``default_precision``
        if None)."""
        precision = self.default_precision if precision is None else precision
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        wire = []
        for pub in coerced:
            circuit, values = circuit_and_values(pub.circuit, pub.parameter_values)
            wire.append(
                {
                    "circuit": circuit,
                    "observables": observables_as_lists(pub.observables),
                    "parameter_values": values,
                    "precision": None if pub.precision is None else float(pub.precision),
                }
            )
        return self._submit(wire, [pub.circuit for pub in coerced])
