"""Fixtures: a JSON-RPC caller over Django's test client, real Redis queues, an in-process worker."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import django_rq
import pytest
from django.conf import settings
from django.utils import timezone
from redis.client import Pipeline
from rq import SimpleWorker

from backends.services import forget_snapshots
from core.redis import client as redis_client
from jobs import estimates, queues
from tests.factories import Tenant, make_project, make_tenant


@pytest.fixture(scope="session", autouse=True)
def embedded_redis_lease():
    """The test run gives back its database and its lease on the embedded Redis (taken by the test
    settings) when the session ends, so the last user of the server stops it: a test run leaves no
    redis-server behind."""
    yield
    if settings.EMBEDDED_REDIS:
        from portal import embedded_redis
        from portal.settings_test import release_db

        release_db(redis_client())
        embedded_redis.release(settings.BASE_DIR)


@pytest.fixture(autouse=True)
def clean_redis():
    """Every test starts with empty queues (the test settings give tests their own Redis database), and
    with no run statistics kept from an earlier test's jobs (jobs.estimates)."""

    from portal.settings_test import _LOCK

    connection = django_rq.get_connection(queues.queue_name(1))
    connection.flushdb()
    connection.set(_LOCK, os.getpid(), ex=6 * 3600)  # the test run still holds its database
    estimates.forget()
    forget_snapshots()
    yield


@pytest.fixture
def redis_pipelines(monkeypatch) -> list[list[str]]:
    """The command names of each Redis pipeline the test's own thread executes (not a background
    thread's: the request counts' flush sends one of its own once a second)."""
    executed: list[list[str]] = []
    real_execute = Pipeline.execute
    me = threading.get_ident()

    def execute(pipe, *args, **kwargs):
        if threading.get_ident() == me:
            executed.append([command[0][0] for command in pipe.command_stack])
        return real_execute(pipe, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "execute", execute)
    return executed


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant()


@pytest.fixture
def other_tenant(db) -> Tenant:
    """A user of another project: none of ``tenant``'s jobs may be reachable for them."""
    return make_tenant(project=make_project())


@pytest.fixture
def staff(db) -> Tenant:
    return make_tenant(staff=True)


@pytest.fixture
def api(django_capture_on_commit_callbacks) -> Callable[..., Any]:
    """Call the REST API as ``who`` (its Bearer token) or with a raw ``token``; on-commit callbacks
    (enqueueing) run as after a commit."""
    from rest_framework.test import APIClient

    def call(method, path, body=None, *, who=None, token=None, params=None, **extra):
        client = APIClient()
        if who is not None:
            client.credentials(**who.auth)
        elif token is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        with django_capture_on_commit_callbacks(execute=True):
            if method == "get":
                response = client.get(path, params, **extra)
            else:
                response = getattr(client, method)(path, body, format="json", **extra)
        if response.streaming:  # results and payloads are streamed: read whole here, once
            streamed = response.getvalue()
            response.json = lambda **kwargs: json.loads(streamed, **kwargs)
        return response

    return call


