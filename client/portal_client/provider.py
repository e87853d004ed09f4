"""A qiskit provider for the portal: each circuit backend as a ``BackendV2``.

The ``Target`` comes from ``get_backends``: the backend's qubit count, its basis gates (the standard
gates the simulators take where it names none) and its coupling map (none: all-to-all). ``run``
sends each circuit as OpenQASM 2 where that can express it, else OpenQASM 3, and answers a
``PortalJob`` whose ``result()`` is a qiskit ``Result``; so ``transpile(circuit, backend)`` and
qiskit's ``BackendSamplerV2`` work as they do against any other backend.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit import __version__ as qiskit_version
from qiskit.circuit import ForLoopOp, IfElseOp, Measure, Reset, SwitchCaseOp, WhileLoopOp
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.providers import BackendV2, Options, QiskitBackendNotFoundError
from qiskit.transpiler import CouplingMap, Target

from portal_client.api import PortalClient
from portal_client.client import client_versions
from portal_client.job import PortalJob

CIRCUIT_CODE_TYPES = ("qasm", "qasm2", "qasm3")

# What the portal's simulators take when a backend names no basis: the standard gates that
# OpenQASM 2's and 3's exporters both write and the portal's Aer runs.
SIMULATOR_GATES = (
    "id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg", "p", "rx", "ry", "rz", "u", "u1", "u2",
    "u3", "cx", "cy", "cz", "ch", "cp", "crx", "cry", "crz", "cu", "cu1", "cu3", "csx", "swap", "iswap",
    "ecr", "rxx", "ryy", "rzz", "rzx", "ccx", "cswap", "ccz", "rccx", "rc3x", "c3x", "c3sx", "rcccx",
)  # fmt: skip

# run() options that the portal keeps among a job's driver options.
DRIVER_OPTIONS = ("memory", "seed_simulator", "method")
# run() options that are submit_job fields as they are.
SUBMIT_FIELDS = (
    "shots", "job_priority", "tags", "job_name", "description", "dry_run", "transpiler", "transpiler_options",
    "profiling", "callbacks", "enable_circuit_aggregation", "job_type", "project_id", "code_compress_level",
    "experiment_id", "metadata", "share_level", "use_timeslot",
)  # fmt: skip
# What the portal keeps of a job's header (IBM's header()), as its json.dumps counts it.
MAX_HEADER_BYTES = 64 * 1024
# The server's bounds on a JSON integer; nested containers deeper than this are dropped from metadata.
JSON_INT_RANGE = (-(2**63), 2**63 - 1)
MAX_METADATA_DEPTH = 32
_DROP = object()


# qiskit's MeasLevel.CLASSIFIED: counts of measured bitstrings, all the portal's backends answer.
# Levels 0 and 1 (raw and kerneled IQ data) need a device's measurement signal, and meas_return
# (averaged or single-shot IQ points) only shapes those; it is accepted, and moot, at level 2.
CLASSIFIED = 2
MEAS_RETURNS = ("avg", "single")


def _check_measurement(backend: str, meas_level: Any, meas_return: Any) -> None:
    level = getattr(meas_level, "value", meas_level)  # MeasLevel, or a plain int
    if isinstance(level, bool) or not isinstance(level, int) or level != CLASSIFIED:
        raise ValueError(
            f"backend {backend!r} answers classified counts only (meas_level=2); meas_level={level!r} "
            "(raw or kerneled IQ data) needs a device's measurement signal"
        )
    if getattr(meas_return, "value", meas_return) not in MEAS_RETURNS:
        raise ValueError(f"meas_return must be one of {list(MEAS_RETURNS)}; got {meas_return!r}")


def build_target(info: dict[str, Any]) -> Target:
    """The qiskit ``Target`` of a backend as ``get_backends`` describes it."""
    num_qubits = info.get("max_qubits") or 1
    coupling = info.get("coupling_map")
    qargs = None
    if coupling:
        qargs = CouplingMap(coupling)
        num_qubits = max(num_qubits, qargs.size())
    target = Target(description=info.get("description") or info["name"], num_qubits=num_qubits)
    mapping = get_standard_gate_name_mapping()
    names = [name for name in (info.get("basis_gates") or SIMULATOR_GATES) if name in mapping]
    for name in names:
        gate = mapping[name]
        if qargs is None:
            target.add_instruction(gate)  # no properties: the gate acts on any qubits
        elif gate.num_qubits == 1:
            target.add_instruction(gate, {(q,): None for q in range(num_qubits)})
        elif gate.num_qubits == 2:
            target.add_instruction(gate, {tuple(edge): None for edge in qargs.get_edges()})
        # wider gates have no place on a coupling map; the transpiler decomposes them
    for instruction in (Measure(), Reset()):
        if instruction.name not in target:
            target.add_instruction(instruction, None if qargs is None else {(q,): None for q in range(num_qubits)})
    if "qasm3" in info.get("code_types", ()):
        # OpenQASM 3 carries classical control, and the portal's simulators run it.
        for op, name in ((IfElseOp, "if_else"), (ForLoopOp, "for_loop"), (WhileLoopOp, "while_loop"),
                         (SwitchCaseOp, "switch_case")):  # fmt: skip
            target.add_instruction(op, name=name)
    return target


def circuits_as_qasm(circuits: Sequence[QuantumCircuit]) -> tuple[str, list[str]]:
    """The circuits as OpenQASM 2 when every one of them can be written so, else as OpenQASM 3."""
    try:
        return "qasm2", [qasm2.dumps(circuit) for circuit in circuits]
    except qasm2.QASM2ExportError:
        return "qasm3", [qasm3.dumps(circuit) for circuit in circuits]


def _json_safe(value: Any, within: tuple[int, ...] = ()) -> Any:
    """``value`` as JSON the portal stores, or ``_DROP``: containers keep what converts (numpy scalars
    and arrays become numbers and lists), and lose what does not (objects, non-string keys, NaN,
    strings with NUL or lone surrogates, integers past 64 bits, a container inside itself, nesting
    past ``MAX_METADATA_DEPTH``). ``within``: the ids of the containers around ``value``."""
    if len(within) > MAX_METADATA_DEPTH or id(value) in within:
        return _DROP
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _DROP
        return _DROP if "\x00" in value else value
    if isinstance(value, numbers.Integral):
        return int(value) if JSON_INT_RANGE[0] <= int(value) <= JSON_INT_RANGE[1] else _DROP
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(value) else _DROP
    if isinstance(value, np.ndarray):
        value = value.tolist()
    inner = (*within, id(value))
    if isinstance(value, Mapping):
        pairs = ((key, _json_safe(item, inner)) for key, item in value.items() if isinstance(key, str))
        return {key: item for key, item in pairs if item is not _DROP and _json_safe(key) is not _DROP}
    if isinstance(value, (list, tuple)):
        return [item for item in (_json_safe(item, inner) for item in value) if item is not _DROP]
    return _DROP


def _header_size(header: dict[str, Any]) -> int:
    return len(json.dumps(header, separators=(",", ":")))


def circuits_header(circuits: Sequence[QuantumCircuit]) -> dict[str, Any]:
    """The job header ``run`` sends (IBM's ``header()``): each circuit's name and its metadata made
    JSON-safe, so a job fetched later by id names its experiments. When that would pass the portal's
    64 KiB, the names alone; past that too, nothing."""
    names = [name if isinstance(name := _json_safe(circuit.name), str) else None for circuit in circuits]
    metadata = [_json_safe(dict(circuit.metadata or {})) for circuit in circuits]
    with_metadata = [{"name": name, "metadata": meta} for name, meta in zip(names, metadata, strict=True)]
    for header in ({"circuits": with_metadata}, {"circuits": [{"name": name} for name in names]}):
        if _header_size(header) <= MAX_HEADER_BYTES:
            return header
    return {}


class PortalBackend(BackendV2):
    """One circuit backend of the portal."""

    def __init__(self, provider: PortalProvider, info: dict[str, Any]):
        super().__init__(provider=provider, name=info["name"], description=info.get("description"), backend_version="1")
        self.info = info
        self._target = build_target(info)

    def __repr__(self) -> str:
        return f"<PortalBackend {self.name!r}>"

    @property
    def client(self) -> PortalClient:
        return self.provider.client

    @property
    def target(self) -> Target:
        return self._target

    @property
    def max_circuits(self) -> int | None:
        return self.info.get("max_circuits")

    @classmethod
    def _default_options(cls) -> Options:
        return Options(
            shots=1024, memory=False, seed_simulator=None, method=None, meas_level=CLASSIFIED, meas_return="avg",
            **{name: None for name in SUBMIT_FIELDS if name != "shots"},
        )  # fmt: skip

    def status(self) -> dict[str, Any]:
        """The backend's state on the portal now: ``status`` (online, paused, offline), ``queue_length``."""
        self.info = self.client.get_backend(self.name)
        return {"status": self.info["status"], "queue_length": self.info["queue_length"]}

    def run(self, run_input: QuantumCircuit | Sequence[QuantumCircuit], **options: Any) -> PortalJob:
        """Submit the circuits as one job (one entry each); answers at once with the ``PortalJob``."""
        circuits = [run_input] if isinstance(run_input, QuantumCircuit) else list(run_input)
        if not circuits:
            raise ValueError("run() needs at least one circuit")
        unknown = sorted(set(options) - set(self.options.__dict__))
        if unknown:
            raise TypeError(f"unknown run options {unknown} for backend {self.name!r}")
        unbound = sorted({parameter.name for circuit in circuits for parameter in circuit.parameters})
        if unbound:
            raise ValueError(f"bind the circuits' parameters before running them (assign_parameters): {unbound}")
        merged = {**self.options.__dict__, **options}
        _check_measurement(self.name, merged["meas_level"], merged["meas_return"])
        code_type, sources = circuits_as_qasm(circuits)
        if code_type not in self.info.get("code_types", CIRCUIT_CODE_TYPES):
            raise ValueError(f"backend {self.name!r} does not take {code_type} circuits")
        driver_options = {name: merged[name] for name in DRIVER_OPTIONS if merged.get(name) not in (None, False)}
        fields = {name: merged[name] for name in SUBMIT_FIELDS if merged.get(name) is not None}
        if driver_options:
            fields["driver_options"] = driver_options
        fields["client_version"] = client_versions(qiskit=qiskit_version)
        fields["header"] = circuits_header(circuits)
        submitted = self.client.submit_job(code_type=code_type, source_code=sources, backend=self.name, **fields)
        return PortalJob.from_submitted(self.client, submitted, backend=self, circuits=circuits)


class PortalProvider:
    """``PortalProvider(url, token)``: the portal's circuit backends for qiskit."""

    def __init__(self, url: str | None = None, token: str | None = None, *, client: PortalClient | None = None):
        if client is None:
            client = PortalClient(url, token)
        self.client = client

    def __repr__(self) -> str:
        return f"PortalProvider({self.client.url!r})"

    def backends(self, name: str | None = None, **filters: Any) -> list[PortalBackend]:
        """The circuit backends, optionally by ``name`` or by fields of ``get_backends`` (``status="online"``)."""
        found = []
        for info in self.client.get_backends():
            if not set(info.get("code_types", ())) & set(CIRCUIT_CODE_TYPES):
                continue
            if name is not None and info["name"] != name:
                continue
            if any(info.get(key) != value for key, value in filters.items()):
                continue
            found.append(PortalBackend(self, info))
        return found

    def get_backend(self, name: str) -> PortalBackend:
        found = self.backends(name)
        if not found:
            raise QiskitBackendNotFoundError(f"The portal has no circuit backend named {name!r}.")
        return found[0]

    def job(self, job_id: str) -> PortalJob:
        """A job by id, tied to its backend so ``result()`` names it; its experiments take the names of
        the circuits ``run`` sent (the job's ``header()``)."""
        job = self.client.job(job_id)
        try:
            job._backend = self.get_backend(job.data["backend"])
        except QiskitBackendNotFoundError:
            pass
        return job

    def retrieve_job(self, job_id: str) -> PortalJob:
        """IBM's name for ``job``."""
        return self.job(job_id)
