"""Quotas and limits (SPEC §3, §7): per-project quotas, a per-token rate limit, body and batch caps."""

from __future__ import annotations

import json

import pytest

from tests.conftest import error_of, result_of
from tests.factories import BELL, make_tenant

pytestmark = pytest.mark.django_db


def submit_body(**fields):
    return {"body": {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", **fields}}


def test_project_shot_quota(rpc, tenant):
    """A job over the project's shots per job is -429 quota_exceeded naming the limit."""
    tenant.project.max_shots_per_job = 1000
    tenant.project.save()
    assert result_of(rpc("submit_job", submit_body(shots=1000), who=tenant))["shots"] == 1000
    error = error_of(rpc("submit_job", submit_body(shots=1001), who=tenant))
    assert error["code"] == -429
    assert error["data"]["error_code"] == "quota_exceeded"
    assert error["data"]["limit"] == 1000 and error["data"]["field"] == "shots"


def test_project_entry_quota(rpc, tenant):
    """A job with more entries than the project allows is -429."""
    tenant.project.max_circuits_per_job = 2
    tenant.project.save()
    error = error_of(rpc("submit_job", submit_body(source_code=[BELL] * 3), who=tenant))
    assert error["code"] == -429 and error["data"]["field"] == "source_code"


def test_queued_quota_counts_running_too(rpc, submit, tenant):
    """The active-jobs quota counts QUEUED and RUNNING; a finished job frees its place."""
    from jobs.services import job_finish, job_start

    tenant.project.max_queued_jobs = 2
    tenant.project.save()
    first = submit(tenant)
    submit(tenant)
    job_start(job_id=first["job_id"])
    assert error_of(rpc("submit_job", submit_body(), who=tenant))["code"] == -429
    job_finish(job_id=first["job_id"])  # no entries: it ends FAILED, a final status all the same
    assert "result" in rpc("submit_job", submit_body(), who=tenant)


def test_rate_limit_per_token(rpc, tenant, settings):
    """Over the per-token rate, calls answer -429 rate_limited with retry_after; other tokens go on."""
    settings.RATE_LIMIT_REQUESTS, settings.RATE_LIMIT_WINDOW = 3, 60
    for _ in range(3):
        assert "result" in rpc("get_jobs", {}, who=tenant)
    error = error_of(rpc("get_jobs", {}, who=tenant))
    assert error["code"] == -429
    assert error["data"]["error_code"] == "rate_limited"
    assert 1 <= error["data"]["retry_after"] <= 60
    assert "result" in rpc("get_jobs", {}, who=make_tenant())


def test_rate_limit_counts_each_call_of_a_batch(post_raw, tenant, settings):
    """A batch costs one per call: a batch over the limit is refused call by call."""
    settings.RATE_LIMIT_REQUESTS, settings.RATE_LIMIT_WINDOW = 4, 60
    batch = [{"jsonrpc": "2.0", "method": "get_backends", "id": i} for i in range(5)]
    answers = post_raw(json.dumps(batch), who=tenant).json()
    assert [a["error"]["code"] for a in answers] == [-429] * 5


def test_rate_limit_off(rpc, tenant, settings):
    """RATE_LIMIT=0 turns the limit off."""
    settings.RATE_LIMIT_REQUESTS = 0
    assert all("result" in rpc("get_backends", {}, who=tenant) for _ in range(20))


def test_discover_is_not_rate_limited(rpc, settings):
    """rpc.discover needs no caller, so it counts against nobody."""
    settings.RATE_LIMIT_REQUESTS, settings.RATE_LIMIT_WINDOW = 1, 60
    assert all("result" in rpc("rpc.discover") for _ in range(3))
