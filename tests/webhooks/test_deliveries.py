"""Callbacks (SPEC §6) end to end: real jobs on a real RQ worker, deliveries on a real RQ worker of the
callbacks queue, sent over HTTP to a real receiver on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import django_rq
import pytest
from django.conf import settings
from redis import RedisError

from jobs import presenters
from jobs.models import Job, JobEvent
from jobs.services import JobSpec, job_submit
from tests.conftest import error_of, result_of
from tests.factories import BELL
from tests.webhooks.conftest import (
    Receiver,
    attempts,
    callbacks_allowed_to,
    deliveries,
    hook,
    run_callbacks,
)
from webhooks import deliveries as owed
from webhooks import sending, tasks
from webhooks.models import CallbackDelivery


@pytest.fixture(autouse=True)
def callback_settings(settings):
    """Loopback allowed explicitly (not through DEBUG)."""
    return callbacks_allowed_to(settings, ["127.0.0.0/8"])


# --- Results callbacks ----------------------------------------------------------------------------


def test_completed_job_posts_seed_results_body_once(rpc, submit, tenant, run_jobs, receiver):
    """A COMPLETED job POSTs seed 000's callback body plus project_id and user_id, exactly once."""
    job = submit(tenant, callbacks=[hook(receiver.url())])
    run_jobs()
    run_callbacks()
    results = result_of(rpc("get_job_results", {"job_id": job["job_id"]}, who=tenant))
    assert [(r.method, r.path) for r in receiver.requests] == [("POST", "/hook")]
    assert receiver.requests[0].json() == {
        "project_id": str(tenant.project.project_id),
        "user_id": str(tenant.user.user_id),
        "job_id": job["job_id"],
        "job_status": "COMPLETED",
        "backend": "dummy",
        "results": results["results"],
    }
    assert results["results"][0]["results"] and sum(results["results"][0]["results"].values()) == 100


def test_results_request_is_signed_with_project_secret(submit, tenant, run_jobs, receiver):
    """Content-Type, X-Portal-Event, X-Portal-Delivery (the delivery's UUID) and a signature that
    verifies with the project's callback secret."""
    job = submit(tenant, callbacks=[hook(receiver.url())])
    run_jobs()
    run_callbacks()
    (request,) = receiver.requests
    (delivery,) = deliveries(job)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Portal-Event"] == "job.results"
    assert uuid.UUID(request.headers["X-Portal-Delivery"]) == delivery.delivery_id
    expected = hmac.new(tenant.project.callback_secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Portal-Signature"], f"sha256={expected}")


def test_put_method_is_honoured(submit, tenant, run_jobs, receiver):
    """``method: put`` sends a PUT."""
    submit(tenant, callbacks=[hook(receiver.url(), method="put")])
    run_jobs()
    run_callbacks()
    assert [r.method for r in receiver.requests] == ["PUT"]


def test_user_headers_are_sent_but_cannot_override_portal_headers(
    tenant, run_jobs, receiver, django_capture_on_commit_callbacks
):
    """A callback's own headers arrive; X-Portal-* and Content-Type stored before submit refused
    them (rows of older versions) still do not replace ours."""
    headers = {
        "Authorization": "Bearer receiver-token",
        "X-Portal-Event": "forged",
        "x-portal-signature": "sha256=forged",
        "X-Portal-Delivery": "forged",
        "Content-Type": "text/plain",
    }
    spec = JobSpec(
        code_type="qasm2", source_code=[BELL], backend="dummy", callbacks=[hook(receiver.url(), headers=headers)]
    )
    with django_capture_on_commit_callbacks(execute=True):
        job_submit(user=tenant.user, project=tenant.project, spec=spec)
    run_jobs()
    run_callbacks()
    (request,) = receiver.requests
    assert request.headers["Authorization"] == "Bearer receiver-token"
    assert request.headers.get_all("X-Portal-Event") == ["job.results"]
    assert request.headers.get_all("Content-Type") == ["application/json"]
    assert len(request.headers.get_all("X-Portal-Signature")) == 1
    assert request.headers["X-Portal-Signature"] != "sha256=forged"
    uuid.UUID(request.headers["X-Portal-Delivery"])


@pytest.mark.parametrize("name", ["X-Portal-Event", "x-portal-signature", "Content-Type", "Host"])
def test_reserved_callback_headers_are_refused_at_submit(rpc, tenant, receiver, name):
    """submit_job with a header the portal sets itself: -32602 naming it, nothing stored."""
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}
    body["callbacks"] = [hook(receiver.url(), headers={name: "forged"})]
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -32602
    assert name in error["data"]["errors"][0]["field"]
    assert not Job.objects.exists()


