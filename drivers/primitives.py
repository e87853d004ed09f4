"""Server-side primitives (issue 17): Sampler and Estimator PUBs, read, checked and run on Aer.

A ``sampler`` or ``estimator`` job's ``source_code`` is a list of PUBs (the wire contract,
docs of issue 17): one job entry per PUB. Reading a PUB (``read_pub``) checks its shape, types and
sizes and needs no backend; ``backend_errors`` checks it against a backend from the circuit's text
alone (the same include and size scan as ordinary circuits, the ``input`` parameters it declares,
its qubits): parsing OpenQASM 3 costs about 0.4 s per 15 KB, which a web process should not spend on
untrusted input, so the circuit is parsed only in the work process, where ``check_parsed`` checks
again what the text could only tell. ``run_pub`` runs one PUB with qiskit-aer's own SamplerV2 or
EstimatorV2 on the driver's simulator and turns its result into the contract's JSON.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import BindingsArray
from qiskit.quantum_info import SparsePauliOp

from core.validation import text_problem
from drivers import qasm
from drivers.errors import INVALID_PAYLOAD, EntryError

SAMPLER, ESTIMATOR = "sampler", "estimator"
JOB_TYPES = (SAMPLER, ESTIMATOR)
ESTIMATION = "estimation"  # a job that estimates its entries' cost instead of running them
FIELDS = {
    SAMPLER: ("circuit", "parameter_values", "shots"),
    ESTIMATOR: ("circuit", "observables", "parameter_values", "precision"),
}
REQUIRED = {SAMPLER: ("circuit",), ESTIMATOR: ("circuit", "observables")}
# The contract's limits.
MAX_BOUND_PER_PUB = 10_000  # bound circuits: the product of a PUB's parameter shape
MAX_BOUND_PER_JOB = 100_000
MAX_OBSERVABLES = 10_000  # the product of a PUB's observables shape
MAX_TERMS = 10_000  # Pauli terms of one observable
# Beyond the contract, what bounds a result: values per estimator PUB (the broadcast shape), and
# samples per sampler job (bound circuits x shots, summed), each a JSON number or hex string.
MAX_RESULT_VALUES = 100_000
MAX_SAMPLES_PER_JOB = 10_000_000
# qiskit.qasm3.dumps writes a circuit's parameters as ``input float[64] name;``.
_INPUT = re.compile(r"\binput\s+(?:float|angle)\s*(?:\[\s*\d+\s*\])?\s+([^\W\d]\w*)\s*;")
_PAULI = re.compile(r"[IXYZ]+")


def is_pub_job(job_type: str, code_type: str, source_code: Any) -> bool:
    """Whether a job's entries are PUBs: a sampler or estimator job's, or an estimation job's that
    estimates PUBs (qasm3 objects) instead of plain circuits."""
    if job_type in JOB_TYPES:
        return True
    return (
        job_type == ESTIMATION and code_type == "qasm3" and isinstance(source_code, list) and bool(source_code)
        and all(isinstance(entry, dict) for entry in source_code)
    )  # fmt: skip


def kind_of(job_type: str, entry: Any) -> str:
    """An entry's kind of PUB: its sampler or estimator job's; in an estimation job, an estimator PUB
    when it has observables, else a sampler PUB."""
    if job_type in JOB_TYPES:
        return job_type
    return ESTIMATOR if isinstance(entry, dict) and "observables" in entry else SAMPLER


class PubError(Exception):
    """What is wrong with one field of a PUB (``field``: its name inside the PUB)."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Pub:
    """One PUB as read: ``values`` has the parameter shape plus one axis of ``num_params`` values;
    ``observables`` (estimator) is an object array of ``{pauli: coefficient}`` dicts."""

    kind: str
    circuit: str
    values: np.ndarray
    observables: np.ndarray | None = None
    shots: int | None = None
    precision: float | None = None

    @property
    def param_shape(self) -> tuple[int, ...]:
        return self.values.shape[:-1]

    @property
    def num_params(self) -> int:
        return self.values.shape[-1]

    @property
    def num_bound(self) -> int:
        return math.prod(self.param_shape)

    @property
    def shape(self) -> tuple[int, ...]:
        """The PUB's result shape (the parameter shape, broadcast with the observables')."""
        if self.observables is None:
            return self.param_shape
        return np.broadcast_shapes(self.observables.shape, self.param_shape)

    @property
    def num_qubits(self) -> int | None:
        """The width its Pauli strings say (estimator), None without any."""
        for observable in self.observables.flat if self.observables is not None else ():
            return len(next(iter(observable)))
        return None


