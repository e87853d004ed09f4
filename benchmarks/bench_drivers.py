"""What the drivers cost: Aer stage times, a 100-circuit job against direct qiskit-aer calls, QUBO solve times.

Run from the repository root (the database must be migrated: the backends are read from it)::

    .venv/bin/python benchmarks/bench_drivers.py [--repeat 30] [--repeat-batch 3] [--qubo-sizes 20,200,1000]

Prints three tables:

(a) the median per-stage seconds (``driver:parse``, ``driver:transpile``, ``driver:run``, from the
    driver's own profiling) and wall time of a Bell job on ``dummy`` through the Aer driver, over
    ``--repeat`` runs after one warm-up;
(b) a job of 100 different small random circuits (5 qubits, depth 5, measured; 1000 shots) through
    the Aer driver, with and without ``enable_circuit_aggregation``, against 100 direct
    ``AerSimulator.run(pass_manager.run(circuit), shots=1000).result()`` calls with one reused
    simulator and one reused pass manager (with and without parsing the OpenQASM first); the median
    total of ``--repeat-batch`` runs each, after one warm-up;
(c) the ``neal`` driver (default options: 100 reads, neal's 1000 sweeps; a fixed seed) on random dense
    upper-triangular integer QUBOs in [-10, 10], with its own time estimate next to the measured
    time, and for sizes up to 24 variables ``qubo_exact`` too, to show annealing reaches the optimum.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()
# The portal logs at INFO and qiskit logs every pass it runs at INFO: that would be timed too.
logging.getLogger("qiskit").setLevel(logging.WARNING)

import numpy as np  # noqa: E402
from _common import timed  # noqa: E402
from qiskit import qasm2  # noqa: E402
from qiskit.circuit.random import random_circuit  # noqa: E402
from qiskit.transpiler import generate_preset_pass_manager  # noqa: E402
from qiskit_aer import AerSimulator  # noqa: E402

from backends.models import Backend  # noqa: E402
from drivers import transpilers  # noqa: E402
from drivers.base import PROFILING_STAGES, DriverJob, EntryResult  # noqa: E402
from drivers.qubo import EXACT_MAX_VARIABLES  # noqa: E402
from drivers.registry import get_driver  # noqa: E402

BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
JOB_ID = "00000000-0000-4000-8000-00000000be00"
SHOTS = 1000
NUM_CIRCUITS = 100
ALL_STAGES = frozenset(PROFILING_STAGES)


def run_job(driver_name: str, backend: Backend, **fields) -> tuple[list[EntryResult], float]:
    """Run one DriverJob directly (no queue); its entries in source order and the wall seconds."""
    fields.setdefault("job_id", JOB_ID)
    fields.setdefault("profiling", ALL_STAGES)
    job = DriverJob(**fields)
    reported: dict[int, EntryResult] = {}
    start = time.perf_counter()
    get_driver(driver_name).run(backend, job, lambda index, entry: reported.__setitem__(index, entry))
    seconds = time.perf_counter() - start
    entries = [reported[index] for index in sorted(reported)]
    failed = [entry.error for entry in entries if entry.status != "COMPLETED"]
    if failed:
        raise SystemExit(f"{driver_name} on {backend.name}: {len(failed)} entries failed, first: {failed[0]}")
    return entries, seconds


# --- (a) ------------------------------------------------------------------------------------


def bell_stages(dummy: Backend, repeat: int) -> None:
    def once() -> tuple[dict[str, float], float]:
        (entry,), seconds = run_job("aer", dummy, code_type="qasm2", source_code=[BELL], shots=SHOTS)
        return entry.profiling, seconds

    once()  # warm-up: builds the simulator and the pass manager
    samples = [once() for _ in range(repeat)]
    print(f"(a) Bell job on dummy through the Aer driver, {SHOTS} shots: median ms over {repeat} runs")
    print(f"{'stage':<20}{'median ms':>12}")
    for stage in PROFILING_STAGES:
        print(f"{stage:<20}{statistics.median(profile[stage] for profile, _ in samples) * 1000:>12.3f}")
    print(f"{'whole run()':<20}{statistics.median(seconds for _, seconds in samples) * 1000:>12.3f}")


# --- (b) ------------------------------------------------------------------------------------


def hundred_circuits(dummy: Backend, repeat: int) -> None:
    circuits = [random_circuit(5, 5, measure=True, seed=i) for i in range(NUM_CIRCUITS)]
    sources = [qasm2.dumps(circuit) for circuit in circuits]
    job = {"code_type": "qasm2", "source_code": sources, "shots": SHOTS}

    sim = AerSimulator()
    manager = generate_preset_pass_manager(
        optimization_level=transpilers.DEFAULT_OPTIMIZATION_LEVEL, backend=sim, seed_transpiler=0
    )
    custom = qasm2.LEGACY_CUSTOM_INSTRUCTIONS

    def direct() -> None:
        for circuit in circuits:
            sim.run(manager.run(circuit), shots=SHOTS).result()

    def direct_with_parse() -> None:
        for source in sources:
            circuit = qasm2.loads(source, custom_instructions=custom, strict=False)
            sim.run(manager.run(circuit), shots=SHOTS).result()

    # Warm-ups: the driver's simulator and pass manager, the direct simulator and pass manager.
    run_job("aer", dummy, **job)
    direct()
    ways: dict[str, Callable[[], object]] = {
        "driver, one call per circuit": lambda: run_job("aer", dummy, **job),
        "driver, aggregated": lambda: run_job("aer", dummy, enable_circuit_aggregation=True, **job),
        "direct (circuits in memory)": direct,
        "direct + qasm2.loads": direct_with_parse,
    }
    figures = {name: statistics.median(timed(call) for _ in range(repeat)) for name, call in ways.items()}
    baseline = figures["direct (circuits in memory)"]
    print(f"(b) {NUM_CIRCUITS} random circuits (5 qubits, depth 5, measured), {SHOTS} shots each: median of {repeat}")
    print(f"{'way':<32}{'total s':>10}{'per circuit ms':>16}{'/ direct':>10}")
    for name, seconds in figures.items():
        print(f"{name:<32}{seconds:>10.3f}{seconds / NUM_CIRCUITS * 1000:>16.3f}{seconds / baseline:>10.2f}")


# --- (c) ------------------------------------------------------------------------------------


def random_qubo(n: int, seed: int) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return np.triu(rng.integers(-10, 11, size=(n, n))).astype(float).tolist()


def solve(driver_name: str, backend: Backend, matrix: list[list[float]], options: dict) -> tuple[float, float, float]:
    """Measured seconds, the driver's own estimate (an estimation job) and the best quboValue found."""
    qubo = {"code_type": "qubo", "shots": 1, "source_code": [matrix], "driver_options": options}
    (estimate,), _ = run_job(driver_name, backend, job_type="estimation", **qubo)
    (entry,), seconds = run_job(driver_name, backend, **qubo)
    return seconds, estimate.results["estimated_seconds"], entry.results[0]["quboValue"]