def test_failed_job_fires_results_callback_with_entry_errors(submit, tenant, run_jobs, receiver):
    """A FAILED job sends its results, the failed entry with its error (seed 000's failure example)."""
    submit(tenant, source_code=["OPENQASM 2.0;\n1 x;"], callbacks=[hook(receiver.url())])
    run_jobs()
    run_callbacks()
    (request,) = receiver.requests
    body = request.json()
    assert body["job_status"] == "FAILED"
    (entry,) = body["results"]
    assert entry["results"] is None and entry["error"]["code"] == -102
    assert entry["metadata"]["status"] == "FAILED"


def test_cancelled_job_fires_results_callback_with_no_results(rpc, submit, tenant, receiver):
    """A cancelled job sends ``job_status: CANCELLED`` and ``results: []``."""
    job = submit(tenant, callbacks=[hook(receiver.url())])
    assert result_of(rpc("cancel_jobs", {"job_ids": [job["job_id"]]}, who=tenant))
    run_callbacks()
    (request,) = receiver.requests
    assert request.json()["job_status"] == "CANCELLED"
    assert request.json()["results"] == []


def test_set_job_results_sends_the_results_it_stored(rpc, submit, tenant, staff, receiver):
    """set_job_results writes the results after the status change, in one transaction: the body has them."""
    job = submit(tenant, callbacks=[hook(receiver.url())])
    stored = [{"results": {"00": 3, "11": 5}, "num_qubits": 2, "metadata": {"device_job": "dev-1"}}]
    assert result_of(rpc("set_job_results", {"job_id": job["job_id"], "results": stored}, who=staff))
    run_callbacks()
    (request,) = receiver.requests
    (entry,) = request.json()["results"]
    assert request.json()["job_status"] == "COMPLETED"
    assert entry["results"] == {"00": 3, "11": 5} and entry["metadata"]["device_job"] == "dev-1"


# --- Status callbacks -----------------------------------------------------------------------------


def test_status_callbacks_follow_every_change_in_order(submit, tenant, run_jobs, receiver):
    """QUEUED (at submit), RUNNING, COMPLETED, each with the change's time as updated_at."""
    job = submit(tenant, callbacks=[hook(receiver.url("/status"), type="status")])
    run_jobs()
    run_callbacks()
    bodies = [r.json() for r in receiver.requests]
    events = JobEvent.objects.filter(job_id=job["job_id"]).order_by("at", "id")
    assert [b["job_status"] for b in bodies] == ["QUEUED", "RUNNING", "COMPLETED"]
    assert [b["updated_at"] for b in bodies] == [e.at.isoformat() for e in events]
    assert {tuple(sorted(b)) for b in bodies} == {("backend", "job_id", "job_status", "updated_at")}
    assert {r.headers["X-Portal-Event"] for r in receiver.requests} == {"job.status"}


def test_cancelled_queued_job_never_fires_running(rpc, submit, tenant, run_jobs, receiver):
    """QUEUED -> CANCELLED reports exactly those two, even after the job workers ran."""
    job = submit(tenant, callbacks=[hook(receiver.url("/status"), type="status")])
    result_of(rpc("cancel_jobs", {"job_ids": [job["job_id"]]}, who=tenant))
    run_jobs()
    run_callbacks()
    assert [r.json()["job_status"] for r in receiver.requests] == ["QUEUED", "CANCELLED"]


def test_results_callback_ignores_non_final_changes(submit, tenant, run_jobs, receiver):
    """A results callback owes nothing for QUEUED and RUNNING: one delivery, for COMPLETED."""
    job = submit(tenant, callbacks=[hook(receiver.url())])
    run_jobs()
    assert [(d.event, d.job_status) for d in deliveries(job)] == [("job.results", "COMPLETED")]


# --- Retries and failures -------------------------------------------------------------------------


def test_receiver_failing_then_answering_gets_one_delivery_over_retries(submit, tenant, run_jobs, receiver):
    """Three 500s then 200: four attempts recorded, one X-Portal-Delivery across them, delivered once."""
    receiver.plan["/hook"] = [500, 500, 500]
    job = submit(tenant, callbacks=[hook(receiver.url())])
    run_jobs()
    run_callbacks()
    (delivery,) = deliveries(job)
    assert len(receiver.requests) == 4
    assert len({r.headers["X-Portal-Delivery"] for r in receiver.requests}) == 1
    assert len({r.headers["X-Portal-Signature"] for r in receiver.requests}) == 1
    assert [a.status_code for a in attempts(delivery)] == [500, 500, 500, 200]
    assert delivery.status == "delivered" and delivery.attempts == 4
    assert Job.objects.get(pk=job["job_id"]).status == "COMPLETED"