def _number(value: Any) -> bool:
    """A finite int or float, not a bool (an int beyond float range is not finite either)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _nested(value: Any, leaf: type, name: str) -> np.ndarray:
    """A rectangular nested list as an object array whose elements are all ``leaf``s."""
    try:
        array = np.array(value, dtype=object)
    except (ValueError, RecursionError) as exc:
        raise PubError(name, "must be a rectangular nested list") from exc
    if not all(isinstance(item, leaf) for item in array.flat):
        kind = "numbers" if leaf is not dict else "objects of Pauli strings to coefficients"
        raise PubError(name, f"must be a rectangular nested list of {kind}")
    return array


def _parameter_values(value: Any) -> np.ndarray:
    if value is None or value == []:
        return np.zeros((0,))
    if not isinstance(value, list):
        raise PubError("parameter_values", "must be a nested list of numbers, or null")
    array = _nested(value, int | float, "parameter_values")
    if any(isinstance(item, bool) for item in array.flat):
        raise PubError("parameter_values", "must hold numbers, not booleans")
    try:
        values = array.astype(float)
    except OverflowError as exc:
        raise PubError("parameter_values", "every value must be a finite number") from exc
    if not np.isfinite(values).all():
        raise PubError("parameter_values", "every value must be a finite number")
    bound = math.prod(values.shape[:-1])
    if bound > MAX_BOUND_PER_PUB:
        raise PubError("parameter_values", f"binds {bound} circuits; a PUB binds at most {MAX_BOUND_PER_PUB}")
    return values


def _observable(value: dict) -> dict[str, float]:
    if not value:
        raise PubError("observables", "an observable needs at least one Pauli term")
    if len(value) > MAX_TERMS:
        raise PubError("observables", f"an observable has {len(value)} Pauli terms; at most {MAX_TERMS}")
    if not all(isinstance(pauli, str) and _PAULI.fullmatch(pauli) for pauli in value):
        raise PubError("observables", "Pauli strings are made of I, X, Y and Z")
    if not all(_number(coefficient) for coefficient in value.values()):
        raise PubError("observables", "coefficients must be finite real numbers")
    if len({len(pauli) for pauli in value}) != 1:
        raise PubError("observables", "the Pauli strings of an observable must all have the same length")
    return value


def _observables(value: Any) -> np.ndarray:
    if not isinstance(value, list | dict):
        raise PubError("observables", "must be an observable (an object) or a nested list of them")
    array = _nested(value, dict, "observables") if isinstance(value, list) else np.array(value, dtype=object)
    if array.size == 0:
        raise PubError("observables", "must hold at least one observable")
    if array.size > MAX_OBSERVABLES:
        raise PubError("observables", f"holds {array.size} observables; a PUB holds at most {MAX_OBSERVABLES}")
    for observable in array.flat:
        _observable(observable)
    if len({len(next(iter(observable))) for observable in array.flat}) != 1:
        raise PubError("observables", "every Pauli string of a PUB must have the same length (its qubits)")
    return array


def read_pub(kind: str, pub: Any) -> Pub:
    """The PUB ``pub`` of a ``kind`` job, checked alone (no backend); PubError names the field."""
    if not isinstance(pub, dict):
        raise PubError("", f"a {kind} PUB must be an object with the fields {', '.join(FIELDS[kind])}")
    unknown = sorted(set(pub) - set(FIELDS[kind]), key=str)
    if unknown:
        raise PubError(str(unknown[0]), f"unknown field; a {kind} PUB has {', '.join(FIELDS[kind])}")
    for name in REQUIRED[kind]:
        if pub.get(name) is None:
            raise PubError(name, "this field is required")
    circuit = pub["circuit"]
    if not isinstance(circuit, str) or not circuit.strip():
        raise PubError("circuit", "must be a non-empty string of OpenQASM 3 source")
    if problem := text_problem(circuit):
        raise PubError("circuit", problem)
    values = _parameter_values(pub.get("parameter_values"))
    if kind == SAMPLER:
        shots = pub.get("shots")
        if shots is not None and (isinstance(shots, bool) or not isinstance(shots, int) or shots < 1):
            raise PubError("shots", "must be an integer of at least 1, or null")
        return Pub(kind, circuit, values, shots=shots)
    precision = pub.get("precision")
    if precision is not None and (not _number(precision) or precision < 0):
        raise PubError("precision", "must be a number of at least 0, or null")
    read = Pub(kind, circuit, values, observables=_observables(pub["observables"]), precision=precision)
    try:
        shape = read.shape
    except ValueError as exc:
        raise PubError(
            "observables",
            f"the observables' shape {list(read.observables.shape)} does not broadcast with the parameter "
            f"shape {list(read.param_shape)}",
        ) from exc
    if math.prod(shape) > MAX_RESULT_VALUES:
        raise PubError("observables", f"the PUB's shape {list(shape)} holds more than {MAX_RESULT_VALUES} values")
    return read


def circuit_of(pub: Any) -> Any:
    """A PUB's circuit source (what is drawn), or the entry itself when it is no PUB."""
    return pub.get("circuit") if isinstance(pub, dict) else pub


