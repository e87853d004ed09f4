"""Submit -> COMPLETED latency and submit throughput of a running portal, over real HTTP.

    .venv/bin/python benchmarks/bench_rpc.py --spawn            # starts its own runportal (temp SQLite)
    .venv/bin/python benchmarks/bench_rpc.py --url http://127.0.0.1:8000 --token qp_...

Latency: one Bell job at a time on idle workers, polled with get_job_status every 2 ms.
Throughput: 8 client threads (one HTTP session each) submitting Bell jobs for a fixed time.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from datetime import datetime

import requests
from _common import add_portal_arguments, portal_from_args

BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'


def rpc(session: requests.Session, url: str, method: str, body: dict) -> dict:
    payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {"body": body}}
    answer = session.post(f"{url}/v1/job/{method}", json=payload, timeout=30).json()
    if "error" in answer:
        raise RuntimeError(answer["error"])
    return answer["result"]


def submit(session, url, backend: str) -> str:
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": backend, "shots": 1000}
    return rpc(session, url, "submit_job", body)["job_id"]


def latency(url: str, token: str, backend: str, samples: int) -> tuple[list[float], list[float], list[float]]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    # Warm-up: the web workers import the app on their first requests, and the job workers take
    # seconds to boot (Django, qiskit, pass managers); measure only once jobs are being run.
    warmups = [submit(session, url, backend) for _ in range(4)]
    for job_id in warmups:
        while rpc(session, url, "get_job_status", {"job_id": job_id})["job_status"] not in ("COMPLETED", "FAILED"):
            time.sleep(0.05)
    times, waits, runs = [], [], []
    for _ in range(samples):
        start = time.perf_counter()
        job_id = submit(session, url, backend)
        while (status := rpc(session, url, "get_job_status", {"job_id": job_id}))["job_status"] not in (
            "COMPLETED",
            "FAILED",
        ):
            time.sleep(0.002)
        times.append(time.perf_counter() - start)
        created, started, ended = (datetime.fromisoformat(status[k]) for k in ("created_at", "started_at", "ended_at"))
        waits.append((started - created).total_seconds())
        runs.append((ended - started).total_seconds())
    return times, waits, runs


def throughput(url: str, token: str, backend: str, clients: int, seconds: float) -> tuple[int, float]:
    counts = [0] * clients
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        while time.perf_counter() < deadline:
            submit(session, url, backend)
            counts[index] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_portal_arguments(parser)
    parser.add_argument("--backend", default="dummy")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with portal_from_args(args) as (url, token):
        times, waits, runs = latency(url, token, args.backend, args.samples)
        ms = sorted(t * 1000 for t in times)
        print(f"submit -> COMPLETED, Bell job, idle workers ({args.samples} jobs):")
        print(f"  median {statistics.median(ms):.1f} ms   p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms   "
              f"min {ms[0]:.1f} ms   max {ms[-1]:.1f} ms")  # fmt: skip
        print(f"  of which created -> started (queue, dequeue, fork) median {statistics.median(waits) * 1000:.1f} ms, "
              f"started -> ended (the run) median {statistics.median(runs) * 1000:.1f} ms")  # fmt: skip
        total, elapsed = throughput(url, token, args.backend, args.clients, args.seconds)
        print(f"submits from {args.clients} concurrent clients for {elapsed:.1f} s (workers running):")
        print(f"  {total} jobs, {total / elapsed:.1f} submits/s")


if __name__ == "__main__":
    main()