def test_receiver_always_failing_stops_at_retries(submit, tenant, run_jobs, receiver):
    """``retries: 2`` and a receiver that always answers 500: three attempts, then ``failed``."""
    receiver.default = 500
    job = submit(tenant, callbacks=[hook(receiver.url(), retries=2)])
    run_jobs()
    run_callbacks()
    (delivery,) = deliveries(job)
    assert len(receiver.requests) == 3
    assert [a.status_code for a in attempts(delivery)] == [500, 500, 500]
    assert all(a.error == "HTTP 500 Internal Server Error" for a in attempts(delivery))
    assert delivery.status == "failed" and delivery.attempts == 3


def test_default_retries_give_one_attempt_per_configured_delay_plus_one(submit, tenant, run_jobs, receiver):
    """Without ``retries``: 1 + len(CALLBACK_RETRY_DELAYS) = 6 attempts, and the job stays COMPLETED."""
    receiver.default = 503
    job = submit(tenant, callbacks=[hook(receiver.url())])
    run_jobs()
    before = Job.objects.get(pk=job["job_id"])
    run_callbacks()
    (delivery,) = deliveries(job)
    after = Job.objects.get(pk=job["job_id"])
    assert len(receiver.requests) == 6 and delivery.attempts == 6 and delivery.status == "failed"
    assert (after.status, after.updated_at, after.ended_at) == ("COMPLETED", before.updated_at, before.ended_at)


def test_network_error_is_retried(submit, tenant, run_jobs):
    """Nobody listening (connection refused) is a failed attempt, retried, recorded with its error."""
    with Receiver() as closed:
        url = closed.url()
    job = submit(tenant, callbacks=[hook(url, retries=1)])
    run_jobs()
    run_callbacks()
    (delivery,) = deliveries(job)
    tries = attempts(delivery)
    assert len(tries) == 2 and delivery.status == "failed"
    assert all(a.status_code is None and a.error.startswith("ConnectionError") for a in tries)


def test_retry_policy_is_rq_retry_with_configured_delays(callback_settings, submit, tenant):
    """The RQ job of a delivery carries Retry(max=retries, interval=CALLBACK_RETRY_DELAYS)."""
    callback_settings.CALLBACK_RETRY_DELAYS = [10, 30, 90, 270, 810]
    job = submit(
        tenant, callbacks=[hook("http://127.0.0.1:9/a", type="status"), hook("http://127.0.0.1:9/b", retries=7)]
    )
    (status_delivery,) = deliveries(job)
    rq_job = django_rq.get_queue(settings.CALLBACK_QUEUE_NAME).fetch_job(str(status_delivery.delivery_id))
    assert rq_job.func_name == "webhooks.tasks.deliver_callback" and rq_job.args == (str(status_delivery.delivery_id),)
    assert (rq_job.retries_left, rq_job.retry_intervals) == (5, [10, 30, 90, 270, 810])
    assert status_delivery.max_attempts == 6
    assert owed.retry_intervals(7) == [10, 30, 90, 270, 810, 810, 810]


def test_redis_down_at_enqueue_never_fails_the_status_change(monkeypatch, submit, tenant, receiver):
    """A delivery that cannot be enqueued stays pending, the submission itself succeeds, and
    reconcile enqueues the delivery once Redis answers again."""
    from jobs.services import jobs_reconcile

    class DownQueue:
        def enqueue(self, *args, **kwargs):
            raise RedisError("connection refused")

        enqueue_call = enqueue

    real_get_queue = owed.django_rq.get_queue
    monkeypatch.setattr(owed.django_rq, "get_queue", lambda *args, **kwargs: DownQueue())
    job = submit(tenant, callbacks=[hook(receiver.url(), type="status")])
    (delivery,) = deliveries(job)
    assert job["job_status"] == "QUEUED" and Job.objects.get(pk=job["job_id"]).status == "QUEUED"
    assert delivery.status == "pending" and delivery.attempts == 0
    monkeypatch.setattr(owed.django_rq, "get_queue", real_get_queue)
    assert jobs_reconcile(queued_grace=0)["callbacks_requeued"] == 1
    run_callbacks()
    (delivery,) = deliveries(job)
    assert delivery.status == "delivered" and len(receiver.requests) == 1


def test_redirect_is_a_failed_attempt_and_never_followed(submit, tenant, run_jobs, receiver):
    """A 302 is recorded as a failed attempt; the redirect target is never requested."""
    job = submit(tenant, callbacks=[hook(receiver.url("/redirect"), retries=1)])
    run_jobs()
    run_callbacks()
    (delivery,) = deliveries(job)
    assert receiver.paths() == ["/redirect", "/redirect"]
    assert [a.status_code for a in attempts(delivery)] == [302, 302]
    assert "not followed" in attempts(delivery)[0].error
    assert delivery.status == "failed"