def source_errors(job_type: str, source_code: list, shots: int) -> dict[str, str]:
    """Each PUB's problems, by field (``source_code[2].observables``), and the job's totals."""
    errors: dict[str, str] = {}
    bound = samples = 0
    for index, entry in enumerate(source_code):
        kind = kind_of(job_type, entry)
        try:
            pub = read_pub(kind, entry)
        except PubError as exc:
            errors[f"source_code[{index}]" + (f".{exc.field}" if exc.field else "")] = exc.message
            continue
        bound += pub.num_bound
        samples += pub.num_bound * (pub.shots or shots) if kind == SAMPLER else 0
    if bound > MAX_BOUND_PER_JOB:
        errors.setdefault("source_code", f"binds {bound} circuits in all; a job binds at most {MAX_BOUND_PER_JOB}")
    if samples > MAX_SAMPLES_PER_JOB:
        errors.setdefault(
            "source_code", f"asks {samples} samples in all (bound circuits x shots); at most {MAX_SAMPLES_PER_JOB}"
        )
    return errors


def largest_shots(job_type: str, source_code: list, shots: int) -> int:
    """The most shots any sampler PUB of the job asks (what a shots quota must see)."""
    if job_type not in (SAMPLER, ESTIMATION):
        return shots
    asked = [
        entry.get("shots") or shots
        for entry in source_code
        if isinstance(entry, dict) and kind_of(job_type, entry) == SAMPLER and isinstance(entry.get("shots"), int)
    ]
    return max([shots, *asked])


def declared_parameters(source: str) -> list[str]:
    """The ``input`` parameters the circuit's text declares, sorted by name as qiskit orders them."""
    return sorted(set(_INPUT.findall(qasm.strip_comments(source))))


