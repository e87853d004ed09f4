"""What the Python client adds on top of the portal, measured over real HTTP.

    .venv/bin/python benchmarks/bench_client.py --spawn            # starts its own runportal (temp SQLite)
    .venv/bin/python benchmarks/bench_client.py --url http://127.0.0.1:8000 --token qp_...

(a) Bell job, ``backend.run(circuit).result()`` through the qiskit provider: waiting on the events
    stream against polling ``get_job_status`` every 0.5 s / 2 s (qiskit's and IBM's usual waits):
    how long after the job's own ``ended_at`` each answer arrives.
(b) The client's own cost per job: building the job object and the qiskit ``Result`` from the answer,
    with the HTTP round trips taken out (the answer is fetched once, then converted repeatedly).
(c) ``BackendSamplerV2`` with 10 parameter bindings of a 5-qubit circuit: one job, end to end.
(d) ``PortalSampler.sample_qubo`` on a 20-variable QUBO (qubo_sa, 100 reads): end to end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import add_portal_arguments, portal_from_args, timed  # noqa: E402
from qiskit import QuantumCircuit, transpile  # noqa: E402
from qiskit.circuit.library import real_amplitudes  # noqa: E402
from qiskit.primitives import BackendSamplerV2  # noqa: E402

from portal_client import PortalClient, PortalProvider, PortalSampler  # noqa: E402
from portal_client.job import PortalJob  # noqa: E402


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def ms(values: list[float]) -> str:
    p90 = sorted(values)[int(len(values) * 0.9)]
    return f"median {statistics.median(values) * 1000:7.1f} ms   p90 {p90 * 1000:7.1f} ms"


def lag_after_end(job: PortalJob, answered_at: float) -> float:
    """Seconds between the job's ended_at (portal clock = this machine's) and the client having the answer."""
    ended = datetime.fromisoformat(job.data["ended_at"]).timestamp()
    return answered_at - ended


def bench_waiting(backend, samples: int) -> None:
    circuit = transpile(bell(), backend)
    polling = PortalClient(backend.client.url, backend.client.token)
    polling.events = _no_stream  # the client's fallback when a portal has no events stream
    print("(a) backend.run(bell).result(): total time, and lag after the job ended")
    for label, wait in (("events stream", None), ("polling 0.5 s", 0.5), ("polling 2 s", 2.0)):
        totals, lags = [], []
        for _ in range(samples):
            start = time.perf_counter()
            job = backend.run(circuit, shots=1000)
            if wait is None:
                job.result()
            else:
                job._client = polling
                job.result(wait=wait)
            done = time.time()
            totals.append(time.perf_counter() - start)
            lags.append(lag_after_end(job, done))
        print(f"    {label:14}  total {ms(totals)}   lag {ms(lags)}")


def _no_stream(job_id):
    from portal_client import ConnectionFailed

    raise ConnectionFailed("benchmark: polling")


def bench_conversion(backend, repeat: int) -> None:
    circuits = [transpile(bell(), backend)] * 20
    job = backend.run(circuits, shots=1000, memory=True)
    job.result()
    entries = job._entries()
    times = [timed(lambda: job._qiskit_result(entries)) for _ in range(repeat)]
    print(f"(b) Result from the answer of a 20-circuit job (1000 shots, memory): {ms(times)}")


def bench_sampler(backend, repeat: int) -> None:
    ansatz = real_amplitudes(5, reps=2)
    ansatz.measure_all()
    circuit = transpile(ansatz, backend)
    bindings = [[0.1 * (i + j) for j in range(ansatz.num_parameters)] for i in range(10)]
    sampler = BackendSamplerV2(backend=backend, options={"default_shots": 1000})
    times = [timed(lambda: sampler.run([(circuit, bindings)]).result()) for _ in range(repeat)]
    print(f"(c) BackendSamplerV2, 5 qubits x 10 bindings x 1000 shots: {ms(times)}")


def bench_qubo(client: PortalClient, repeat: int) -> None:
    import numpy as np

    rng = np.random.default_rng(1)
    matrix = np.triu(rng.integers(-10, 11, size=(20, 20)))
    qubo = {(i, j): int(matrix[i, j]) for i in range(20) for j in range(i, 20) if matrix[i, j]}
    sampler = PortalSampler(client=client, backend="qubo_sa")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        sampleset = sampler.sample_qubo(qubo, num_reads=100)
        sampleset.resolve()
        times.append(time.perf_counter() - start)
    print(f"(d) PortalSampler.sample_qubo, 20 variables, 100 reads: {ms(times)}   best {sampleset.first.energy}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_portal_arguments(parser)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    with portal_from_args(args) as (url, token):
        client = PortalClient(url, token)
        backend = PortalProvider(client=client).get_backend("aer_simulator")
        # warm-up: web workers import the app, job workers boot
        for _ in range(4):
            backend.run(transpile(bell(), backend)).result(timeout=120)
        bench_waiting(backend, args.samples)
        bench_conversion(backend, args.samples * 5)
        bench_sampler(backend, max(3, args.samples // 4))
        bench_qubo(client, max(3, args.samples // 4))


if __name__ == "__main__":
    main()
