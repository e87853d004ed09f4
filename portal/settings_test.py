"""Test settings: production's, with queues on a Redis database of the test run's own.

Each test run claims a free database (15 down to 8) with a lock key holding its pid, so a test run
never touches the queues of a portal on the same server, nor of another test run at the same time.
Subprocesses a test starts (workers, servers) get TEST_REDIS_DB and use the same database.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

from portal import embedded_redis
from portal.embedded_redis import pid_alive
from portal.settings import *  # noqa: F403
from portal.settings import BASE_DIR, EMBEDDED_REDIS, QUEUE_NAMES, REDIS_URL

_LOCK = "portal:test-run"


def _with_db(url: str, db: int) -> str:
    if url.startswith("unix://"):
        return url.split("?", 1)[0] + f"?db={db}"
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


def release_db(client: redis.Redis) -> None:
    """Give the claimed database back (at the end of the session, or at exit)."""
    try:
        client.delete(_LOCK)
    except (redis.RedisError, OSError):
        pass  # the server has gone already: so has the claim


def _claim_db() -> int:
    for db in range(15, 7, -1):
        client = redis.Redis.from_url(_with_db(REDIS_URL, db))
        holder = client.get(_LOCK)
        if holder is not None and pid_alive(int(holder)):
            continue
        if holder is not None:
            client.delete(_LOCK)  # left by a run that was killed
        if client.set(_LOCK, os.getpid(), nx=True, ex=6 * 3600):
            atexit.register(release_db, client)
            return db
    raise RuntimeError("every test Redis database (8-15) is in use by a running test run")


if EMBEDDED_REDIS and not os.environ.get("TEST_REDIS_DB"):
    # The test run's own lease on the embedded Redis, taken here because claiming a database needs the
    # server before any fixture runs; given back at the end of the session (tests/conftest.py) or exit.
    embedded_redis.acquire(BASE_DIR)
if not os.environ.get("TEST_REDIS_DB"):  # the test run itself: metrics of its own, gone with it
    METRICS_DIR = Path(tempfile.mkdtemp(prefix="portal-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)
    atexit.register(shutil.rmtree, METRICS_DIR, True)
TEST_REDIS_DB = int(os.environ.get("TEST_REDIS_DB") or _claim_db())
os.environ["TEST_REDIS_DB"] = str(TEST_REDIS_DB)  # inherited by the workers and servers tests start
REDIS_URL = _with_db(REDIS_URL, TEST_REDIS_DB)
RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600} for name in QUEUE_NAMES}
RQ_QUEUES["default"] = {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed: tests create many users

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # One file per test run, so two runs at once (developers, CI) never delete each other's database.
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), f"portal-test-{os.getpid()}.sqlite3")}  # noqa: F405
else:
    # One database per claimed Redis database, for the same reason.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{TEST_REDIS_DB}"}  # noqa: F405

# A driver that holds a job running on command, for the crash-recovery tests.
DRIVER_MODULES = [*DRIVER_MODULES, "tests.sleepy_driver", "tests.hostile_driver"]  # noqa: F405
