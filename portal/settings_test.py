"""Test settings: the same as production's, but queues on their own Redis database so a test run
never touches the queues of a portal running against the same server."""

from urllib.parse import urlsplit, urlunsplit

from portal.settings import *  # noqa: F403
from portal.settings import CALLBACK_QUEUE_NAME, EMBEDDED_REDIS, JOB_QUEUE_NAMES, REDIS_URL

TEST_REDIS_DB = 15


def _with_db(url: str, db: int) -> str:
    if url.startswith("unix://"):
        return url.split("?", 1)[0] + f"?db={db}"
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


REDIS_URL = _with_db(REDIS_URL, TEST_REDIS_DB)
RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600} for name in [*JOB_QUEUE_NAMES, CALLBACK_QUEUE_NAME]}
RQ_QUEUES["default"] = {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600}
EMBEDDED_REDIS = EMBEDDED_REDIS
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed: tests create many users

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # One file per test run, so two runs at once (developers, CI) never delete each other's database.
    import os
    import tempfile

    DATABASES["default"]["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), f"portal-test-{os.getpid()}.sqlite3")}  # noqa: F405

# A driver that holds a job running on command, for the crash-recovery tests.
DRIVER_MODULES = [*DRIVER_MODULES, "tests.sleepy_driver"]  # noqa: F405
