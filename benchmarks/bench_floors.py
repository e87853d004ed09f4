"""The workers' side of the portal beside its floors, in one run (issue 14): what the same work costs
with RQ and Aer alone, and the ratio.

1. Drain: ``--jobs`` tiny Bell jobs drained by 2 JobWorkers (forking, as runportal runs them), against
   the same number of no-op jobs drained by 2 RQ SimpleWorkers. Jobs per second from the first job's
   start to the last one's end (worker start-up and prewarm left out on both sides).
2. Latency on an idle system: a Bell job submitted through the service (no HTTP) until the database
   says COMPLETED, polled every 2 ms, against its floor: a warm in-process Aer run (parse, transpile
   with a prebuilt pass manager, 100 shots) plus an RQ no-op round trip on a forking worker.

    .venv/bin/python benchmarks/bench_floors.py
    .venv/bin/python benchmarks/bench_floors.py --jobs 1000 --samples 50
    .venv/bin/python benchmarks/bench_floors.py --memory-jobs 10000   # and a worker's memory over 10k jobs

On a temporary SQLite database, or with ``--pg URL`` a fresh database on that PostgreSQL server
(whose CPU then counts in a job's), and Redis database 10 (``REDIS_URL`` to use another); run it on
an otherwise idle machine, and compare ratios within one run.

    .venv/bin/python benchmarks/bench_floors.py --jobs 1000 --pg postgresql://postgres@127.0.0.1:5432
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import fresh_database, postgres_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The database is chosen before Django starts: --pg is read here, and again (for --help) in main.
_early = argparse.ArgumentParser(add_help=False)
_early.add_argument("--pg")
PG = _early.parse_known_args()[0].pg
if PG:
    os.environ["DATABASE_URL"] = fresh_database(PG, "portal_floors")
else:
    os.environ["DATABASE_URL"] = f"sqlite:///{Path(tempfile.mkdtemp(prefix='portal-floors-')) / 'bench.sqlite3'}"
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/10")
os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db.models import Max, Min  # noqa: E402
from qiskit import qasm2  # noqa: E402
from qiskit_aer import AerSimulator  # noqa: E402
from rq import Queue  # noqa: E402

from core.redis import client as redis_client  # noqa: E402
from jobs.models import Job  # noqa: E402
from jobs.services import JobSpec, job_submit  # noqa: E402
from tests.factories import BELL, make_tenant  # noqa: E402

FLOOR_QUEUE = "floor"
ENV = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'benchmarks'}"}


def job_workers(count: int, *, burst: bool) -> list[subprocess.Popen]:
    command = [sys.executable, str(ROOT / "manage.py"), "rqworker", "--worker-class", "jobs.worker.JobWorker",
               *settings.JOB_QUEUE_NAMES]  # fmt: skip
    if burst:
        command.append("--burst")
    return [
        subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]


def rq_workers(count: int, *, worker_class: str, burst: bool) -> list[subprocess.Popen]:
    command = [sys.executable, "-m", "rq.cli", "worker", "--url", settings.REDIS_URL, "--worker-class", worker_class]
    if burst:
        command.append("--burst")
    command.append(FLOOR_QUEUE)
    return [
        subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=60)


def wait_for(predicate, timeout: float = 600, interval: float = 0.002) -> float:
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise SystemExit("timed out")
        time.sleep(interval)
    return time.perf_counter() - start


def cpu_seconds() -> float:
    """CPU used so far by this run's reaped worker processes (their work processes included) and by
    Redis: the machine's load changes wall-clock rates from run to run, much less what a job costs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    info = redis_client().info("cpu")
    database = postgres_cpu_seconds() if PG else 0.0
    return usage.ru_utime + usage.ru_stime + info["used_cpu_user"] + info["used_cpu_sys"] + database


def cpu_per_job(drain, count: int) -> float:
    """CPU seconds a job costs, over everything that ran it: ``drain(count)`` less ``drain(0)`` (the
    workers' start and stop), divided by ``count``, each from the moment its jobs wait (``drain`` calls
    its ``filled`` then): a portal job's submit is the web server's cost, and its database's share of
    it no worker's. ``drain`` keeps its own figures of the last call."""

    def used(jobs: int) -> float:
        start: list[float] = []
        drain(jobs, filled=lambda: start.append(cpu_seconds()))
        return cpu_seconds() - start[0]

    idle = used(0)
    return (used(count) - idle) / count