def backend_errors(backend: Any, job_type: str, source_code: list) -> list[dict[str, str]]:
    """What the backend refuses of each PUB, read from the circuit's text (``qasm.scan``: includes,
    sizes): qubits, parameters, the observables' width, shots."""
    errors = []
    for index, entry in enumerate(source_code):
        name = f"source_code[{index}]"
        kind = kind_of(job_type, entry)
        try:
            pub = read_pub(kind, entry)
            try:
                declared = qasm.scan("qasm3", pub.circuit)
                qasm.check_declared(declared, max_qubits=backend.max_qubits, backend_name=backend.name)
            except EntryError as exc:
                raise PubError("circuit", exc.detail) from exc
            if kind == SAMPLER and declared.clbits == 0:
                raise PubError("circuit", "a sampler circuit must measure into a classical register")
            parameters = declared_parameters(pub.circuit)
            if pub.num_params != len(parameters):
                raise PubError(
                    "parameter_values",
                    f"the last axis holds {pub.num_params} values; the circuit has {len(parameters)} parameters"
                    + (f" ({', '.join(parameters[:10])})" if parameters else ""),
                )
            if pub.num_qubits is not None and pub.num_qubits != declared.qubits:
                raise PubError(
                    "observables",
                    f"Pauli strings of length {pub.num_qubits}; the circuit has {declared.qubits} qubits",
                )
            if pub.shots is not None and pub.shots > backend.max_shots:
                raise PubError("shots", f"at most {backend.max_shots} on backend {backend.name}")
        except PubError as exc:
            errors.append({"field": name + (f".{exc.field}" if exc.field else ""), "message": exc.message})
    return errors


def check_parsed(pub: Pub, circuit: QuantumCircuit) -> None:
    """What the text could not tell, checked on the parsed circuit: EntryError -101."""
    if pub.num_params != circuit.num_parameters:
        raise EntryError(
            INVALID_PAYLOAD,
            f"parameter_values: the last axis holds {pub.num_params} values; the circuit has "
            f"{circuit.num_parameters} parameters",
        )
    if pub.num_qubits is not None and pub.num_qubits != circuit.num_qubits:
        raise EntryError(
            INVALID_PAYLOAD,
            f"observables: Pauli strings of length {pub.num_qubits}; the circuit has {circuit.num_qubits} qubits",
        )
    if pub.kind == SAMPLER and not circuit.cregs:
        raise EntryError(INVALID_PAYLOAD, "circuit: a sampler circuit must measure into a classical register")


# --- Running --------------------------------------------------------------------------------------


def _bindings(pub: Pub, circuit: QuantumCircuit, compiled: QuantumCircuit) -> BindingsArray:
    """The PUB's values for the parameters the transpiled circuit still has (an optimisation may drop
    one, such as a phase before a measurement), in the submitted order: that of ``circuit``."""
    if compiled.num_parameters == 0:
        return BindingsArray(shape=pub.param_shape)
    column = {parameter.name: i for i, parameter in enumerate(circuit.parameters)}
    kept = [column[parameter.name] for parameter in compiled.parameters]
    return BindingsArray({tuple(compiled.parameters): pub.values[..., kept]}, shape=pub.param_shape)


def _observables_for(pub: Pub, compiled: QuantumCircuit) -> np.ndarray:
    """Each observable on the transpiled circuit's qubits (its layout applied)."""
    layout = compiled.layout
    mapped = np.empty(pub.observables.shape, dtype=object)
    for index, observable in np.ndenumerate(pub.observables):
        operator = SparsePauliOp.from_list(list(observable.items()))
        mapped[index] = operator.apply_layout(layout, compiled.num_qubits) if layout is not None else operator
    return mapped


