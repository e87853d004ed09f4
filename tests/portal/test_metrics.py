"""Prometheus metrics at /metrics: for staff tokens and the configured networks only, read with
prometheus_client's own parser, summed over every process (a real forking worker's counts included)."""

from __future__ import annotations

import ipaddress

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobs.models import Job
from jobs.services import jobs_reconcile
from tests.conftest import result_of
from tests.factories import make_tenant
from tests.workers import wait_for

pytestmark = pytest.mark.django_db


def scrape(client, who=None, **extra) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics", **(who.auth if who else {}), **extra)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_only_staff_and_the_configured_networks_may_scrape(client, tenant, settings):
    staff = make_tenant(staff=True)
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", **tenant.auth).status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nonsense").status_code == 404
    assert client.get("/metrics", **staff.auth).status_code == 200
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.1.0.0/16")]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 404
    assert client.post("/metrics", **staff.auth).status_code == 405


def test_jobs_queues_and_stages_are_counted(client, rpc, submit, tenant, run_worker):
    staff = make_tenant(staff=True)
    before = scrape(client, staff)
    done = submit(tenant, backend="aer_simulator")
    queued = submit(tenant, job_priority=2)
    Job.objects.filter(pk=queued["job_id"]).update(backend_id=Job.objects.get(pk=done["job_id"]).backend_id)
    mid = scrape(client, staff)
    assert value(mid, "portal_jobs", backend="aer_simulator", status="QUEUED") == 2
    assert value(mid, "portal_queue_depth", backend="aer_simulator", priority="2") == 1
    assert value(mid, "portal_redis_queue_depth", priority="5") == 1
    assert value(mid, "portal_redis_up") == 1 and value(mid, "portal_workers") == 0
    accepted = "portal_submit_seconds_count"
    assert value(mid, accepted, outcome="accepted") - value(before, accepted, outcome="accepted") == 2
    run_worker()
    after = scrape(client, staff)
    completed = "portal_job_status_changes_total"
    assert value(after, completed, status="COMPLETED") - value(before, completed, status="COMPLETED") == 2
    runs = "portal_stage_seconds_count"
    assert value(after, runs, driver="aer", stage="run") - value(before, runs, driver="aer", stage="run") == 2
    assert value(after, "portal_jobs_ended_last_hour", backend="aer_simulator", status="COMPLETED") == 2
    assert value(after, "portal_jobs", backend="aer_simulator", status="QUEUED") == 0


def test_a_refused_submit_is_timed_as_refused(client, rpc, tenant):
    staff = make_tenant(staff=True)
    before = value(scrape(client, staff), "portal_submit_seconds_count", outcome="refused")
    body = {"code_type": "qasm2", "source_code": ["not qasm"], "backend": "nope"}
    rpc("submit_job", {"body": body}, who=tenant)
    assert value(scrape(client, staff), "portal_submit_seconds_count", outcome="refused") == before + 1


def test_reconcile_repairs_are_counted(client, submit, tenant, django_capture_on_commit_callbacks):
    from jobs import queues

    staff = make_tenant(staff=True)
    before = value(scrape(client, staff), "portal_reconcile_repairs_total", kind="enqueued_missing")
    submit(tenant)
    queues.connection().flushdb()  # Redis lost the job
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_reconcile(queued_grace=0)["enqueued_missing"] == 1
    after = value(scrape(client, staff), "portal_reconcile_repairs_total", kind="enqueued_missing")
    assert after == before + 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the worker reads committed rows
def test_a_forking_workers_counts_are_summed_in(client, rpc, submit, tenant, start_worker):
    """The worker is another process: its counts reach /metrics through the multiprocess files."""
    staff = make_tenant(staff=True)
    runs = "portal_stage_seconds_count"
    before = value(scrape(client, staff), runs, driver="aer", stage="run")
    start_worker()
    job = submit(tenant)
    wait_for(
        lambda: result_of(rpc("get_job_status", {"body": {"job_id": job["job_id"]}}, who=tenant))["job_status"]
        == "COMPLETED",
        timeout=60, what="the worker runs the job",
    )  # fmt: skip
    after = scrape(client, staff)
    assert value(after, runs, driver="aer", stage="run") == before + 1
    assert value(after, "portal_workers") == 1


def test_callback_outcomes_are_counted(client, submit, tenant):
    from tests.webhooks.conftest import hook, run_callbacks

    staff = make_tenant(staff=True)
    before = value(scrape(client, staff), "portal_callback_attempts_total", outcome="refused")
    submit(tenant, callbacks=[hook("http://169.254.169.254/latest/meta-data", type="status")])
    run_callbacks()
    assert value(scrape(client, staff), "portal_callback_attempts_total", outcome="refused") == before + 1
