"""Real RQ workers as subprocesses (``manage.py rqworker``) on the test database and Redis, for the
tests that must kill or time out a job process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """DATABASE_URL of the database this test runs on (pytest-django's test database)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_command(*, burst: bool = True) -> list[str]:
    command = [sys.executable, str(ROOT / "manage.py"), "rqworker", "--worker-class", "jobs.worker.JobWorker"]
    if burst:
        command.append("--burst")
    return [*command, *settings.JOB_QUEUE_NAMES]


def worker_env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "DATABASE_URL": test_database_url(),
        # settings_test moves whatever REDIS_URL says to the tests' Redis database
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONUNBUFFERED": "1",
    }


def run_burst_worker(timeout: float) -> subprocess.CompletedProcess:
    """Run a forking JobWorker until the queues are empty; fails the test if it takes over ``timeout``."""
    return subprocess.run(worker_command(), cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=timeout)


def read_events(response, into: list) -> None:
    """Parse a text/event-stream into (event, data) pairs and keep-alive comments, until it closes."""
    import json

    import requests

    event = None
    try:
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith(":"):
                into.append(("comment", line))
            elif line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                into.append((event, json.loads(line[len("data: ") :])))
    except (requests.RequestException, AttributeError):
        pass  # the test closed the response under this reader (http.client then reads from None): it ended


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def start_worker_process() -> subprocess.Popen:
    """A long-running forking JobWorker in its own process group, reporting liveness every second."""
    env = {**worker_env(), "WORKER_HEARTBEAT_INTERVAL": "1"}
    return subprocess.Popen(
        worker_command(burst=False), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        process_group=0,
    )  # fmt: skip


def stop_worker_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def portal_server(**env: str) -> Iterator[str]:
    """The portal's ASGI application under uvicorn (as runportal serves it) on the test database and
    Redis; yields its base URL once it answers. ``env`` adds settings (RATE_LIMIT="0", ...)."""
    import requests

    port = free_port()
    env = {**worker_env(), **env}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # a test process's own escape hatch, never the server's
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{url}/openrpc.json", timeout=5).ok
        except requests.RequestException:
            return False

    try:
        wait_for(up, timeout=60, what="uvicorn to answer")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # streams still draining: this is teardown, not a shutdown test
            proc.kill()
            proc.wait(timeout=10)