def _hex_samples(packed: np.ndarray, shape: tuple[int, ...]) -> Any:
    """A BitArray's packed bytes (big-endian per shot) as nested lists of hex strings."""
    rows = packed.reshape(-1, packed.shape[-1])
    if rows.shape[1] <= 8:
        weights = np.left_shift(np.uint64(1), np.arange(rows.shape[1] - 1, -1, -1, dtype=np.uint64) * np.uint64(8))
        ints = (rows.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
        texts = [hex(value) for value in ints.tolist()]
    else:
        texts = [hex(int.from_bytes(row.tobytes(), "big")) for row in rows]
    return np.array(texts, dtype=object).reshape(shape).tolist()


def _plain(array: np.ndarray) -> Any:
    return array.tolist() if array.ndim else float(array)


def run_pub(
    pub: Pub, circuit: QuantumCircuit, compiled: QuantumCircuit, sim: Any, shots: int, seed: int | None
) -> dict[str, Any]:
    """Run one PUB on ``sim`` with qiskit-aer's own primitive; its ``results`` as the contract has them."""
    # Aer's primitives load with the driver (drivers/aer.py sets the OpenMP spin before Aer loads).
    from qiskit_aer.primitives import EstimatorV2, SamplerV2

    bindings = _bindings(pub, circuit, compiled)
    if pub.kind == ESTIMATOR:
        precision = pub.precision or 0.0
        options: dict[str, Any] = {"default_precision": precision}
        if seed is not None:
            options["run_options"] = {"seed_simulator": seed}
        estimator = EstimatorV2.from_backend(sim, options=options)
        data = estimator.run([(compiled, _observables_for(pub, compiled), bindings, precision)]).result()[0].data
        return {
            "evs": _plain(data.evs),
            "stds": _plain(data.stds),
            "shape": list(data.evs.shape),
            "precision": precision,
        }
    pub_shots = pub.shots or shots
    sampler = SamplerV2.from_backend(sim, seed=seed, default_shots=pub_shots)
    data = sampler.run([(compiled, bindings, pub_shots)]).result()[0].data
    registers = {}
    for register in circuit.cregs:
        bits = getattr(data, register.name)
        registers[register.name] = {
            "num_bits": bits.num_bits,
            "samples": _hex_samples(bits.array, (*pub.param_shape, pub_shots)),
        }
    return {"shape": list(pub.param_shape), "shots": pub_shots, "registers": registers}


def estimate_pub(pub: Pub, per_circuit: dict[str, Any], shots: int) -> dict[str, Any]:
    """An estimation job's answer for a PUB: its transpiled circuit's resources (``per_circuit``, as
    for a plain circuit, ``estimated_seconds`` for one bound circuit), the circuits it binds, and the
    seconds of all of them."""
    estimate = {
        **per_circuit,
        "primitive": pub.kind,
        "shape": [int(n) for n in pub.shape],
        "num_bound_circuits": pub.num_bound,
        "estimated_seconds": round(per_circuit["estimated_seconds"] * pub.num_bound, 9),
    }
    if pub.kind == ESTIMATOR:
        estimate["num_observables"] = int(math.prod(pub.observables.shape))
    else:
        estimate["shots"] = shots
    return estimate


def dry_run_pub(pub: Pub, circuit: QuantumCircuit, shots: int, job_id: str, index: int) -> dict[str, Any]:
    """Results of the contract's shape with no simulation, seeded by the job id: random bitstrings, or
    expectation values uniform in [-1, 1] with stds 0 (SPEC §3 dry_run)."""
    rng = np.random.default_rng([uuid.UUID(job_id).int % (2**63), index])
    if pub.kind == ESTIMATOR:
        shape = pub.shape
        evs = rng.uniform(-1.0, 1.0, size=shape)
        return {
            "evs": _plain(evs),
            "stds": _plain(np.zeros(shape)),
            "shape": list(shape),
            "precision": pub.precision or 0.0,
        }
    pub_shots = pub.shots or shots
    registers = {}
    for register in circuit.cregs:
        values = rng.integers(0, 2 ** min(register.size, 62), size=(*pub.param_shape, pub_shots))
        texts = np.array([hex(value) for value in values.ravel().tolist()], dtype=object)
        registers[register.name] = {"num_bits": register.size, "samples": texts.reshape(values.shape).tolist()}
    return {"shape": list(pub.param_shape), "shots": pub_shots, "registers": registers}