def submit(tenant) -> Job:
    spec = JobSpec(code_type="qasm2", source_code=[BELL], backend="dummy", shots=100)
    return job_submit(user=tenant.user, project=tenant.project, spec=spec)


def drain_portal(tenant, count: int, filled=lambda: None) -> tuple[float, float, float]:
    """Jobs per second, and per job the median of its own start -> end and of the gap before it on
    its worker (dequeue, RQ's bookkeeping, the hand-over to the work process), in seconds."""
    jobs = [submit(tenant) for _ in range(count)]
    ids = [job.job_id for job in jobs]
    filled()
    workers = job_workers(2, burst=True)
    for worker in workers:
        worker.wait(timeout=1200)
    if not count:
        return 0.0, 0.0, 0.0
    span = Job.objects.filter(pk__in=ids).aggregate(first=Min("started_at"), last=Max("ended_at"))
    done = Job.objects.filter(pk__in=ids, status="COMPLETED").count()
    assert done == count, f"{done} of {count} completed"
    runs, gaps = [], []
    by_worker: dict[str, list] = {}
    for name, started, ended in Job.objects.filter(pk__in=ids).values_list("worker_name", "started_at", "ended_at"):
        by_worker.setdefault(name, []).append((started, ended))
    for spans in by_worker.values():
        spans.sort()
        runs += [(end - start).total_seconds() for start, end in spans]
        gaps += [(b[0] - a[1]).total_seconds() for a, b in zip(spans, spans[1:], strict=False)]
    rate = count / (span["last"] - span["first"]).total_seconds()
    return rate, statistics.median(runs), statistics.median(gaps)


def memory_over(tenant, count: int, every: int) -> list[tuple[int, float, float]]:
    """One JobWorker draining ``count`` tiny jobs in one work process (never replaced for its share):
    (jobs done, worker RSS MiB, work process RSS MiB) every ``every`` jobs."""
    import psutil

    for _ in range(count):
        submit(tenant)
    completed = Job.objects.filter(status="COMPLETED")
    before = completed.count()
    env = {**ENV, "WORK_PROCESS_MAX_JOBS": str(count + 1)}
    command = [sys.executable, str(ROOT / "manage.py"), "rqworker", "--worker-class", "jobs.worker.JobWorker",
               "--burst", *settings.JOB_QUEUE_NAMES]  # fmt: skip
    worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples, mark = [], every
    main = psutil.Process(worker.pid)
    while worker.poll() is None:
        done = completed.count() - before
        if done >= mark:
            try:
                children = main.children()
                work_rss = children[0].memory_info().rss / 2**20 if children else float("nan")
                samples.append((done, main.memory_info().rss / 2**20, work_rss))
            except psutil.Error:
                break
            mark += every
        time.sleep(0.5)
    return samples


def drain_rq(count: int, filled=lambda: None) -> float:
    queue = Queue(FLOOR_QUEUE, connection=redis_client())
    jobs = [queue.enqueue("floor_tasks.noop") for _ in range(count)]
    filled()
    workers = rq_workers(2, worker_class="rq.SimpleWorker", burst=True)
    for worker in workers:
        worker.wait(timeout=600)
    if not count:
        return 0.0
    for job in jobs:
        job.refresh()
    assert all(job.get_status() == "finished" for job in jobs)
    first = min(job.started_at for job in jobs)
    last = max(job.ended_at for job in jobs)
    return count / (last - first).total_seconds()


def latency_portal(tenant, samples: int) -> float:
    workers = job_workers(1, burst=False)
    try:
        times = []
        for index in range(samples + 3):
            start = time.perf_counter()
            job = submit(tenant)
            wait_for(lambda job=job: Job.objects.filter(pk=job.pk, status="COMPLETED").exists(), timeout=120)
            if index >= 3:  # the first ones wait for the worker's prewarm
                times.append(time.perf_counter() - start)
        return statistics.median(times)
    finally:
        stop(workers)


