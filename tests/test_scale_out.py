"""Scale-out as the README describes it: web processes and worker pools started apart (on one machine
here, on several in production), sharing only the database and Redis. Jobs submitted to the web-only
portal are run by both worker pools, each exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from rq import Worker

from jobs import queues
from jobs.models import Job
from tests.factories import BELL, make_tenant
from tests.workers import ROOT, free_port, wait_for, worker_env

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@contextmanager
def runportal(*args: str) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "runportal", *args], cwd=ROOT, env=worker_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, f"runportal {' '.join(args)} exited with {code}"


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).ok
    except requests.RequestException:
        return False


def test_two_worker_pools_and_a_web_only_portal_share_the_work():
    tenant = make_tenant()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (
        runportal("--workers", "0", "--port", str(port), "--web-workers", "1"),
        runportal("--no-web", "--workers", "1"),
        runportal("--no-web", "--workers", "1"),
    ):
        wait_for(lambda: answers(f"{url}/openrpc.json"), timeout=120, what="the web-only portal")
        wait_for(lambda: Worker.count(queue=queues.get_queue(5)) == 2, timeout=120, what="both pools' workers")
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {tenant.token}"
        body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "shots": 10}
        payload = {"jsonrpc": "2.0", "id": 1, "method": "submit_job", "params": {"body": body}}
        ids = [session.post(f"{url}/v1/job/submit_job", json=payload, timeout=30).json()["result"]["job_id"]
               for _ in range(40)]  # fmt: skip
        done = lambda: Job.objects.filter(pk__in=ids, status="COMPLETED").count() == len(ids)  # noqa: E731
        wait_for(done, timeout=180, interval=0.2, what="both pools to run every job")
    jobs = Job.objects.filter(pk__in=ids)
    assert set(jobs.values_list("attempts", flat=True)) == {1}  # none run twice
    assert len(set(jobs.values_list("worker_name", flat=True))) == 2  # one worker per pool, both took jobs
