"""Qiskit Aer: circuits (OpenQASM 2 and 3) on AerSimulator, ideal or with a device-like noise model.

Backend ``options``: ``method`` (default ``automatic``), ``noise`` (``device_like`` for the noisy
backend), ``max_memory_mb`` (default 4096: the largest state a job may ask for).
Job ``driver_options``: ``method``, ``seed_simulator``, ``memory`` (one bitstring per shot).
Job types ``sampler`` and ``estimator`` run PUBs with Aer's own primitives (``drivers.primitives``).
"""

from __future__ import annotations

import math
import os
import threading
import uuid
from dataclasses import replace
from typing import Any

# Aer's OpenMP threads spin for a while after each parallel region (libgomp's default), which
# costs a tiny job more CPU than the job itself: measured, 3.7 ms a Bell job, taken from whatever
# else shares the cores (the other workers, the database). A short spin before sleeping keeps large
# simulations as fast (within noise on a 22-qubit circuit). Read when Aer's library loads, so it is
# set before the import; an operator's own value wins.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

import numpy as np
from django.utils import timezone
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

from core.exceptions import InvalidParams
from drivers import drawing, memory, primitives, qasm, transpilers
from drivers.base import Drawing, Driver, DriverJob, EntryResult, Report, StageTimer
from drivers.errors import (
    EXECUTION_ERROR,
    INVALID_PAYLOAD,
    MEMORY_LIMIT,
    TRANSPILE_ERROR,
    EntryError,
    entry_error,
)
from drivers.registry import register
from drivers.transpilers import TRANSPILERS as TRANSPILER_NAMES

METHODS = ("automatic", "statevector", "density_matrix", "stabilizer", "matrix_product_state", "extended_stabilizer")
OPTION_NAMES = ("method", "seed_simulator", "memory")
DEFAULT_MAX_MEMORY_MB = 4096
# Gates the stabilizer method simulates in polynomial memory: with only these, "automatic" needs
# no state vector and a circuit of any width fits.
CLIFFORD = frozenset("id x y z h s sdg sx sxdg cx cy cz swap ecr iswap dcx measure barrier reset delay".split())

# The device-like noise model of ``aer_noisy`` (fixed, so results are reproducible with
# seed_simulator): basis rz/sx/x/cx like IBM's devices; depolarizing error 0.1% on one-qubit
# gates, 1% on cx; readout flips 0->1 with probability 2% and 1->0 with 3%.
NOISE_BASIS = ["id", "rz", "sx", "x", "cx"]
NOISE_1Q, NOISE_2Q = 0.001, 0.01
READOUT = [[0.98, 0.02], [0.03, 0.97]]
# Timing model of estimates: gate and readout durations of a superconducting device, and the
# simulator's cost per gate per amplitude, measured here.
GATE_SECONDS_1Q, GATE_SECONDS_2Q, READOUT_SECONDS, SHOT_OVERHEAD_SECONDS = 35e-9, 300e-9, 1e-6, 250e-6
SIM_SECONDS_PER_GATE_AMPLITUDE = 2e-9


def device_like_noise_model() -> NoiseModel:
    model = NoiseModel(basis_gates=NOISE_BASIS)
    model.add_all_qubit_quantum_error(depolarizing_error(NOISE_1Q, 1), ["id", "sx", "x"])
    model.add_all_qubit_quantum_error(depolarizing_error(NOISE_2Q, 2), ["cx"])
    model.add_all_qubit_readout_error(ReadoutError(READOUT))
    return model


def dry_run_counts(circuit: QuantumCircuit, shots: int, job_id: str, index: int) -> dict[str, int]:
    """Random counts over the measured bits, seeded by the job id: no simulation (SPEC §3 dry_run)."""
    rng = np.random.default_rng([uuid.UUID(job_id).int % (2**63), index])
    width = max(circuit.num_clbits, 1)
    samples = rng.integers(0, 2 ** min(width, 62), size=shots)
    values, counts = np.unique(samples, return_counts=True)
    return {format(int(v), f"0{width}b"): int(c) for v, c in zip(values, counts, strict=True)}