def qubo_solves(sizes: list[int]) -> None:
    sa_backend = Backend.objects.get(name="qubo_sa")
    exact_backend = Backend.objects.get(name="qubo_exact")
    solve("neal", sa_backend, random_qubo(4, 0), {})  # warm-up: imports dimod
    rows = []
    for n in sizes:
        matrix = random_qubo(n, seed=n)
        rows.append((n, "neal (qubo_sa)", *solve("neal", sa_backend, matrix, {"seed": 1})))
        if n <= EXACT_MAX_VARIABLES:
            rows.append((n, "qubo_exact", *solve("qubo_exact", exact_backend, matrix, {})))
    print("(c) QUBO: random dense upper-triangular integer matrices in [-10, 10] (100 reads, 1000 sweeps, seed 1)")
    print(f"{'variables':>10}  {'driver':<16}{'solve s':>10}{'estimated s':>13}{'best quboValue':>16}")
    for n, name, seconds, estimated, best in rows:
        print(f"{n:>10}  {name:<16}{seconds:>10.3f}{estimated:>13.3f}{best:>16.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed Bell runs for table (a) (default 30)")
    parser.add_argument("--repeat-batch", type=int, default=3, help="timed runs of each way in table (b) (default 3)")
    parser.add_argument(
        "--qubo-sizes",
        default="20,200,1000",
        help="comma-separated QUBO sizes for table (c) (default 20,200,1000; 1000 takes ~20 s)",
    )
    args = parser.parse_args()
    dummy = Backend.objects.get(name="dummy")
    bell_stages(dummy, args.repeat)
    print()
    hundred_circuits(dummy, args.repeat_batch)
    print()
    qubo_solves([int(size) for size in args.qubo_sizes.split(",")])


if __name__ == "__main__":
    main()
