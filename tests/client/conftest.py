"""The client's tests run against a live portal: uvicorn serving the ASGI app (as runportal does) and
a real forking JobWorker, both as subprocesses on the test database and the tests' Redis database.

One portal serves the whole package (starting it costs seconds); its users are made once, and
everything the tests stored is removed at the end so later test modules start clean.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest

from tests.factories import BELL, Tenant, make_project, make_tenant
from tests.workers import portal_server, start_worker_process, stop_worker_process, wait_for


@dataclass
class LivePortal:
    url: str
    alice: Tenant  # a member of project A
    bob: Tenant  # a member of another project
    admin: Tenant  # project A's admin
    staff: Tenant
    capped: Tenant  # alone in a project that may hold one queued job

    def env(self, who: Tenant | None = None) -> dict[str, str]:
        """The environment ``qportal`` reads its portal and token from."""
        return {**os.environ, "PORTAL_URL": self.url, "PORTAL_TOKEN": (who or self.alice).token}


def pytest_collection_modifyitems(items):
    # The portal's processes read what a test stored, so each test commits for real; the flush after
    # it keeps the backends (serialized) and leaves nothing for the next one.
    marker = pytest.mark.django_db(transaction=True, serialized_rollback=True)
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(marker)


@pytest.fixture(scope="package")
def portal_url(django_db_setup):
    # The tests poll and submit far faster than people do; RATE_LIMIT has its own test.
    with portal_server(RATE_LIMIT="0", SSE_KEEPALIVE_SECONDS="2") as url:
        worker = start_worker_process()
        try:
            yield url
        finally:
            stop_worker_process(worker)


@pytest.fixture
def portal(portal_url, transactional_db):
    from projects.models import Role

    alice = make_tenant()
    yield LivePortal(
        url=portal_url,
        alice=alice,
        bob=make_tenant(),
        admin=make_tenant(project=alice.project, role=Role.ADMIN),
        staff=make_tenant(staff=True),
        capped=make_tenant(project=make_project(max_queued_jobs=1)),
    )
    wait_until_the_worker_is_idle()


def wait_until_the_worker_is_idle() -> None:
    """Before the flush after a test: no job the test left queued is started, and the one running ends.
    (A worker writing a job's results while the flush truncates the tables can deadlock PostgreSQL.)"""
    from rq import Worker

    from jobs import queues
    from jobs.models import Job

    for queue in queues.job_queues():
        queue.empty()

    def idle() -> bool:
        return not Job.objects.filter(status__in=["RUNNING", "CANCELLING"]).exists() and all(
            worker.get_state() != "busy" for worker in Worker.all(connection=queues.connection())
        )

    # Twice in a row: a job popped from Redis an instant before is busy (or RUNNING) by the second look.
    wait_for(lambda: idle() and idle(), timeout=60, what="the worker to finish the test's jobs")


@pytest.fixture(autouse=True)
def clean_redis():
    """Overrides the suite's per-test flush: the package's worker is registered in Redis and listening."""
    yield


@pytest.fixture
def api(portal):
    """A PortalClient as alice."""
    from portal_client import PortalClient

    return PortalClient(portal.url, portal.alice.token)


@pytest.fixture
def paused_dummy():
    """The dummy backend paused: its jobs stay QUEUED (the flush after the test restores it)."""
    from backends.models import Backend
    from backends.services import backend_set_status

    backend = Backend.objects.get(name="dummy")
    backend_set_status(backend=backend, status="paused")
    return backend


@pytest.fixture
def busy_worker(api):
    """The package's one worker held busy by a RUNNING job of the sleepy driver (it runs while a Redis
    key says so); answers that job's id. Released at the end of the test."""
    from backends.models import Backend
    from tests.sleepy_driver import hold, release

    Backend.objects.create(name="sleepy", driver="sleepy", code_types=["qasm2"])
    job_id = str(uuid.uuid4())
    hold(job_id)
    api.submit_job(job_id=job_id, code_type="qasm2", source_code=[BELL], backend="sleepy")
    try:
        wait_for(lambda: api.get_job_status(job_id)["job_status"] == "RUNNING", timeout=60, what="the held job")
        yield job_id
    finally:
        release(job_id)