def state_bytes(circuit: QuantumCircuit, method: str) -> int:
    """Memory the method needs for the circuit's state: 16 bytes per amplitude (complex double)."""
    n = circuit.num_qubits
    if method in ("statevector",) or (method == "automatic" and not _is_clifford(circuit)):
        return 16 * 2**n
    if method == "density_matrix":
        return 16 * 4**n
    return 0  # stabilizer, matrix product state: no dense state


def _threads(sim: AerSimulator, circuits: list[QuantumCircuit]) -> dict[str, int]:
    """Aer's thread option for one run: a single thread where Aer would not parallelize anyway (one
    noiseless circuit at most ``statevector_parallel_threshold`` qubits; a density matrix counts
    twice its qubits), Aer's own choice otherwise (experiments, shots or a large state to share).

    Below the threshold, OpenMP's team still woke for the run and spun after it (briefly, with
    GOMP_SPINCOUNT above), on cores the other workers need: a Bell circuit run every 3 ms cost
    1.5-1.7 ms of CPU with Aer's default threads, 0.8-1.1 ms with one, and 0.4 ms less time."""
    if len(circuits) != 1 or sim.options.noise_model is not None:
        return {}
    qubits = circuits[0].num_qubits * (2 if sim.options.method == "density_matrix" else 1)
    return {"max_parallel_threads": 1} if qubits <= sim.options.statevector_parallel_threshold else {}


def coupling_map_error(backend, transpiler_options: dict[str, Any]) -> str | None:
    """Why ``transpiler_options.coupling_map`` is refused, if it is: the pass manager allocates per qubit
    index, so an index beyond the backend's width is refused before anything is built."""
    edges = transpiler_options.get("coupling_map") or []
    limit = backend.max_qubits or qasm.CEILING_QUBITS
    widest = max((max(edge) for edge in edges if edge), default=-1)
    if widest >= limit:
        return f"qubit index {widest} is beyond backend {backend.name}'s {limit} qubits"
    return None


def _is_clifford(circuit: QuantumCircuit) -> bool:
    return all(name in CLIFFORD for name in circuit.count_ops())


