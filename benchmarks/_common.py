"""What several benchmarks share: timing a call, and the portal a benchmark over HTTP runs against.

Not a benchmark itself. The scripts import it as ``_common``: run as ``python benchmarks/bench_x.py``,
a script's own folder is on ``sys.path``. Standard library and ``requests`` only, so it may be
imported before ``django.setup()``.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def timed(call: Callable[[], object]) -> float:
    """Wall seconds of one ``call()``."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def fresh_database(pg: str, name: str) -> str:
    """The URL of database ``name`` on the PostgreSQL server ``pg``, made anew (empty)."""
    import psycopg  # the benchmarks on PostgreSQL only

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{pg}/{name}"


def postgres_cpu_seconds() -> float:
    """CPU used so far by the PostgreSQL server on this machine, the backends that have ended included
    (the postmaster's reaped children): a benchmark on PostgreSQL counts its database's work too."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        if name.startswith("postgres"):
            total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / tick


# --- a portal over HTTP ----------------------------------------------------------------------------


def add_portal_arguments(parser: argparse.ArgumentParser) -> None:
    """``--url``/``--token`` of a running portal, or ``--spawn`` (with ``--workers``) for one of its own."""
    parser.add_argument("--url")
    parser.add_argument("--token", help="the API token (default: $PORTAL_TOKEN)")
    parser.add_argument("--spawn", action="store_true", help="start a runportal of its own on a temp database")
    parser.add_argument("--workers", type=int, default=2)


@contextmanager
def portal_from_args(args: argparse.Namespace) -> Iterator[tuple[str, str | None]]:
    """The URL and token of the portal ``add_portal_arguments``' options name; a spawned one is stopped
    on leaving."""
    if not args.spawn:
        yield args.url.rstrip("/"), args.token or os.environ.get("PORTAL_TOKEN")
        return
    proc, url, token = spawn_portal(args.workers)
    try:
        yield url, token
    finally:
        proc.send_signal(signal.SIGTERM)  # runportal stops the same on SIGTERM as on Ctrl-C
        proc.wait(timeout=60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn_portal(
    workers: int, *, database_url: str | None = None, extra: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, str, str]:
    """A ``runportal`` on a new database (a temporary SQLite file unless ``database_url``), with
    ``extra`` arguments; (its process, its URL, the demo project's token)."""
    tmp = tempfile.mkdtemp(prefix="portal-bench-")
    port = free_port()
    database_url = database_url or f"sqlite:///{tmp}/bench.sqlite3"
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    env.setdefault("RATE_LIMIT", "0")  # measure the portal, not the per-token limit
    if "REDIS_URL" in os.environ:
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    command = [sys.executable, str(ROOT / "manage.py"), "runportal", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(
        [*command, *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    token = None
    for line in proc.stdout:
        match = re.search(r"demo API token:\s+(\S+)", line)
        if match:
            token = match.group(1)
        credentials = ROOT / line.strip()
        if token is None and credentials.name.startswith("first-start-credentials") and credentials.is_file():
            # Not a terminal, so runportal wrote the first start's credentials to an owner-only file.
            match = re.search(r"demo API token:\s+(\S+)", credentials.read_text())
            token = match.group(1) if match else None
            credentials.unlink()
        if "Press Ctrl-C" in line:
            break
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/openrpc.json", timeout=10).ok:
                break
        except requests.RequestException:
            time.sleep(0.2)
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc, url, token