def latency_rq_round_trip(samples: int) -> float:
    queue = Queue(FLOOR_QUEUE, connection=redis_client())
    workers = rq_workers(1, worker_class="rq.Worker", burst=False)  # forking, as the portal's
    try:
        times = []
        for index in range(samples + 3):
            start = time.perf_counter()
            job = queue.enqueue("floor_tasks.noop")
            wait_for(lambda job=job: job.get_status(refresh=True) == "finished", timeout=60)
            if index >= 3:
                times.append(time.perf_counter() - start)
        return statistics.median(times)
    finally:
        stop(workers)


def latency_aer(samples: int) -> float:
    from qiskit.transpiler import generate_preset_pass_manager

    simulator = AerSimulator()
    pass_manager = generate_preset_pass_manager(optimization_level=1, backend=simulator)
    times = []
    for _ in range(samples + 3):
        start = time.perf_counter()
        circuit = pass_manager.run(qasm2.loads(BELL))
        simulator.run(circuit, shots=100).result()
        times.append(time.perf_counter() - start)
    return statistics.median(times[3:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--memory-jobs", type=int, default=0, help="then the memory of one worker over this many jobs")
    parser.add_argument("--pg", help="a PostgreSQL server's URL (postgresql://user@host:port): a fresh database there")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    redis_client().flushdb()
    tenant = make_tenant()
    tenant.project.max_queued_jobs = 10**9
    tenant.project.save()

    drained = {}

    def portal(count: int, filled) -> None:
        drained["portal"] = drain_portal(tenant, count, filled)

    def rq(count: int, filled) -> None:
        drained["rq"] = drain_rq(count, filled)

    portal_cpu, rq_cpu = cpu_per_job(portal, args.jobs), cpu_per_job(rq, args.jobs)
    (portal_rate, run_p50, gap_p50), rq_rate = drained["portal"], drained["rq"]
    portal_latency = latency_portal(tenant, args.samples)
    aer = latency_aer(args.samples)
    round_trip = latency_rq_round_trip(args.samples)
    floor = aer + round_trip

    print(f"\n{'figure':52} {'portal':>12} {'floor':>12} {'ratio':>8}")
    print(f"{f'{args.jobs} tiny jobs drained by 2 workers, jobs/s':52} {portal_rate:12.1f} {rq_rate:12.1f} "
          f"{portal_rate / rq_rate:7.2f}x")  # fmt: skip
    counted = "workers, Redis, PostgreSQL" if PG else "workers and Redis"
    print(f"{f'  CPU per drained job, ms ({counted})':52} {portal_cpu * 1000:12.2f} {rq_cpu * 1000:12.2f} "
          f"{rq_cpu / portal_cpu:7.2f}x")  # fmt: skip
    print(f"{'Bell submit -> COMPLETED, idle, p50 ms':52} {portal_latency * 1000:12.1f} {floor * 1000:12.1f} "
          f"{portal_latency / floor:7.2f}x")  # fmt: skip
    print(
        f"  the floor: in-process Aer run {aer * 1000:.1f} ms + RQ no-op round trip, forking {round_trip * 1000:.1f} ms"
    )
    print("  (drain floor: 2 RQ SimpleWorkers on no-op jobs; goals: drain >= 0.5x, latency <= 2x)")
    print(f"  per drained job, p50: its own start -> end {run_p50 * 1000:.1f} ms; the gap before it on its "
          f"worker {gap_p50 * 1000:.1f} ms")  # fmt: skip
    if args.memory_jobs:
        print(f"\nOne worker draining {args.memory_jobs} tiny jobs in one work process: resident memory, MiB")
        print(f"{'jobs done':>10} {'worker':>8} {'work process':>13}")
        for done, main_rss, work_rss in memory_over(tenant, args.memory_jobs, max(args.memory_jobs // 10, 1)):
            print(f"{done:10d} {main_rss:8.1f} {work_rss:13.1f}")


if __name__ == "__main__":
    main()