def rest_error_of(response, status: int) -> dict[str, Any]:
    """The REST error answer's ``error`` object, checked to be the one envelope with ``status``."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "error_code", "message", "data"}
    return body["error"]


@pytest.fixture
def operator(client):
    """A staff user, signed in on the test client (admin and the ops pages)."""
    from tests.factories import make_user

    user = make_user(staff=True)  # user_create makes staff superusers
    client.force_login(user)
    return user


@pytest.fixture
def rpc(client, django_capture_on_commit_callbacks) -> Callable[..., Any]:
    """Call a JSON-RPC method as ``who``; returns the decoded response object.

    On-commit callbacks (enqueueing) run as they would after a real commit.
    """

    def call(method: str, params: Any = None, *, who: Tenant | None = None, url: str | None = None, id: Any = 1):
        payload: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id}
        if params is not None:
            payload["params"] = params
        headers = who.auth if who else {}
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                url or f"/v1/job/{method}", json.dumps(payload), content_type="application/json", **headers
            )
        assert response.status_code == 200, response.content
        return response.json()

    return call


@pytest.fixture
def post_raw(client, django_capture_on_commit_callbacks):
    """POST a raw body to the JSON-RPC endpoint; returns the HttpResponse."""

    def post(body: str | bytes, *, who: Tenant | None = None, url: str = "/v1/job/", **extra):
        headers = who.auth if who else {}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, body, content_type="application/json", **headers, **extra)

    return post


@pytest.fixture
def run_worker(django_capture_on_commit_callbacks) -> Callable[[], int]:
    """Run a real RQ worker in this process (SimpleWorker, burst) until the job queues are empty; it
    dequeues as the portal's workers do (``queues.JobQueue``). Its writes' commit hooks run as after
    its commits (its events, its drawings' push), so none is left for a later write to join."""

    def work() -> int:
        worker = SimpleWorker(queues.job_queues(), connection=queues.connection(), queue_class=queues.JobQueue)
        with django_capture_on_commit_callbacks(execute=True):
            worker.work(burst=True)
        return worker.successful_job_count

    return work


@pytest.fixture
def run_drawings(django_capture_on_commit_callbacks) -> Callable[[], int]:
    """Run the circuit-drawing tasks waiting in Redis, as a portal worker does when no job waits;
    answers how many it ran."""

    def work() -> int:
        name = settings.DRAWING_QUEUE_NAME
        queue = django_rq.get_queue(name, connection=redis_client(name))
        waiting = queue.count
        with django_capture_on_commit_callbacks(execute=True):
            SimpleWorker([queue], connection=queue.connection, queue_class=queues.JobQueue).work(burst=True)
        assert queue.count == 0
        return waiting

    return work


def result_of(response: dict[str, Any]) -> Any:
    assert "error" not in response, response
    return response["result"]


def error_of(response: dict[str, Any]) -> dict[str, Any]:
    assert "result" not in response, response
    return response["error"]


@pytest.fixture
def submit(rpc) -> Callable[..., dict[str, Any]]:
    """Submit a Bell job (fields overridable) as ``who``; returns the job as answered."""

    def submit_job(who: Tenant, **fields: Any) -> dict[str, Any]:
        from tests.factories import BELL

        body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "shots": 100, **fields}
        return result_of(rpc("submit_job", {"body": body}, who=who))

    return submit_job


@pytest.fixture
def start_worker():
    """Start real forking JobWorkers as subprocesses; they are killed after the test."""
    from tests.workers import start_worker_process, stop_worker_process

    started = []

    def start():
        started.append(start_worker_process())
        return started[-1]

    yield start
    for proc in started:
        stop_worker_process(proc)


@pytest.fixture
def world(tenant, django_capture_on_commit_callbacks) -> dict[str, Any]:
    """Some of everything, for the admin pages: jobs in several states with results, events, deliveries
    and attempts, keyed by model label."""
    from backends.models import Backend
    from backends.services import timeslot_book
    from jobs.models import JobEvent, JobResult, Tag
    from projects.models import Membership
    from projects.services import token_create
    from tests.admin_pages import HOOK
    from tests.factories import complete, make_user, submit_bell
    from webhooks.models import CallbackAttempt, CallbackDelivery

    with django_capture_on_commit_callbacks(execute=False):
        queued = submit_bell(tenant, job_name="bell-alpha", tags=["exp1"], callbacks=[HOOK])
        done = complete(submit_bell(tenant, job_name="bell-done"))
    delivery = CallbackDelivery.objects.filter(job=queued).first()
    attempt = CallbackAttempt.objects.create(delivery=delivery, status_code=500, duration=0.2)
    token, _ = token_create(user=tenant.user, project=tenant.project)
    return {
        "tenant": tenant,
        "queued": queued,
        "done": done,
        "projects.user": tenant.user,
        "projects.project": tenant.project,
        "projects.membership": Membership.objects.get(user=tenant.user),
        "projects.apitoken": token,
        "backends.backend": Backend.objects.get(name="dummy"),
        "jobs.tag": Tag.objects.get(name="exp1"),
        "jobs.job": queued,
        "jobs.jobresult": JobResult.objects.filter(job=done).first(),
        "jobs.jobevent": JobEvent.objects.filter(job=done).first(),
        "webhooks.callbackdelivery": delivery,
        "webhooks.callbackattempt": attempt,
        "backends.timeslot": timeslot_book(
            user=make_user(staff=True),
            backend=Backend.objects.get(name="dummy"),
            project=tenant.project,
            start_at=timezone.now() + timedelta(hours=1),
            end_at=timezone.now() + timedelta(hours=2),
        ),  # fmt: skip
    }
