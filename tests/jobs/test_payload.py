"""A job's input given back (IQM's GetJobPayloadV1): JSON-RPC get_job_payload, and the REST and web
downloads, which stream it out of the stored blob."""

from __future__ import annotations

import json

import pytest

from jobs.models import Job
from jobs.presenters import PAYLOAD_CHUNK, job_payload_stream
from jobs.services import jobs_delete
from tests.conftest import error_of, result_of
from tests.factories import BELL, XX, make_tenant

pytestmark = pytest.mark.django_db


def payload(rpc, who, job_id):
    return rpc("get_job_payload", {"body": {"job_id": job_id}}, who=who)


@pytest.mark.parametrize("level", [0, 9])
def test_get_job_payload_gives_back_the_source_and_run_options(rpc, submit, tenant, level):
    job = submit(
        tenant, source_code=[BELL, XX], shots=321, code_compress_level=level, driver_options={"seed_simulator": 5},
        transpiler="none",
    )  # fmt: skip
    answer = result_of(payload(rpc, tenant, job["job_id"]))
    assert answer == {
        "job_id": job["job_id"], "backend": "dummy", "code_type": "qasm2", "shots": 321, "job_type": "",
        "dry_run": False, "transpiler": "none", "transpiler_options": None, "driver_options": {"seed_simulator": 5},
        "enable_circuit_aggregation": False, "source_code": [BELL, XX],
    }  # fmt: skip


def test_the_rest_and_web_downloads_stream_the_same_payload(rpc, submit, tenant, api, client):
    matrix = [[float(i * j % 7) for j in range(200)] for i in range(200)]
    job = submit(tenant, code_type="qubo", backend="qubo_sa", source_code=[matrix, matrix], code_compress_level=6)
    expected = result_of(payload(rpc, tenant, job["job_id"]))
    response = api("get", f"/api/v1/jobs/{job['job_id']}/payload/", who=tenant)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.streaming
    assert response.json() == expected
    client.force_login(tenant.user)
    download = client.get(f"/jobs/{job['job_id']}/payload.json")
    assert download["Content-Disposition"].startswith("attachment")
    assert json.loads(b"".join(download.streaming_content)) == expected
    assert f'href="/jobs/{job["job_id"]}/payload.json"' in client.get(f"/jobs/{job['job_id']}/").content.decode()


def test_a_large_input_streams_in_bounded_chunks(tenant, submit):
    """8 MB of source that compresses to almost nothing: no piece of the stream is over the chunk size."""
    source = BELL + "// " + "x" * 8_000_000 + "\n"
    job = Job.objects.get(pk=submit(tenant, source_code=[source], code_compress_level=9)["job_id"])
    assert len(job.source_blob) < 100_000
    pieces = list(job_payload_stream(job))
    assert max(len(piece) for piece in pieces) <= PAYLOAD_CHUNK
    assert json.loads(b"".join(pieces))["source_code"] == [source]


def test_another_tenants_payload_is_not_found_and_a_deleted_one_has_no_source(rpc, submit, tenant, api):
    job = submit(tenant)
    stranger = make_tenant()
    assert error_of(payload(rpc, stranger, job["job_id"]))["code"] == -404
    assert api("get", f"/api/v1/jobs/{job['job_id']}/payload/", who=stranger).status_code == 404
    jobs_delete(user=tenant.user, job_ids=[job["job_id"]])
    assert result_of(payload(rpc, tenant, job["job_id"]))["source_code"] is None
    response = api("get", f"/api/v1/jobs/{job['job_id']}/payload/", who=tenant)
    assert response.json()["source_code"] is None


def test_results_stream_an_entry_at_a_time_and_memory_as_stored_text(rpc, submit, tenant, run_worker, api):
    """REST's results are get_job_results' answer, streamed; per-shot memory is copied from the database's
    JSON text, never read into Python objects (no query loads the memory column)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    job = submit(tenant, source_code=[BELL, XX], shots=300, driver_options={"memory": True}, backend="aer_simulator")
    run_worker()
    expected = result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))
    with CaptureQueriesContext(connection) as queries:
        response = api("get", f"/api/v1/jobs/{job['job_id']}/results/", who=tenant)
    assert response.json() == expected
    assert len(expected["results"][0]["memory"]) == 300 and set(expected["results"][1]["memory"]) == {"11"}
    entry_reads = [q["sql"] for q in queries if 'FROM "jobs_jobresult"' in q["sql"]]
    assert entry_reads and all('"jobs_jobresult"."memory",' not in sql for sql in entry_reads)
