"""Qiskit Aer: circuits (OpenQASM 2 and 3) on AerSimulator, ideal unless the backend says otherwise."""

from __future__ import annotations

import re
import threading
import uuid
from typing import Any

import numpy as np
from django.utils import timezone
from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit_aer import AerSimulator

from drivers import transpilers
from drivers.base import Driver, DriverJob, EntryResult, Report, StageTimer
from drivers.errors import EXECUTION_ERROR, INVALID_PAYLOAD, PARSE_ERROR, TRANSPILE_ERROR, EntryError
from drivers.registry import register

_VERSION = re.compile(r"^\s*OPENQASM\s+(\d+)(?:\.\d+)?\s*;", re.MULTILINE)
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
AER_OPTION_NAMES = ("method", "seed_simulator", "memory", "device", "precision")


def qasm_version(source: str) -> int:
    """2 or 3, from the ``OPENQASM`` header; without one, OpenQASM 3 (where the header is optional)."""
    code = _COMMENT.sub("", source)
    match = _VERSION.search(code)
    if match:
        return 3 if match.group(1) == "3" else 2
    return 2 if re.search(r"\bqreg\b", code) else 3


def parse(code_type: str, source: Any) -> QuantumCircuit:
    if not isinstance(source, str):
        raise EntryError(INVALID_PAYLOAD, "a circuit entry must be a string of OpenQASM source")
    version = {"qasm2": 2, "qasm3": 3}.get(code_type) or qasm_version(source)
    try:
        if version == 2:
            return qasm2.loads(source, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS, strict=False)
        return qasm3.loads(source)
    except Exception as exc:  # the parsers raise many error types; each is the user's parse error
        raise EntryError(PARSE_ERROR, str(exc).strip("'\"") or type(exc).__name__) from exc


def dry_run_counts(circuit: QuantumCircuit, shots: int, job_id: str, index: int) -> dict[str, int]:
    """Random counts over the measured bits, seeded by the job id: no simulation (SPEC §3 dry_run)."""
    rng = np.random.default_rng([uuid.UUID(job_id).int % (2**63), index])
    width = max(circuit.num_clbits, 1)
    samples = rng.integers(0, 2 ** min(width, 62), size=shots)
    values, counts = np.unique(samples, return_counts=True)
    return {format(int(v), f"0{width}b"): int(c) for v, c in zip(values, counts, strict=True)}


@register("aer")
class AerDriver(Driver):
    """Runs circuits on qiskit-aer's AerSimulator.

    Backend options: ``method`` (default ``automatic``). Job ``driver_options``: ``method``,
    ``seed_simulator``, ``memory`` (one bitstring per shot).
    """

    def __init__(self) -> None:
        self._simulators: dict[tuple, AerSimulator] = {}
        self._lock = threading.Lock()

    def simulator(self, backend_options: dict[str, Any], method: str | None = None) -> AerSimulator:
        method = method or backend_options.get("method", "automatic")
        key = (method, backend_options.get("device", "CPU"))
        with self._lock:
            if key not in self._simulators:
                self._simulators[key] = AerSimulator(method=method, device=key[1])
            return self._simulators[key]

    def prepare(self, backend) -> None:
        sim = self.simulator(backend.options)
        transpilers.pass_manager((backend.name, "automatic"), sim, {})

    def run(self, backend, job: DriverJob, report: Report) -> None:
        options = job.driver_options
        method = options.get("method")
        sim = self.simulator(backend.options, method)
        target_key = (backend.name, method or backend.options.get("method", "automatic"))
        prepared: list[tuple[int, QuantumCircuit, QuantumCircuit, StageTimer]] = []
        for index, source in enumerate(job.source_code):
            timer = StageTimer(job.profiling)
            try:
                with timer.stage("driver:parse"):
                    circuit = parse(job.code_type, source)
                if backend.max_qubits and circuit.num_qubits > backend.max_qubits:
                    raise EntryError(
                        INVALID_PAYLOAD,
                        f"the circuit has {circuit.num_qubits} qubits; backend {backend.name} takes at most "
                        f"{backend.max_qubits}",
                    )
                if circuit.num_clbits == 0:
                    # Nothing is measured: measure every qubit, as users of a sampler expect counts.
                    circuit.measure_all()
                with timer.stage("driver:transpile"):
                    try:
                        compiled = transpilers.transpile(
                            job.transpiler, circuit, target_key, sim, job.transpiler_options
                        )
                    except Exception as exc:
                        raise EntryError(TRANSPILE_ERROR, str(exc)) from exc
            except EntryError as exc:
                report(index, self._failed(exc, timer))
                continue
            prepared.append((index, circuit, compiled, timer))
            if not job.enable_circuit_aggregation:
                self._execute(sim, job, [prepared.pop()], report)
        if prepared:
            self._execute(sim, job, prepared, report)

    def _execute(self, sim: AerSimulator, job: DriverJob, batch: list, report: Report) -> None:
        """Run ``batch`` in one simulator call (one entry, or all of them when aggregating)."""
        options = job.driver_options
        if job.dry_run:
            for index, circuit, _compiled, timer in batch:
                with timer.stage("driver:run"):
                    counts = dry_run_counts(circuit, job.shots, job.job_id, index)
                report(index, self._completed(circuit, counts, timer, {"dry_run": True}))
            return
        run_options: dict[str, Any] = {"shots": job.shots}
        if options.get("seed_simulator") is not None:
            run_options["seed_simulator"] = options["seed_simulator"]
        if options.get("memory"):
            run_options["memory"] = True
        first_timer = batch[0][3]
        try:
            with first_timer.stage("driver:run"):
                result = sim.run([compiled for _i, _c, compiled, _t in batch], **run_options).result()
        except Exception as exc:
            for index, _circuit, _compiled, timer in batch:
                report(index, self._failed(EntryError(EXECUTION_ERROR, str(exc)), timer))
            return
        if len(batch) > 1:
            # One call ran them all: each entry is charged an equal share of its time.
            share = first_timer.seconds["driver:run"] / len(batch)
            for _index, _circuit, _compiled, timer in batch:
                timer.seconds["driver:run"] = share
        for position, (index, circuit, _compiled, timer) in enumerate(batch):
            experiment = result.results[position]
            if not experiment.success:
                error = EntryError(EXECUTION_ERROR, getattr(experiment, "status", "") or "simulation failed")
                report(index, self._failed(error, timer))
                continue
            extra = {"method": experiment.metadata.get("method"), "seed_simulator": experiment.seed_simulator}
            entry = self._completed(circuit, dict(result.get_counts(position)), timer, extra)
            if options.get("memory"):
                entry.memory = result.get_memory(position)
            report(index, entry)

    def _completed(self, circuit: QuantumCircuit, counts: dict, timer: StageTimer, extra: dict) -> EntryResult:
        metadata = {"results_fetch_mode": self.results_fetch_mode, "status": "COMPLETED", **extra}
        metadata["ended_at"] = timezone.now().isoformat()
        return EntryResult(
            status="COMPLETED",
            results={k: v for k, v in counts.items() if v},
            num_qubits=circuit.num_qubits,
            metadata=metadata,
            profiling=timer.profiling,
        )

    def _failed(self, exc: EntryError, timer: StageTimer) -> EntryResult:
        return EntryResult(
            status="FAILED",
            metadata={
                "results_fetch_mode": self.results_fetch_mode,
                "status": "FAILED",
                "ended_at": timezone.now().isoformat(),
            },
            profiling=timer.profiling,
            error=exc.as_dict(),
        )
