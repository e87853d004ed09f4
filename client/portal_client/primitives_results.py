"""The ``PrimitiveResult`` of a sampler or estimator job, rebuilt from the portal's result entries.

One entry per PUB, its ``results`` as the primitives contract (issue 17) writes them:

- sampler: ``{"shape", "shots", "registers": {name: {"num_bits", "samples"}}}``, the samples nested
  as ``shape + [shots]`` hex strings (bit j of a sample is the register's clbit j);
- estimator: ``{"evs", "stds", "shape", "precision"}``, evs and stds nested as the PUB's shape.

The data and metadata are those qiskit's ``StatevectorSampler`` / ``StatevectorEstimator`` give (one
``BitArray`` per register named like it; ``evs`` and ``stds`` arrays), plus the entry's own metadata
as ``metadata["portal"]``. Everything needed is in the entries, so a job fetched by id rebuilds too;
the circuits, when at hand, add their ``circuit_metadata``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, qasm3
from qiskit.primitives import BitArray, DataBin, PrimitiveResult, PubResult, SamplerPubResult

from portal_client import errors


def _malformed(index: int, what: str) -> errors.InvalidPayload:
    return errors.InvalidPayload(f"result entry {index} is not a primitive result: {what}")


def bit_array(samples: Any, num_bits: int, shape: tuple[int, ...], shots: int) -> BitArray:
    """A register's samples (hex strings nested as ``shape + (shots,)``) as a ``BitArray``."""
    flat = np.asarray(samples, dtype=object).reshape(-1)
    if flat.size != math.prod(shape) * shots:
        raise ValueError(f"{flat.size} samples for shape {shape} and {shots} shots")
    if flat.size == 0 or num_bits == 0:  # nothing to parse: every sample of a 0-bit register is empty
        return BitArray(np.zeros((*shape, shots, (num_bits + 7) // 8), dtype=np.uint8), num_bits)
    return BitArray.from_samples([str(sample) for sample in flat], num_bits).reshape(*shape, shots)


_DECLARED_BITS = re.compile(r"^bit\[\d+\]\s+([^\s;]+)\s*;", re.M)


def _by_circuit_names(circuit: QuantumCircuit, registers: dict[str, BitArray]) -> dict[str, BitArray]:
    """The registers under the circuit's own names, in its order. They come keyed by the names OpenQASM
    3 gave them, which are the circuit's but for a register named like a keyword (the exporter writes
    ``input`` as ``input_0``), and in no order to rely on (PostgreSQL's JSON keeps none)."""
    names = [creg.name for creg in circuit.cregs]
    if set(names) == set(registers):
        return {name: registers[name] for name in names}
    exported = _DECLARED_BITS.findall(qasm3.dumps(circuit))  # the register declarations, in the circuit's order
    if len(exported) != len(names) or set(exported) != set(registers):
        return registers
    return {name: registers[written] for name, written in zip(names, exported, strict=True)}


def sampler_pub_result(entry: dict[str, Any], index: int, circuit: QuantumCircuit | None) -> SamplerPubResult:
    results = entry.get("results")
    try:
        shape = tuple(int(n) for n in results["shape"])
        shots = int(results["shots"])
        registers = {
            name: bit_array(register["samples"], int(register["num_bits"]), shape, shots)
            for name, register in results["registers"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _malformed(index, f"{type(exc).__name__}: {exc}") from exc
    if circuit is not None:
        registers = _by_circuit_names(circuit, registers)
    metadata = {"shots": shots, "circuit_metadata": _circuit_metadata(circuit), "portal": entry.get("metadata") or {}}
    return SamplerPubResult(DataBin(**registers, shape=shape), metadata=metadata)


def estimator_pub_result(entry: dict[str, Any], index: int, circuit: QuantumCircuit | None) -> PubResult:
    results = entry.get("results")
    try:
        shape = tuple(int(n) for n in results["shape"])
        evs = np.asarray(results["evs"], dtype=np.float64).reshape(shape)
        stds = np.asarray(results["stds"], dtype=np.float64).reshape(shape)
        precision = results.get("precision")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _malformed(index, f"{type(exc).__name__}: {exc}") from exc
    metadata = {
        "target_precision": precision,
        "circuit_metadata": _circuit_metadata(circuit),
        "portal": entry.get("metadata") or {},
    }
    return PubResult(DataBin(evs=evs, stds=stds, shape=shape), metadata=metadata)


def _circuit_metadata(circuit: QuantumCircuit | None) -> dict[str, Any]:
    return dict(circuit.metadata or {}) if circuit is not None else {}


def primitive_result(
    job: dict[str, Any], entries: list[dict[str, Any]], circuits: Sequence[QuantumCircuit] | None = None
) -> PrimitiveResult:
    """The ``PrimitiveResult`` of a COMPLETED sampler or estimator job (``job`` its fields as the portal
    answers them, ``entries`` its results), the PUBs in the order they were sent."""
    job_type = job.get("job_type")
    build = {"sampler": sampler_pub_result, "estimator": estimator_pub_result}.get(job_type)
    if build is None:
        raise ValueError(f"job {job.get('job_id')} is no sampler or estimator job (job_type {job_type!r})")
    ordered = sorted(enumerate(entries), key=lambda pair: pair[1].get("index", pair[0]))
    if circuits is not None and len(ordered) != len(circuits):
        raise errors.InvalidPayload(f"job {job.get('job_id')} answered {len(ordered)} results for {len(circuits)} PUBs")
    pub_results = [
        build(entry, position, circuits[position] if circuits is not None else None)
        for position, (_, entry) in enumerate(ordered)
    ]
    metadata = {"version": 2, "job_id": job.get("job_id"), "backend": job.get("backend")}
    return PrimitiveResult(pub_results, metadata=metadata)
