"""The backend as each job's run found it (IBM's ``properties()``): recorded when a worker starts the
job, once per distinct configuration, answered by get_job_results."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backends.models import Backend, BackendSnapshot
from jobs.services import job_start
from tests.conftest import result_of
from tests.factories import complete, submit_bell

pytestmark = pytest.mark.django_db


def properties(rpc, tenant, job_id):
    return result_of(rpc("get_job_results", {"body": {"job_id": str(job_id)}}, who=tenant))["backend_properties"]


def test_a_job_records_the_backend_it_ran_on(rpc, tenant):
    queued = submit_bell(tenant, backend="aer_noisy")
    assert properties(rpc, tenant, queued.job_id) is None  # not run yet
    job = complete(queued)
    recorded = properties(rpc, tenant, job.job_id)
    assert recorded["name"] == "aer_noisy" and recorded["basis_gates"] == ["cx", "id", "rz", "sx", "x"]
    assert recorded["coupling_map"] is None and recorded["options"]["noise"] == "device_like"
    assert recorded["driver_properties"]["depolarizing_error_2q"] == 0.01
    assert len(recorded["config_hash"]) == 64


def test_one_snapshot_per_configuration_and_an_old_job_keeps_its_own(rpc, tenant):
    first, second = complete(submit_bell(tenant)), complete(submit_bell(tenant))
    assert BackendSnapshot.objects.count() == 1
    Backend.objects.filter(name="dummy").update(coupling_map=[[0, 1], [1, 0]], basis_gates=["cx", "rz", "sx"])
    third = complete(submit_bell(tenant))
    assert BackendSnapshot.objects.count() == 2
    before, after = properties(rpc, tenant, second.job_id), properties(rpc, tenant, third.job_id)
    assert properties(rpc, tenant, first.job_id) == before
    assert (before["coupling_map"], after["coupling_map"]) == (None, [[0, 1], [1, 0]])
    assert before["config_hash"] != after["config_hash"]


def test_a_known_configuration_costs_a_start_no_query(tenant):
    """After the first job of a configuration, a start refers to its snapshot inside its own UPDATE."""
    complete(submit_bell(tenant))
    job = submit_bell(tenant)
    with CaptureQueriesContext(connection) as queries:
        job_start(job_id=job.job_id)
    # Only inside the job's own UPDATE (on PostgreSQL, the statement that holds it and its event).
    separate = [
        q["sql"] for q in queries if "backends_backendsnapshot" in q["sql"] and 'UPDATE "jobs_job"' not in q["sql"]
    ]
    assert separate == []


def test_a_snapshot_gone_behind_a_process_back_is_a_null_not_an_error(tenant):
    """A process that believes a snapshot stored (another test run's, a flushed database) starts the job
    anyway; the job records no snapshot rather than failing."""
    complete(submit_bell(tenant))
    BackendSnapshot.objects.all().delete()
    job = complete(submit_bell(tenant))
    assert job.status == "COMPLETED" and job.backend_snapshot_id is None
