"""JSON-RPC get_backends (seed 000): every backend with its limits and queue length."""

from __future__ import annotations

import json

import pytest

from tests.conftest import result_of

pytestmark = pytest.mark.django_db

# --- get_backends -------------------------------------------------------------------------------


def test_get_backends(rpc, submit, tenant):
    """get_backends reports each backend's status, limits and queue length."""
    submit(tenant)
    backends = {b["name"]: b for b in result_of(rpc("get_backends", {}, who=tenant))}
    dummy = backends["dummy"]
    assert dummy["status"] == "online"
    assert dummy["code_types"] == ["qasm", "qasm2", "qasm3"]
    assert dummy["queue_length"] == 1
    assert backends["aer_simulator"]["queue_length"] == 0
    for key in ("max_qubits", "max_shots", "max_circuits", "max_variables", "time_limit", "basis_gates",
                "coupling_map", "results_fetch_mode", "description"):  # fmt: skip
        assert key in dummy


def test_submit_dense_1000_variable_qubo(rpc, tenant):
    """A dense 1,000-variable QUBO (about 3 MB of JSON) is accepted and answered as submitted."""
    import numpy as np

    matrix = np.triu(np.random.default_rng(0).integers(-10, 10, size=(1000, 1000))).tolist()
    assert len(json.dumps(matrix)) > 3_000_000
    job = result_of(rpc("submit_job", {"body": {"code_type": "qubo", "source_code": [matrix], "backend": "qubo_sa"}},
                        who=tenant))  # fmt: skip
    assert job["job_status"] == "QUEUED"
    assert job["source_code"] == [matrix]


def test_submit_nan_in_qubo_refused(post_raw, tenant):
    """NaN and Infinity (which Python's JSON parser lets through) are not JSON: a parse error, id null."""
    body = '{"jsonrpc": "2.0", "id": 1, "method": "submit_job", "params": {"body": {"code_type": "qubo", ' \
           '"backend": "qubo_sa", "source_code": [[[1, NaN], [0, Infinity]]]}}}'  # fmt: skip
    answer = post_raw(body, who=tenant, url="/v1/job/submit_job").json()
    assert answer["error"]["code"] == -32700 and answer["id"] is None
    assert "NaN" in answer["error"]["data"]["details"]


def test_a_device_counts_the_jobs_still_to_run(rpc, tenant):
    """QCOS's get_device: a backend's queued and running jobs, by status, with their total."""
    from jobs.services import job_start
    from tests.factories import submit_bell

    first, _ = submit_bell(tenant), submit_bell(tenant)  # no worker runs in this test: they stay queued
    job_start(job_id=first.job_id)
    device = result_of(rpc("get_device", {"body": {"name": "dummy", "details": False}}, who=tenant, url="/v1/device"))
    assert device["job_count"] == {"total": 2, "queued": 1, "running": 1, "cancelling": 0}
    assert device["status"] == "online" and device["details"] is None
