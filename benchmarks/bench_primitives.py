"""An estimator call of 10 parameter sets x 3 observables over the portal, two ways, in one run (issue 17):

    .venv/bin/python benchmarks/bench_primitives.py --spawn          # starts its own runportal (temp SQLite)
    .venv/bin/python benchmarks/bench_primitives.py --url http://127.0.0.1:8000 --token qp_...

- ``PortalEstimatorV2``: one job, the PUB run on the server (transpiled once, bound in bulk, Aer's own
  estimator);
- ``BackendEstimatorV2`` over the portal's qiskit backend: qiskit binds every circuit and measures
  every observable's basis itself, and sends them all as circuits (one job of many entries).

And the floor of both: qiskit-aer's own ``EstimatorV2`` on the same PUB in this process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from _common import add_portal_arguments, portal_from_args  # noqa: E402
from qiskit import transpile  # noqa: E402
from qiskit.circuit.library import real_amplitudes  # noqa: E402
from qiskit.primitives import BackendEstimatorV2  # noqa: E402
from qiskit.quantum_info import SparsePauliOp  # noqa: E402

from portal_client import PortalClient, PortalEstimatorV2, PortalProvider  # noqa: E402


def pub():
    """A 4-qubit ansatz, 10 parameter sets (shape (10, 1)) against 3 observables (shape (3,)): 30 values."""
    ansatz = real_amplitudes(4, reps=2)
    rng = np.random.default_rng(7)
    values = rng.uniform(-np.pi, np.pi, size=(10, 1, ansatz.num_parameters))
    observables = [
        SparsePauliOp("ZZII"),
        SparsePauliOp.from_list([("XXII", 0.5), ("IIYY", 0.5)]),
        SparsePauliOp("ZIIZ"),
    ]
    return ansatz, observables, values


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:8.1f} ms   min {min(values) * 1000:8.1f} ms"


def timed_runs(call, repeat: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_portal_arguments(parser)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ansatz, observables, values = pub()
    with portal_from_args(args) as (url, token):
        client = PortalClient(url, token)
        backend = PortalProvider(client=client).get_backend("aer_simulator")
        server = PortalEstimatorV2(client=client, backend="aer_simulator")
        server_pub = (ansatz, observables, values)  # broadcast (10, 1) x (3,) -> (10, 3)
        transpiled = transpile(ansatz, backend, seed_transpiler=1)
        local_obs = [o.apply_layout(transpiled.layout) for o in observables]
        client_side = BackendEstimatorV2(backend=backend, options={"default_precision": 0.02})
        server.run([server_pub], precision=0.02).result()  # warm-up: web and worker processes
        portal_times, portal_result = timed_runs(lambda: server.run([server_pub], precision=0.02).result(), args.repeat)
        backend_times, backend_result = timed_runs(
            lambda: client_side.run([(transpiled, local_obs, values)]).result(), max(1, args.repeat // 2)
        )
    from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2

    aer = AerEstimatorV2(options={"default_precision": 0.02})
    aer_times, aer_result = timed_runs(lambda: aer.run([(ansatz, observables, values)]).result(), args.repeat)
    print("An estimator call of 10 parameter sets x 3 observables (4 qubits, precision 0.02), end to end:")
    print(f"    PortalEstimatorV2 (one server-side job)         {ms(portal_times)}")
    print(f"    BackendEstimatorV2 over the portal's backend    {ms(backend_times)}")
    print(f"    floor: qiskit-aer's EstimatorV2 in this process {ms(aer_times)}")
    ratio = statistics.median(backend_times) / statistics.median(portal_times)
    print(f"    PortalEstimatorV2 is {ratio:.1f}x faster than BackendEstimatorV2 over the portal")
    for name, result in (("portal", portal_result), ("backend", backend_result), ("aer", aer_result)):
        print(f"    {name:8} evs[0] {np.round(result[0].data.evs[0], 3)}")


if __name__ == "__main__":
    main()
