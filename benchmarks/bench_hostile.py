"""Peak memory of hostile jobs (SPEC §13), each run as a work horse runs it: in a forked process under
the backend's memory cap, through the Aer driver, with the outcome the job would get.

Run from the repository root (the database must be migrated: the backends are read from it)::

    .venv/bin/python benchmarks/bench_hostile.py [--cap-mb 6144]

For every case it prints the entry's error code and message, the child's peak resident memory, and
its ratio to the floor: the same forked process running a Bell circuit. The "unchecked" rows parse
the same sources with qiskit alone, skipping the portal's scan (what the portal did before), under
the same cap; without the cap they grew past 20 GB.
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()
logging.getLogger("qiskit").setLevel(logging.WARNING)

from qiskit import qasm2, qasm3  # noqa: E402

from backends.models import Backend  # noqa: E402
from drivers.base import DriverJob  # noqa: E402
from drivers.registry import get_driver  # noqa: E402

BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
NESTED = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ngate g0 a { h a; }\n'
    + "".join(f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}\n" for i in range(1, 40))
    + "g39 q[0];\n"
)
CASES = {
    "include /etc/passwd": 'OPENQASM 2.0;\ninclude "/etc/passwd";\nqreg q[1];\n',
    "qreg q[10^9] (OpenQASM 2)": "OPENQASM 2.0;\nqreg q[1000000000];\n",
    "qubit[10^9] q (OpenQASM 3)": "OPENQASM 3.0;\nqubit[1000000000] q;\n",
    "qreg q[10^30] (panics)": "OPENQASM 2.0;\nqreg q[1000000000000000000000000000000];\n",
    "h $1000000000 (physical)": 'OPENQASM 3.0;\ninclude "stdgates.inc";\nh $1000000000;\n',
    "nested gates, 2^39 when unrolled": NESTED,
}


def in_child(cap_bytes: int, work) -> tuple[object, float, float]:
    """Run ``work`` in a forked child under the cap: (its answer or how it died, peak RSS MiB, seconds)."""
    read, write = os.pipe()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, resource.RLIM_INFINITY))
        try:
            answer = work()
        except BaseException as exc:  # noqa: B036 -- the child reports whatever ended it
            answer = f"{type(exc).__name__}: {str(exc)[:80]}"
        with os.fdopen(write, "wb") as pipe:
            pickle.dump(answer, pipe)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    _pid, status, rusage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    answer = pickle.loads(data) if data else f"died (signal {os.WTERMSIG(status)})"
    return answer, rusage.ru_maxrss / 1024, seconds


def through_driver(backend: Backend, source: str):
    def work():
        reported = []
        job = DriverJob(
            job_id="00000000-0000-4000-8000-000000000001", code_type="qasm", source_code=[source], shots=100
        )
        get_driver(backend.driver).run(backend, job, lambda index, entry: reported.append(entry))
        entry = reported[0]
        return "COMPLETED" if entry.error is None else f"{entry.error['code']} {entry.error['message'][:70]}"

    return work


def unchecked(source: str):
    def work():
        if "OPENQASM 3" in source:
            circuit = qasm3.loads(source)
        else:
            circuit = qasm2.loads(source, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        return f"parsed: {circuit.num_qubits} qubits"

    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cap-mb", type=int, default=None, help="memory cap (default: the backend's)")
    args = parser.parse_args()
    backend = Backend.objects.get(name="dummy")
    get_driver(backend.driver).prepare(backend)  # prewarmed, as a worker's main process is
    cap = (args.cap_mb * 2**20) if args.cap_mb else backend.memory_limit_bytes
    print(f"backend {backend.name}, max_qubits {backend.max_qubits}, memory cap {cap // 2**20} MiB\n")
    _answer, floor, floor_s = in_child(cap, through_driver(backend, BELL))
    print(f"{'case':36} {'outcome':76} {'peak MiB':>9} {'x floor':>8} {'s':>6}")
    print(f"{'floor: Bell circuit':36} {'COMPLETED':76} {floor:9.0f} {1:8.2f} {floor_s:6.2f}")
    for name, source in CASES.items():
        answer, peak, seconds = in_child(cap, through_driver(backend, source))
        print(f"{name:36} {str(answer):76} {peak:9.0f} {peak / floor:8.2f} {seconds:6.2f}")
    print("\nunchecked (qiskit's parsers alone, as before the scan), under the same cap:")
    for name, source in CASES.items():
        if name.startswith("nested"):
            continue  # parses small; it grows only when unrolled, which the driver rows show
        answer, peak, seconds = in_child(cap, unchecked(source))
        print(f"{name:36} {str(answer):76} {peak:9.0f} {peak / floor:8.2f} {seconds:6.2f}")


if __name__ == "__main__":
    main()
