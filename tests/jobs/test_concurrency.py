"""Many clients at once over real HTTP: no submission is lost or duplicated."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from jobs import queues
from jobs.models import Job
from tests.factories import BELL, make_tenant

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def submit_over_http(url: str, token: str, **fields) -> dict:
    """One Bell submit_job over real HTTP; the decoded JSON-RPC answer."""
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "shots": 10, **fields}
    payload = {"jsonrpc": "2.0", "id": 1, "method": "submit_job", "params": {"body": body}}
    response = requests.post(
        f"{url}/v1/job/submit_job", json=payload, timeout=60, headers={"Authorization": f"Bearer {token}"}
    )
    return response.json()


def test_200_concurrent_submits_none_lost(live_server):
    """200 submissions from 16 concurrent clients: 200 answers QUEUED, 200 rows, 200 queue entries."""
    tenant = make_tenant()
    ids = [str(uuid.uuid4()) for _ in range(200)]

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda job_id: submit_over_http(live_server.url, tenant.token, job_id=job_id), ids))
    assert [a.get("error") for a in answers if "error" in a] == []
    assert sorted(a["result"]["job_id"] for a in answers) == sorted(ids)
    assert Job.objects.filter(job_id__in=ids, status="QUEUED").count() == 200
    assert set(ids) - queues.waiting_ids() == set()


def test_concurrent_submits_never_overrun_the_quota(live_server):
    """40 submissions at once into a project that may hold 5 active jobs: exactly 5 are stored, and every
    other one answers -429 quota_exceeded."""
    from projects.models import Project

    tenant = make_tenant()
    Project.objects.filter(pk=tenant.project.pk).update(max_queued_jobs=5)

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: submit_over_http(live_server.url, tenant.token), range(40)))
    stored = [a for a in answers if "result" in a]
    refused = [a["error"]["data"]["error_code"] for a in answers if "error" in a]
    assert len(stored) == 5 and refused == ["quota_exceeded"] * 35
    assert Job.objects.filter(project=tenant.project).count() == 5
