"""``submit_job`` over HTTP beside its floor, in one run (issue 14): wrk with ``--connections``
connections posts a Bell submit for ``--seconds`` against

- the floor: a minimal Django + DRF endpoint doing the least a submit must do (a hashed-token
  lookup, serializer validation, one INSERT, one Redis push; ``benchmarks/floor_http``) under gunicorn
  gthread, 2 processes x 4 threads;
- the same floor served the way the portal serves its API (uvicorn workers, a2wsgi's thread pool):
  the server's own share;
- the portal, as ``runportal --workers 0`` serves it, once per ``--web-workers`` value given.

    apt-get install wrk          # once
    .venv/bin/python benchmarks/bench_http.py
    .venv/bin/python benchmarks/bench_http.py --web-workers 2,3 --seconds 20

PostgreSQL at ``--pg`` (databases ``portal_http`` and ``portal_floor`` are made anew) and Redis
database 10 (``REDIS_URL`` to use another); the per-token rate limit is off (``RATE_LIMIT=0``), so
what is measured is the portal, not its limit. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg
import requests
from _common import ROOT, free_port, fresh_database, spawn_portal

BENCH = Path(__file__).resolve().parent
BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
FLOOR_TOKEN = "floor-token"
BODY = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "shots": 100}


def wrk(url: str, token: str, *, connections: int, seconds: int) -> dict[str, float]:
    """Requests/s and latency percentiles (ms) of wrk posting the submit; fails on any non-2xx answer."""
    payload = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "submit_job", "params": {"body": BODY}})
    script = Path(tempfile.mkdtemp()) / "submit.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(payload)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
               f"{url}/v1/job/submit_job"]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for percentile in ("50", "99"):
        value, unit = re.search(rf"\s{percentile}%\s+([\d.]+)(us|ms|s)\b", out).groups()
        figures[f"p{percentile}"] = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    return figures


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a server process and every process under it."""
    total = 0.0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def measured(url: str, token: str, pid: int, args) -> dict[str, float]:
    """wrk's figures, and the web server's CPU per request (its processes; the machine's load moves
    the rates far more than what a request costs)."""
    before = tree_cpu(pid)
    figures = wrk(url, token, connections=args.connections, seconds=args.seconds)
    figures["cpu_ms"] = (tree_cpu(pid) - before) * 1000 / (figures["rps"] * args.seconds)
    return figures


def wait_up(url: str, path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}{path}", timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


FLOOR_SERVERS = {
    "gthread": ["floor_http.app:application", "--worker-class", "gthread", "--threads", "4"],
    # The portal's own server: uvicorn workers, the WSGI application behind a2wsgi's thread pool.
    "portal's": ["floor_http.asgi:application", "--worker-class", "uvicorn_worker.UvicornWorker"],
}


def floor_database(pg: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(BENCH), "DJANGO_SETTINGS_MODULE": "floor_http.settings",
           "FLOOR_DATABASE_URL": fresh_database(pg, "portal_floor")}  # fmt: skip
    subprocess.run([sys.executable, "-m", "django", "migrate", "--run-syncdb", "-v", "0"], env=env, check=True)
    with psycopg.connect(env["FLOOR_DATABASE_URL"], autocommit=True) as conn:
        digest = hashlib.sha256(FLOOR_TOKEN.encode()).hexdigest()
        conn.execute("INSERT INTO floor_http_token (key_hash) VALUES (%s)", (digest,))
    return env


def run_floor(env: dict[str, str], args, server: str) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *FLOOR_SERVERS[server], "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--log-level", "warning"],
        cwd=BENCH, env=env,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(url, "/")
        wrk(url, FLOOR_TOKEN, connections=args.connections, seconds=2)  # warm-up
        return measured(url, FLOOR_TOKEN, server.pid, args)
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_portal(pg: str, args, web_workers: str) -> dict[str, float]:
    database_url = fresh_database(pg, "portal_http")
    extra = ("--web-workers", web_workers) if web_workers != "default" else ()
    proc, url, token = spawn_portal(0, database_url=database_url, extra=extra)
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE projects_project SET max_queued_jobs = 1000000000")
        wrk(url, token, connections=args.connections, seconds=2)  # warm-up
        figures = measured(url, token, proc.pid, args)
        with psycopg.connect(database_url, autocommit=True) as conn:
            figures["stored"] = conn.execute("SELECT count(*) FROM jobs_job").fetchone()[0]
        return figures
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--web-workers", default="default", help="comma-separated runportal --web-workers values")
    args = parser.parse_args()
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/10")
    os.chdir(ROOT)

    env = floor_database(args.pg)
    floor = run_floor(env, args, "gthread")
    rows = [("floor, the portal's server", run_floor(env, args, "portal's"))]
    rows += [(f"portal, --web-workers {w}", run_portal(args.pg, args, w)) for w in args.web_workers.split(",")]
    print(f"\nsubmit_job over HTTP, {args.connections} connections, {args.seconds} s (wrk)")
    print(f"{'server':32} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11} {'req/s ratio':>12} "
          f"{'p99 ratio':>10} {'CPU ratio':>10}")  # fmt: skip
    print(f"{'floor: Django + DRF, gthread 2x4':32} {floor['rps']:8.0f} {floor['p50']:8.1f} {floor['p99']:8.1f} "
          f"{floor['cpu_ms']:11.2f}")  # fmt: skip
    for name, row in rows:
        print(f"{name:32} {row['rps']:8.0f} {row['p50']:8.1f} {row['p99']:8.1f} {row['cpu_ms']:11.2f} "
              f"{row['rps'] / floor['rps']:11.2f}x {row['p99'] / floor['p99']:9.2f}x "
              f"{floor['cpu_ms'] / row['cpu_ms']:9.2f}x")  # fmt: skip
    print("  (goals: req/s >= 0.5x the floor's, p99 <= 2x the floor's; CPU ratio: the floor's CPU a request")
    print("   over the portal's, in the web server's processes)")


if __name__ == "__main__":
    main()
