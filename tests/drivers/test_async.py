"""A device whose results come later (results_fetch_mode async): the whole path, from submit
through the worker's hand-off to set_job_results from the device's side."""

from __future__ import annotations

import django_rq
import pytest

from backends.models import Backend
from drivers.async_example import SUBMITTED_KEY
from tests.conftest import error_of, result_of
from tests.factories import BELL, make_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def device():
    return Backend.objects.create(name="async_device", driver="async_example", code_types=["qasm", "qasm2"])


def test_async_device_full_path(rpc, tenant, device, run_worker):
    """Submit -> the worker hands the job to the device and leaves it RUNNING -> the device posts
    results with a driver token -> COMPLETED with those results; the job never runs twice."""
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "async_device"}
    job = result_of(rpc("submit_job", {"body": body}, who=tenant))
    run_worker()
    status = result_of(rpc("get_job_status", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert status["job_status"] == "RUNNING"
    assert status["started_at"] is not None

    handed_off = django_rq.get_connection("default").lpop(SUBMITTED_KEY).decode()
    assert handed_off == job["job_id"]
    driver = make_tenant(scope="driver")
    body = {"job_id": handed_off, "results": [{"results": {"00": 498, "11": 502}, "num_qubits": 2,
                                                "metadata": {"device_job": "dev-42"}}]}  # fmt: skip
    answer = result_of(rpc("set_job_results", {"body": body}, who=driver))
    assert answer == {"job_id": job["job_id"], "backend": "async_device", "job_status": "COMPLETED"}

    results = result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))
    entry = results["results"][0]
    assert entry["results"] == {"00": 498, "11": 502}
    assert entry["metadata"]["results_fetch_mode"] == "async"
    assert entry["metadata"]["device_job"] == "dev-42"
    assert results["progress"] == 100
    assert error_of(rpc("set_job_results", {"body": body}, who=driver))["code"] == -409


def test_async_device_reports_async_fetch_mode(rpc, tenant, device):
    """get_backends tells clients that the device answers later."""
    backends = {b["name"]: b for b in result_of(rpc("get_backends", {}, who=tenant))}
    assert backends["async_device"]["results_fetch_mode"] == "async"


def test_dry_run_on_async_device_completes_locally(rpc, tenant, device, run_worker):
    """A dry run never reaches the device: it completes at once with sampled counts."""
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "async_device", "dry_run": True}
    job = result_of(rpc("submit_job", {"body": body}, who=tenant))
    run_worker()
    results = result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert results["job_status"] == "COMPLETED"
    assert results["results"][0]["metadata"]["dry_run"] is True
    assert django_rq.get_connection("default").llen(SUBMITTED_KEY) == 0
