"""The operators' queue pages at /ops/ (issue 5): staff only, GET shows, POST acts through the
services and redirects with a message, bad input is a message, the query count stays flat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psutil
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from redis import RedisError
from rq import SimpleWorker

from backends.models import Backend
from backends.services import backend_set_status
from jobs import queues
from jobs.models import Job
from jobs.services import job_start
from tests.factories import complete, fail, make_tenant, make_user, messages_of, submit_bell
from tests.sleepy_driver import hold
from tests.workers import wait_for

pytestmark = pytest.mark.django_db

OPS = "/ops/"


def status_url(name: str) -> str:
    return reverse("ops:backend-status", args=[name])


def stop_url(job: Job) -> str:
    return reverse("ops:job-force-stop", args=[job.job_id])


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST as the signed-in client, with after-commit work (enqueueing) run as after a real commit."""

    def do(url: str, data=None):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data or {})

    return do


# --- Who may see it -------------------------------------------------------------------------------

PAGES = [OPS, f"{OPS}?since=2025-01-01&until=2025-01-31"]
ACTIONS = [lambda job: status_url("dummy"), lambda job: reverse("ops:jobs-requeue"), stop_url]


@pytest.mark.parametrize("url", PAGES)
def test_page_renders_for_staff(client, operator, tenant, url):
    """The ops page renders for an operator, with data present."""
    fail(submit_bell(tenant))
    response = client.get(url)
    assert response.status_code == 200
    assert b"dummy" in response.content
    assert "no-cache" in response.headers["Cache-Control"]


@pytest.mark.parametrize("url", [OPS, *[f"{OPS}backends/dummy/status/?status=paused", f"{OPS}jobs/requeue/"]])
def test_anonymous_is_sent_to_login(client, url):
    """Anonymous visitors are redirected to the login page."""
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("url", [OPS, f"{OPS}backends/dummy/status/?status=paused"])
def test_non_staff_is_sent_to_login(client, tenant, url):
    """A signed-in user who is not staff is redirected to the login page, never served."""
    client.force_login(tenant.user)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("action", ACTIONS)
def test_non_staff_post_changes_nothing(client, tenant, post, action):
    """A non-staff POST to any action is redirected to login and changes nothing."""
    job = submit_bell(tenant)
    job_start(job_id=job.job_id)
    client.force_login(tenant.user)
    response = post(action(job), {"status": "offline", "job_ids": [str(job.job_id)]})
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    assert Backend.objects.get(name="dummy").status == "online"
    assert Job.objects.get(pk=job.pk).status == "RUNNING"


def test_forms_require_csrf(tenant):
    """A POST without the CSRF token is refused."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(staff=True))
    response = client.post(status_url("dummy"), {"status": "offline"})
    assert response.status_code == 403
    assert Backend.objects.get(name="dummy").status == "online"


def test_forms_carry_csrf_token(client, operator, tenant):
    """Every POST form on the page carries a CSRF token."""
    job = submit_bell(tenant)
    job_start(job_id=job.job_id)
    content = client.get(OPS).content.decode()
    assert content.count('method="post"') == content.count('name="csrfmiddlewaretoken"') > 0


# --- Backends -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["paused", "offline", "online"])
def test_post_sets_backend_status(client, operator, post, status):
    """POST sets the backend's status and redirects back with a message."""
    backend = Backend.objects.get(name="dummy")
    if status == "online":
        backend_set_status(backend=backend, status="paused")
    response = post(status_url("dummy"), {"status": status})
    assert response.status_code == 302
    assert response.url == OPS
    assert Backend.objects.get(name="dummy").status == status
    assert messages_of(response) == [f"Backend dummy is {status}."]


def test_get_backend_status_only_confirms(client, operator):
    """GET on the action shows a confirmation form and changes nothing."""
    response = client.get(status_url("dummy"), {"status": "offline"})
    assert response.status_code == 200
    assert b'method="post"' in response.content
    assert Backend.objects.get(name="dummy").status == "online"


def test_resume_enqueues_held_jobs(client, operator, tenant, post, django_capture_on_commit_callbacks):
    """Resuming a paused backend puts the jobs it held into Redis."""
    backend_set_status(backend=Backend.objects.get(name="dummy"), status="paused")
    with django_capture_on_commit_callbacks(execute=True):
        job = submit_bell(tenant)
    assert str(job.job_id) not in queues.waiting_ids()
    post(status_url("dummy"), {"status": "online"})
    assert str(job.job_id) in queues.waiting_ids()


