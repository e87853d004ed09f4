"""The embedded Redis lives only as long as something uses it (issue 18): a copy of the project with
nothing configured, driven the way a new user drives it, leaves no redis-server behind."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from portal import embedded_redis

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SKIPPED = {".venv", "var", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules", "db.sqlite3"}


def wait_until(condition: Callable[[], bool], seconds: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.05)


def processes_of(folder: Path) -> list[psutil.Process]:
    """The folder's redis-server and its watchdog, by their command lines."""
    marks = (str(embedded_redis.socket_path(folder)), f"embedded_redis watch {folder}")
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if any(mark in line for mark in marks):
            found.append(proc)
    return found


def servers_of(folder: Path) -> list[psutil.Process]:
    return [p for p in processes_of(folder) if "redis-server" in " ".join(p.cmdline())]


@pytest.fixture
def folder(tmp_path) -> Path:
    """A fresh copy of the project: no var/, no database, no REDIS_URL."""
    copy = tmp_path / "portal"
    shutil.copytree(ROOT, copy, ignore=lambda _dir, names: [n for n in names if n in SKIPPED])
    yield copy
    for proc in processes_of(copy):  # a failed test must not leave its server running either
        proc.kill()


def env() -> dict[str, str]:
    """A new user's environment: none of the test run's settings."""
    keep = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL", "TEST_REDIS_DB"}}
    keep.pop("DJANGO_SETTINGS_MODULE", None)
    return keep


def manage(folder: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=folder, env=env(), capture_output=True, text=True, timeout=timeout
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def runportal(folder: Path, *args: str) -> subprocess.Popen:
    """``runportal`` started in ``folder``, once it says it is up (its banner's last line)."""
    proc = subprocess.Popen(
        [PYTHON, "manage.py", "runportal", "--port", str(free_port()), *args],
        cwd=folder, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen = []
    deadline = time.monotonic() + 120
    while not any("Press Ctrl-C to stop." in line for line in seen):
        assert time.monotonic() < deadline and proc.poll() is None, "".join(seen)
        try:
            seen.append(lines.get(timeout=1))
        except queue.Empty:
            pass
    return proc


def stop(proc: subprocess.Popen, sig: int) -> None:
    proc.send_signal(sig)
    proc.wait(timeout=60)


def test_a_management_command_that_needs_no_queue_starts_nothing(folder):
    run = manage(folder, "check")
    assert run.returncode == 0, run.stderr
    assert processes_of(folder) == []
    assert not embedded_redis.redis_dir(folder).exists() or not embedded_redis.is_running(folder)


def test_a_command_that_needs_the_queue_runs_it_for_its_own_duration(folder):
    assert manage(folder, "migrate", "--verbosity", "0").returncode == 0
    run = manage(folder, "reconcile_jobs")
    assert run.returncode == 0, run.stderr
    assert "enqueued_missing" in run.stdout  # it reached Redis
    wait_until(lambda: processes_of(folder) == [], 10, "the command's Redis stops with it")


@pytest.mark.parametrize(("sig", "flags"), [(signal.SIGTERM, ()), (signal.SIGINT, ("--no-web", "--workers", "1"))])
def test_runportal_stops_its_redis_when_it_stops(folder, sig, flags):
    proc = runportal(folder, *flags)
    assert len(servers_of(folder)) == 1
    stop(proc, sig)
    assert proc.returncode == 0
    wait_until(lambda: processes_of(folder) == [], 10, "no redis-server of the folder is left")


def test_two_runportals_share_one_redis_and_the_last_to_stop_stops_it(folder):
    first = runportal(folder, "--no-web", "--workers", "1")
    second = runportal(folder, "--no-web", "--workers", "1")
    assert len(servers_of(folder)) == 1
    stop(first, signal.SIGTERM)
    assert len(servers_of(folder)) == 1 and embedded_redis.is_running(folder)
    stop(second, signal.SIGTERM)
    wait_until(lambda: processes_of(folder) == [], 10, "the last runportal stops the Redis")


HOLDER = "import sys, time; from pathlib import Path; from portal import embedded_redis; embedded_redis.acquire(Path('.')); print('up', flush=True); time.sleep(600)"  # noqa: E501


def holder(folder: Path) -> subprocess.Popen:
    """A process of the folder using its Redis (it takes a lease, as any user does)."""
    proc = subprocess.Popen([PYTHON, "-c", HOLDER], cwd=folder, env=env(), stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "up"
    return proc


def test_a_server_whose_users_were_killed_stops_by_itself(folder):
    proc = holder(folder)
    assert len(servers_of(folder)) == 1
    proc.kill()  # no chance to give its lease back
    proc.wait()
    wait_until(lambda: processes_of(folder) == [], 15, "the watchdog drops the dead lease and stops the server")


def test_a_server_whose_folder_is_gone_exits_by_itself(folder):
    proc = holder(folder)
    try:
        assert len(servers_of(folder)) == 1
        shutil.rmtree(folder)
        wait_until(lambda: processes_of(folder) == [], 15, "the server of a deleted folder exits")
    finally:
        proc.kill()


def test_a_test_run_leaves_no_redis_behind(folder):
    run = subprocess.run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/core/test_redis.py"],
        cwd=folder, env=env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    wait_until(lambda: processes_of(folder) == [], 10, "the test run's Redis stops with it")


def test_runportal_stopped_while_it_starts_stops_its_redis_too(folder):
    """SIGTERM before the supervisor runs (here: as soon as the Redis answers, during migrate) still
    stops cleanly."""
    proc = subprocess.Popen(
        [PYTHON, "manage.py", "runportal", "--port", str(free_port()), "--no-web", "--workers", "1"],
        cwd=folder, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_until(lambda: servers_of(folder) or proc.poll() is not None, 120, "runportal starts its Redis")
    stop(proc, signal.SIGTERM)
    assert proc.returncode == 0
    wait_until(lambda: processes_of(folder) == [], 10, "no redis-server of the folder is left")