def test_timeout_is_honoured(submit, tenant, run_jobs, receiver):
    """A receiver slower than ``timeout`` (0.5 s) gives a timeout attempt after about 0.5 s."""
    receiver.delay = 5
    job = submit(tenant, callbacks=[hook(receiver.url(), timeout=0.5, retries=0)])
    run_jobs()
    started = time.monotonic()
    run_callbacks()
    elapsed = time.monotonic() - started
    (delivery,) = deliveries(job)
    (attempt,) = attempts(delivery)
    assert attempt.status_code is None and attempt.error.startswith("timeout after 0.5 s")
    assert 0.5 <= attempt.duration < 2 and elapsed < 3
    assert delivery.status == "failed" and len(receiver.requests) == 1


def test_second_run_of_a_delivered_delivery_sends_nothing(submit, tenant, run_jobs, receiver):
    """Running a delivered delivery's task again (directly or as a duplicate RQ job) sends nothing."""
    job = submit(tenant, callbacks=[hook(receiver.url())])
    run_jobs()
    run_callbacks()
    (delivery,) = deliveries(job)
    tasks.deliver_callback(str(delivery.delivery_id))
    duplicate = django_rq.get_queue(settings.CALLBACK_QUEUE_NAME, commit_mode="auto").enqueue(
        "webhooks.tasks.deliver_callback", str(delivery.delivery_id)
    )
    run_callbacks()
    delivery.refresh_from_db()
    assert duplicate.get_status() == "finished"
    assert len(receiver.requests) == 1
    assert delivery.attempts == 1 and len(attempts(delivery)) == 1 and delivery.status == "delivered"


def test_an_attempt_claimed_by_another_run_is_not_sent(submit, tenant, run_jobs, receiver):
    """Two runs read the same attempt count: the one that loses the conditional claim sends nothing."""
    receiver.default = 500
    job = submit(tenant, callbacks=[hook(receiver.url())])
    run_jobs()
    (delivery,) = deliveries(job)
    stale = CallbackDelivery.objects.select_related("job__project", "job__user", "job__backend").get(pk=delivery.pk)
    with pytest.raises(sending.CallbackFailed):
        sending.deliver(str(delivery.delivery_id))
    sending.attempt_delivery(stale)  # still says attempts == 0: loses ``WHERE attempts = 0``
    delivery.refresh_from_db()
    assert len(receiver.requests) == 1 and delivery.attempts == 1 and len(attempts(delivery)) == 1


# --- Visibility -----------------------------------------------------------------------------------


def test_deliveries_and_attempts_visible_in_get_job_results(rpc, submit, tenant, run_jobs, receiver):
    """The owner sees every delivery with its attempts (time, status code, error)."""
    receiver.plan["/hook"] = [500]
    job = submit(tenant, callbacks=[hook(receiver.url()), hook(receiver.url("/s"), name="st", type="status")])
    run_jobs()
    run_callbacks()
    seen = result_of(rpc("get_job_results", {"job_id": job["job_id"]}, who=tenant))["callback_deliveries"]
    assert [(d["name"], d["type"], d["event"], d["job_status"]) for d in seen] == [
        ("st", "status", "job.status", "QUEUED"),
        ("st", "status", "job.status", "RUNNING"),
        ("hook", "results", "job.results", "COMPLETED"),
        ("st", "status", "job.status", "COMPLETED"),
    ]
    results = seen[2]
    assert results["url"] == receiver.url() and results["status"] == "delivered" and results["attempts"] == 2
    assert [(a["status_code"], a["error"]) for a in results["attempt_log"]] == [
        (500, "HTTP 500 Internal Server Error"),
        (200, None),
    ]
    assert all(a["at"].endswith("+00:00") for a in results["attempt_log"])
    status = result_of(rpc("get_job_status", {"job_id": job["job_id"]}, who=tenant))
    assert status["callback_deliveries"] == seen


def test_deliveries_not_reachable_by_another_tenant(rpc, submit, tenant, other_tenant, run_jobs, receiver):
    """Another tenant gets not-found for the job, so never its deliveries."""
    job = submit(tenant, callbacks=[hook(receiver.url())])
    run_jobs()
    run_callbacks()
    for method in ("get_job_results", "get_job_status"):
        assert error_of(rpc(method, {"job_id": job["job_id"]}, who=other_tenant))["code"] == -404


def test_deliveries_view_is_two_queries(submit, tenant, run_jobs, receiver, django_assert_max_num_queries):
    """Deliveries and their attempts load in two queries, however many there are."""
    receiver.plan["/hook"] = [500, 500]
    job = submit(tenant, callbacks=[hook(receiver.url()), hook(receiver.url(), type="status")])
    run_jobs()
    run_callbacks()
    job_row = Job.objects.get(pk=job["job_id"])
    with django_assert_max_num_queries(2):
        view = presenters.deliveries_view(job_row)
    assert len(view) == 4 and sum(len(d["attempt_log"]) for d in view) == 6