def test_unknown_backend_is_a_message(client, operator, post):
    """An unknown backend answers with a message, not an error page."""
    response = post(status_url("nope"), {"status": "paused"})
    assert response.status_code == 302
    assert messages_of(response) == ["Backend 'nope' not found."]


def test_invalid_status_is_a_message(client, operator, post):
    """An invalid status answers with a message and changes nothing."""
    response = post(status_url("dummy"), {"status": "sleeping"})
    assert response.status_code == 302
    assert "status: must be one of online, paused, offline" in messages_of(response)[0]
    assert Backend.objects.get(name="dummy").status == "online"


# --- Failed and stuck jobs, re-queue --------------------------------------------------------------


def test_page_lists_failed_and_stuck_jobs(client, operator, tenant, settings):
    """Failed, overdue running and queued-but-missing jobs are listed for re-queueing."""
    settings.RECONCILE_QUEUED_GRACE = 0
    failed = fail(submit_bell(tenant))
    overdue = submit_bell(tenant)
    job_start(job_id=overdue.job_id)
    Job.objects.filter(pk=overdue.pk).update(started_at=timezone.now() - timedelta(hours=1))  # a lost run
    missing = submit_bell(tenant)  # its enqueue-after-commit never runs here
    on_time = submit_bell(tenant)
    job_start(job_id=on_time.job_id)
    problems = {p["job"].job_id: p["reason"] for p in client.get(OPS).context["problems"]}
    assert set(problems) == {failed.job_id, overdue.job_id, missing.job_id}
    assert "boom" in problems[failed.job_id]
    assert "over its backend's limit" in problems[overdue.job_id]
    assert "missing from its Redis queue" in problems[missing.job_id]


def test_failed_long_ago_is_not_listed(client, operator, tenant):
    """Jobs that failed more than 7 days ago are left off."""
    job = fail(submit_bell(tenant))
    Job.objects.filter(pk=job.pk).update(ended_at=timezone.now() - timedelta(days=8))
    assert client.get(OPS).context["problems"] == []


def test_held_jobs_of_paused_backend_are_not_stuck(client, operator, tenant, settings):
    """A QUEUED job of a paused backend waits in the database on purpose: not listed."""
    settings.RECONCILE_QUEUED_GRACE = 0
    backend_set_status(backend=Backend.objects.get(name="dummy"), status="paused")
    submit_bell(tenant)
    assert client.get(OPS).context["problems"] == []


def test_requeue_several_failed_jobs(client, operator, tenant, post):
    """POST re-queues every checked job: QUEUED again and back in Redis."""
    jobs = [fail(submit_bell(tenant)) for _ in range(3)]
    response = post(reverse("ops:jobs-requeue"), {"job_ids": [str(job.job_id) for job in jobs]})
    assert response.status_code == 302
    assert messages_of(response) == ["Re-queued 3 of 3 job(s)."]
    assert set(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)) == {"QUEUED"}
    assert {str(job.job_id) for job in jobs} <= queues.waiting_ids()


def test_requeue_restores_missing_queue_entry(client, operator, tenant, post):
    """A QUEUED job missing from Redis goes back in its queue, still QUEUED."""
    job = submit_bell(tenant)
    post(reverse("ops:jobs-requeue"), {"job_ids": [str(job.job_id)]})
    assert str(job.job_id) in queues.waiting_ids()
    assert Job.objects.get(pk=job.pk).status == "QUEUED"


def test_requeue_skips_completed_jobs(client, operator, tenant, post):
    """Completed jobs are not re-queued, and the message says so."""
    job = complete(submit_bell(tenant))
    response = post(reverse("ops:jobs-requeue"), {"job_ids": [str(job.job_id)]})
    assert Job.objects.get(pk=job.pk).status == "COMPLETED"
    assert messages_of(response)[0].startswith("Re-queued 0 of 1 job(s).")