def _bytes_text(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


_WARM_QASM3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\nqubit[1] q;\nrz(theta) q[0];\n'
_warm = False


@register("aer")
class AerDriver(Driver):
    """Runs circuits on qiskit-aer's AerSimulator, one simulator per (method, noise) per process."""

    code_types = ("qasm", "qasm2", "qasm3")
    job_types = (*Driver.job_types, *primitives.JOB_TYPES)
    transpilers = TRANSPILER_NAMES
    option_names = OPTION_NAMES

    def __init__(self) -> None:
        self._simulators: dict[tuple, AerSimulator] = {}
        self._lock = threading.Lock()

    def method(self, backend, job: DriverJob) -> str:
        return job.driver_options.get("method") or backend.options.get("method", "automatic")

    def simulator(self, backend, method: str) -> AerSimulator:
        noise = backend.options.get("noise")
        key = (method, noise)
        with self._lock:
            if key not in self._simulators:
                kwargs: dict[str, Any] = {"method": method}
                if noise == "device_like":
                    kwargs["noise_model"] = device_like_noise_model()
                self._simulators[key] = AerSimulator(**kwargs)
            return self._simulators[key]

    def validate(self, backend, job: DriverJob) -> None:
        options = job.driver_options
        errors = [
            {"field": f"driver_options.{name}", "message": "unknown option"}
            for name in sorted(set(options) - set(OPTION_NAMES))
        ]
        if "method" in options and options["method"] not in METHODS:
            errors.append({"field": "driver_options.method", "message": f"must be one of {', '.join(METHODS)}"})
        seed = options.get("seed_simulator")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            errors.append({"field": "driver_options.seed_simulator", "message": "must be a non-negative integer"})
        if "memory" in options and not isinstance(options["memory"], bool):
            errors.append({"field": "driver_options.memory", "message": "must be true or false"})
        coupling = coupling_map_error(backend, job.transpiler_options)
        if coupling:
            errors.append({"field": "transpiler_options.coupling_map", "message": coupling})
        if primitives.is_pub_job(job.job_type, job.code_type, job.source_code):
            errors += primitives.backend_errors(backend, job.job_type, job.source_code)
        if errors:
            raise InvalidParams(errors=errors)

    def prepare(self, backend) -> None:
        method = backend.options.get("method", "automatic")
        transpilers.pass_manager((backend.name, method), self.simulator(backend, method), {})
        global _warm
        if not _warm:
            # OpenQASM 3's parser builds its grammar on first use, a quarter of a second (measured: the
            # first estimator job's parse took 264 ms, the next 9 ms); a primitive job's first run
            # loads Aer's primitives. Done once in the worker, before its work process forks.
            qasm.parse("qasm3", _WARM_QASM3, max_qubits=None, backend_name=backend.name)
            import qiskit_aer.primitives  # noqa: F401

            _warm = True

    def run(self, backend, job: DriverJob, report: Report) -> None:
        method = self.method(backend, job)
        sim = self.simulator(backend, method)
        target_key = (backend.name, method)
        max_bytes = backend.options.get("max_memory_mb", DEFAULT_MAX_MEMORY_MB) * 1024 * 1024
        prepared: list[tuple[int, QuantumCircuit, QuantumCircuit, StageTimer]] = []
        options_error = coupling_map_error(backend, job.transpiler_options)
        if primitives.is_pub_job(job.job_type, job.code_type, job.source_code):
            self._run_pubs(backend, job, report, sim, options_error)
            return
        for index, source in job.pending():
            timer = StageTimer(job.profiling, driver=self.name)
            try:
                if options_error:
                    raise EntryError(INVALID_PAYLOAD, options_error)
                with timer.stage("driver:parse"):
                    circuit = qasm.parse(
                        job.code_type, source, max_qubits=backend.max_qubits, backend_name=backend.name
                    )
                self._check_size(backend, circuit, method, max_bytes)
                if circuit.num_clbits == 0 and job.job_type != "estimation":
                    # Nothing is measured: measure every qubit, as users of a sampler expect counts.
                    circuit.measure_all()
                with timer.stage("driver:transpile"):
                    try:
                        compiled = transpilers.transpile(
                            job.transpiler, circuit, target_key, sim, job.transpiler_options
                        )
                    except BaseException as exc:
                        raise entry_error(exc, TRANSPILE_ERROR) from exc
            except EntryError as exc:
                report(index, self._failed(exc, timer))
                continue
            if job.job_type == "estimation":
                estimate = self.estimate(backend, compiled, job)
                report(index, self._completed(circuit, estimate, timer, {"job_type": "estimation"}, compiled))
                continue
            prepared.append((index, circuit, compiled, timer))
            if not job.enable_circuit_aggregation:
                self._execute(sim, job, [prepared.pop()], report)
        if prepared:
            self._execute(sim, job, prepared, report)

    def _run_pubs(self, backend, job: DriverJob, report: Report, sim: AerSimulator, options_error: str | None) -> None:
        """Each PUB of a sampler or estimator job, one entry each: parsed, transpiled once with the
        backend's pass manager, then run with its parameter values bound in bulk by Aer's primitive."""
        method = self.method(backend, job)
        max_bytes = backend.options.get("max_memory_mb", DEFAULT_MAX_MEMORY_MB) * 1024 * 1024
        seed = job.driver_options.get("seed_simulator")
        for index, source in job.pending():
            timer = StageTimer(job.profiling, driver=self.name)
            try:
                if options_error:
                    raise EntryError(INVALID_PAYLOAD, options_error)
                with timer.stage("driver:parse"):
                    try:
                        pub = primitives.read_pub(primitives.kind_of(job.job_type, source), source)
                    except primitives.PubError as exc:
                        raise EntryError(INVALID_PAYLOAD, str(exc)) from exc
                    circuit = qasm.parse("qasm3", pub.circuit, max_qubits=backend.max_qubits, backend_name=backend.name)
                    primitives.check_parsed(pub, circuit)
                self._check_size(backend, circuit, method, max_bytes)
                with timer.stage("driver:transpile"):
                    try:
                        compiled = transpilers.transpile(
                            job.transpiler, circuit, (backend.name, method), sim, job.transpiler_options
                        )
                    except BaseException as exc:
                        raise entry_error(exc, TRANSPILE_ERROR) from exc
                with timer.stage("driver:run"):
                    if job.job_type == primitives.ESTIMATION:  # estimated, never run
                        shots = pub.shots or job.shots
                        per_circuit = self.estimate(backend, compiled, replace(job, shots=shots))
                        results = primitives.estimate_pub(pub, per_circuit, shots)
                    elif job.dry_run:
                        results = primitives.dry_run_pub(pub, circuit, job.shots, job.job_id, index)
                    else:
                        try:
                            results = primitives.run_pub(pub, circuit, compiled, sim, job.shots, seed)
                        except BaseException as exc:
                            raise entry_error(exc, EXECUTION_ERROR) from exc
            except EntryError as exc:
                report(index, self._failed(exc, timer))
                continue
            extra: dict[str, Any] = {"primitive": pub.kind, "method": method}
            if job.job_type == primitives.ESTIMATION:
                extra["job_type"] = primitives.ESTIMATION
            else:
                extra.update({"dry_run": True} if job.dry_run else {"seed_simulator": seed})
            report(index, self._completed(circuit, results, timer, extra, compiled))

    def _check_size(self, backend, circuit: QuantumCircuit, method: str, max_bytes: int) -> None:
        """Refuse, fast and by name, what would exhaust memory or exceed the backend."""
        if backend.max_qubits and circuit.num_qubits > backend.max_qubits:
            raise EntryError(
                INVALID_PAYLOAD,
                f"the circuit has {circuit.num_qubits} qubits; backend {backend.name} takes at most "
                f"{backend.max_qubits}",
            )
        needed = state_bytes(circuit, method)
        if needed > max_bytes:
            raise EntryError(
                INVALID_PAYLOAD,
                f"the circuit has {circuit.num_qubits} qubits: the {method} method needs "
                f"{_bytes_text(needed)} of memory for its state, over backend {backend.name}'s limit of "
                f"{_bytes_text(max_bytes)} (about {int(math.log2(max_bytes / 16))} qubits for a state vector)",
            )

    def estimate(self, backend, compiled: QuantumCircuit, job: DriverJob) -> dict[str, Any]:
        """Resources of the transpiled circuit and a time model: device-like backends per shot,
        simulators per gate and amplitude (SPEC §3 estimation)."""
        ops = {name: int(count) for name, count in compiled.count_ops().items()}
        two_qubit = compiled.num_nonlocal_gates()
        gates = sum(count for name, count in ops.items() if name not in ("measure", "barrier", "delay"))
        depth = compiled.depth()
        if backend.options.get("noise"):
            per_shot = depth * GATE_SECONDS_2Q + READOUT_SECONDS + SHOT_OVERHEAD_SECONDS
            seconds = job.shots * per_shot
        else:
            amplitudes = 2 ** min(compiled.num_qubits, 60) if not _is_clifford(compiled) else compiled.num_qubits**2
            seconds = gates * amplitudes * SIM_SECONDS_PER_GATE_AMPLITUDE + job.shots * 1e-7
        return {
            "num_qubits": compiled.num_qubits,
            "num_clbits": compiled.num_clbits,
            "depth": depth,
            "gate_counts": ops,
            "num_gates": gates,
            "num_two_qubit_gates": two_qubit,
            "estimated_seconds": round(seconds, 9),
        }

    def _execute(self, sim: AerSimulator, job: DriverJob, batch: list, report: Report) -> None:
        """Run ``batch`` in one simulator call (one entry, or all of them when aggregating)."""
        options = job.driver_options
        if job.dry_run:
            for index, circuit, compiled, timer in batch:
                with timer.stage("driver:run"):
                    counts = dry_run_counts(circuit, job.shots, job.job_id, index)
                report(index, self._completed(circuit, counts, timer, {"dry_run": True}, compiled))
            return
        run_options: dict[str, Any] = {"shots": job.shots, **_threads(sim, [compiled for *_, compiled, _t in batch])}
        if options.get("seed_simulator") is not None:
            run_options["seed_simulator"] = options["seed_simulator"]
        if options.get("memory"):
            run_options["memory"] = True
        first_timer = batch[0][3]
        try:
            with first_timer.stage("driver:run"):
                result = sim.run([compiled for _i, _c, compiled, _t in batch], **run_options).result()
        except BaseException as exc:
            error = entry_error(exc, EXECUTION_ERROR)
            for index, _circuit, _compiled, timer in batch:
                report(index, self._failed(error, timer))
            return
        if len(batch) > 1:
            # One call ran them all: each entry is charged an equal share of its time.
            share = first_timer.seconds["driver:run"] / len(batch)
            for _index, _circuit, _compiled, timer in batch:
                timer.seconds["driver:run"] = share
        for position, (index, circuit, compiled, timer) in enumerate(batch):
            experiment = result.results[position]
            if not experiment.success:
                status = getattr(experiment, "status", "") or "simulation failed"
                if "allocate memory" in status or memory.near_cap():
                    status = f"{MEMORY_LIMIT} ({status})"
                error = EntryError(EXECUTION_ERROR, status)
                report(index, self._failed(error, timer))
                continue
            extra = {"method": experiment.metadata.get("method"), "seed_simulator": experiment.seed_simulator}
            entry = self._completed(circuit, dict(result.get_counts(position)), timer, extra, compiled)
            if options.get("memory"):
                entry.memory = result.get_memory(position)
            report(index, entry)

    def _completed(
        self, circuit: QuantumCircuit, results: dict, timer: StageTimer, extra: dict, compiled: QuantumCircuit
    ) -> EntryResult:
        metadata = {"results_fetch_mode": self.results_fetch_mode, "status": "COMPLETED", **extra}
        metadata["ended_at"] = timezone.now().isoformat()
        return EntryResult(
            status="COMPLETED",
            results=results,
            num_qubits=circuit.num_qubits,
            metadata=metadata,
            profiling=timer.profiling,
            transpiled=drawing.transpiled_source(compiled),
        )

    def properties(self, backend) -> dict[str, Any]:
        method = backend.options.get("method", "automatic")
        described: dict[str, Any] = {"simulator": "qiskit-aer AerSimulator", "method": method}
        if backend.options.get("noise") != "device_like":
            return {**described, "noise_model": "none (ideal)"}
        return {
            **described,
            "noise_model": "device-like",
            "noise_basis_gates": NOISE_BASIS,
            "depolarizing_error_1q": NOISE_1Q,
            "depolarizing_error_2q": NOISE_2Q,
            "readout_error_p1_given_0": READOUT[0][1],
            "readout_error_p0_given_1": READOUT[1][0],
        }

    def draw(self, backend, job: DriverJob, transpiled: list[str | None]) -> list[Drawing]:
        sources = job.source_code
        if primitives.is_pub_job(job.job_type, job.code_type, job.source_code):
            sources = [primitives.circuit_of(pub) for pub in sources]
        return drawing.circuit_drawings(
            job.code_type, sources, transpiled, max_qubits=backend.max_qubits, backend_name=backend.name
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
