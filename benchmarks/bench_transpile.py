"""What a circuit job costs in the Aer driver: naive transpile vs. a reused pass manager vs. the simulation.

Run from the repository root::

    .venv/bin/python benchmarks/bench_transpile.py [--repeat 30]

For a Bell circuit and a 10-qubit GHZ it prints the median over ``--repeat`` calls of
``qiskit.transpile(circuit, AerSimulator())`` with a fresh simulator each time (what a naive
driver does per job), the time to build one preset pass manager, the median of running a reused
one from ``drivers.transpilers.pass_manager`` (what the portal's driver does), and the median of
``AerSimulator.run(..., shots=1000).result()``.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()
# The portal logs at INFO and qiskit logs every pass it runs at INFO (even while qiskit_aer is imported):
# silenced unless --qiskit-logging asks to time that too.
logging.getLogger("qiskit").setLevel(logging.WARNING)

from _common import timed  # noqa: E402
from qiskit import QuantumCircuit, transpile  # noqa: E402
from qiskit.transpiler import generate_preset_pass_manager  # noqa: E402
from qiskit_aer import AerSimulator  # noqa: E402

from drivers import transpilers  # noqa: E402

SHOTS = 1000


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


def ghz(width: int) -> QuantumCircuit:
    circuit = QuantumCircuit(width, width)
    circuit.h(0)
    for qubit in range(width - 1):
        circuit.cx(qubit, qubit + 1)
    circuit.measure(range(width), range(width))
    return circuit


def median_ms(call: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``call`` in milliseconds, after one untimed warm-up call."""
    call()
    return statistics.median(timed(call) for _ in range(repeat)) * 1000


def measure(circuit: QuantumCircuit, sim: AerSimulator, repeat: int) -> dict[str, float]:
    target_key = ("bench", circuit.num_qubits)
    compiled = transpilers.pass_manager(target_key, sim, {}).run(circuit)
    return {
        # A fresh simulator each time, as a driver that builds everything per job would.
        "transpile(fresh sim)": median_ms(lambda: transpile(circuit, AerSimulator()), repeat),
        "build pass manager": median_ms(
            lambda: generate_preset_pass_manager(
                optimization_level=transpilers.DEFAULT_OPTIMIZATION_LEVEL, backend=sim
            ),
            repeat,
        ),
        "run cached pass mgr": median_ms(lambda: transpilers.pass_manager(target_key, sim, {}).run(circuit), repeat),
        f"simulate {SHOTS} shots": median_ms(lambda: sim.run(compiled, shots=SHOTS).result(), repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed repetitions per figure (default 30)")
    parser.add_argument(
        "--qiskit-logging",
        action="store_true",
        help="keep qiskit's INFO logging (one line per transpiler pass under the portal's settings)",
    )
    args = parser.parse_args()
    if args.qiskit_logging:
        logging.getLogger("qiskit").setLevel(logging.NOTSET)

    sim = AerSimulator()
    rows = {"bell (2q)": measure(bell(), sim, args.repeat), "ghz (10q)": measure(ghz(10), sim, args.repeat)}

    columns = list(next(iter(rows.values())))
    print(f"median ms over {args.repeat} calls (qiskit logging {'on' if args.qiskit_logging else 'off'})")
    print(f"{'circuit':<12}" + "".join(f"{name:>24}" for name in columns))
    for circuit_name, figures in rows.items():
        print(f"{circuit_name:<12}" + "".join(f"{figures[name]:>24.3f}" for name in columns))


if __name__ == "__main__":
    main()