def test_get_requeue_only_confirms(client, operator, tenant):
    """GET on re-queue shows a confirmation and changes nothing."""
    job = fail(submit_bell(tenant))
    response = client.get(reverse("ops:jobs-requeue"), {"job_ids": [str(job.job_id)]})
    assert response.status_code == 200
    assert str(job.job_id) in response.content.decode()
    assert Job.objects.get(pk=job.pk).status == "FAILED"


def test_requeue_bad_ids_are_a_message(client, operator, post):
    """Ids that are not UUIDs, or none at all, answer with a message."""
    response = post(reverse("ops:jobs-requeue"), {"job_ids": ["not-a-uuid"]})
    assert response.status_code == 302
    assert messages_of(response) == ["Not job ids, left out: 'not-a-uuid'.", "Select at least one job to re-queue."]


# --- Running jobs, force-stop ---------------------------------------------------------------------


def test_page_offers_force_stop_for_running_jobs(client, operator, tenant):
    """Each running job is listed with a force-stop form."""
    job = submit_bell(tenant)
    job_start(job_id=job.job_id)
    response = client.get(OPS)
    assert [j.job_id for j in response.context["running"]] == [job.job_id]
    assert f'action="{stop_url(job)}"' in response.content.decode()


def test_force_stop_running_job(client, operator, tenant, post):
    """POST force-stop ends a running job CANCELLED with -107 on its entries."""
    job = submit_bell(tenant)
    job_start(job_id=job.job_id)
    response = post(stop_url(job))
    job.refresh_from_db()
    assert job.status == "CANCELLED"
    assert [entry.error["code"] for entry in job.entries.all()] == [-107]
    assert messages_of(response) == [f"Job {job.job_id} is CANCELLED."]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_force_stop_kills_a_real_run(client, start_worker):
    """Force-stop from the page stops a job a real worker runs: CANCELLED, -107, work horse killed."""
    Backend.objects.create(name="sleepy", driver="sleepy", code_types=["qasm2"])
    tenant = make_tenant()
    client.force_login(make_user(staff=True))
    job = submit_bell(tenant, backend="sleepy")
    hold(str(job.job_id))
    worker = start_worker()
    wait_for(lambda: Job.objects.get(pk=job.pk).status == "RUNNING", timeout=60, what="the job to start")
    response = client.post(stop_url(job))
    assert messages_of(response) == [f"Job {job.job_id} is CANCELLED."]
    assert [entry.error["code"] for entry in Job.objects.get(pk=job.pk).entries.all()] == [-107]
    wait_for(lambda: not psutil.Process(worker.pid).children(), timeout=30, what="the work horse to be killed")


def test_get_force_stop_only_confirms(client, operator, tenant):
    """GET on force-stop shows a confirmation and the job keeps running."""
    job = submit_bell(tenant)
    job_start(job_id=job.job_id)
    response = client.get(stop_url(job))
    assert response.status_code == 200
    assert Job.objects.get(pk=job.pk).status == "RUNNING"


def test_force_stop_of_finished_job_is_a_message(client, operator, tenant, post):
    """Force-stopping a completed job changes nothing and says why."""
    job = complete(submit_bell(tenant))
    response = post(stop_url(job))
    assert response.status_code == 302
    assert "only a queued or running job can be stopped" in messages_of(response)[0]


@pytest.mark.parametrize("job_id", ["not-a-uuid", "5b0e7c1e-0000-4000-8000-000000000000"])
def test_force_stop_bad_or_unknown_job_is_a_message(client, operator, post, job_id):
    """A malformed or unknown job id answers with a message, not an error page."""
    response = post(reverse("ops:job-force-stop", args=[job_id]))
    assert response.status_code == 302
    assert len(messages_of(response)) == 1


# --- Queues and workers ---------------------------------------------------------------------------


def test_queue_depth_per_priority(client, operator, tenant, django_capture_on_commit_callbacks):
    """Depths come from Redis, per priority."""
    with django_capture_on_commit_callbacks(execute=True):
        submit_bell(tenant, job_priority=1)
        submit_bell(tenant, job_priority=3)
        submit_bell(tenant, job_priority=3)
    depths = dict(client.get(OPS).context["depths"])
    assert (depths[1], depths[2], depths[3]) == (1, 0, 2)


def test_oldest_queued_job_per_backend(client, operator, tenant):
    """Each backend shows its queued count and the time of its oldest queued job, from the database."""
    backend_set_status(backend=Backend.objects.get(name="dummy"), status="paused")
    first, _ = submit_bell(tenant), submit_bell(tenant)
    backends = {b.name: b for b in client.get(OPS).context["backends"]}
    assert (backends["dummy"].queued, backends["dummy"].oldest_queued_at) == (2, first.queued_at)
    assert backends["qubo_sa"].oldest_queued_at is None


def test_page_renders_without_redis(client, operator, tenant, monkeypatch):
    """With Redis unreachable the page still renders, from the database, and says so."""

    def down(*args, **kwargs):
        raise RedisError("connection refused")

    monkeypatch.setattr(queues, "waiting_ids", down)
    fail(submit_bell(tenant))
    response = client.get(OPS)
    assert response.status_code == 200
    assert len(response.context["problems"]) == 1
    assert messages_of(response)[0].startswith("Redis is unavailable")


def test_workers_are_listed(client, operator):
    """Registered workers are listed with their queues and heartbeat; a recent heartbeat is alive."""
    worker = SimpleWorker(queues.job_queues(), connection=queues.connection(), name="ops-test-worker")
    worker.register_birth()
    try:
        response = client.get(OPS)
    finally:
        worker.register_death()
    (info,) = response.context["workers"]
    assert (info.name, info.queues[0], info.alive, info.current_job_id) == ("ops-test-worker", "jobs-p1", True, None)
    assert b"ops-test-worker" in response.content


# --- Usage ----------------------------------------------------------------------------------------


def test_usage_defaults_to_this_month(client, operator, tenant):
    """Without a range, usage covers this month."""
    submit_bell(tenant, shots=300)
    usage = client.get(OPS).context["usage"]
    assert [(row["project"], row["jobs"], row["shots"]) for row in usage] == [(tenant.project.slug, 1, 300)]


def test_usage_range_filter(client, operator, tenant, other_tenant):
    """?since=&until= (days included) selects the jobs created in that range."""
    inside, outside = submit_bell(tenant, shots=10), submit_bell(other_tenant, shots=20)
    Job.objects.filter(pk=inside.pk).update(created_at=datetime(2025, 3, 31, 23, 59, tzinfo=UTC))
    Job.objects.filter(pk=outside.pk).update(created_at=datetime(2025, 4, 1, 0, 0, tzinfo=UTC))
    response = client.get(OPS, {"since": "2025-03-01", "until": "2025-03-31"})
    assert [(row["project"], row["shots"]) for row in response.context["usage"]] == [(tenant.project.slug, 10)]


@pytest.mark.parametrize("query", [{"since": "yesterday"}, {"until": "2025-02-30"}])
def test_bad_date_is_a_message(client, operator, query):
    """A bad date shows a message and this month's usage, not an error page."""
    response = client.get(OPS, query)
    assert response.status_code == 200
    assert "is not a date" in messages_of(response)[0]
    assert response.context["since"] == timezone.localdate().replace(day=1)


def test_reversed_range_is_a_message(client, operator):
    """since after until shows a message."""
    response = client.get(OPS, {"since": "2025-05-02", "until": "2025-05-01"})
    assert response.status_code == 200
    assert "is after until" in messages_of(response)[0]


# --- Query count ----------------------------------------------------------------------------------

# session, user, backends, failed jobs and their errors, running jobs, queued ids (+ the missing
# ones), usage, the timeslots to come and the projects to book one for -- plus savepoints the test
# transaction adds
OPS_PAGE_QUERIES = 12


def _mess(tenant, count: int) -> None:
    for index in range(count):
        job = submit_bell(tenant, tags=[f"t{index}"])
        if index % 3 == 0:
            fail(job)
        elif index % 3 == 1:
            job_start(job_id=job.job_id)


def test_ops_page_query_count_is_flat(client, operator, tenant, settings, django_assert_max_num_queries):
    """The page makes as many queries for 60 jobs in every state as for 3."""
    settings.RECONCILE_QUEUED_GRACE = 0
    _mess(tenant, 3)
    with django_assert_max_num_queries(OPS_PAGE_QUERIES) as few:
        assert client.get(OPS).status_code == 200
    for _ in range(3):
        _mess(make_tenant(), 19)
    with django_assert_max_num_queries(len(few)):
        response = client.get(OPS)
    assert len(response.context["problems"]) > 30
