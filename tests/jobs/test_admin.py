"""Django admin (issue 5), and of jobs above all: every page of every app renders for operators and only
for them, search, the job actions call the services, job state is read-only, changelists keep a flat
query count. (Tenancy and backends: tests/projects/test_admin.py, tests/backends/test_admin.py.)"""

from __future__ import annotations

import pytest
from django.urls import reverse

from jobs import queues
from jobs.models import Job, Tag
from jobs.services import job_start
from tests.admin_pages import HOOK, act, change, changelist, found
from tests.factories import complete, fail, messages_of, submit_bell

pytestmark = pytest.mark.django_db

MODELS = [
    "projects.user", "projects.project", "projects.membership", "projects.apitoken", "backends.backend",
    "backends.timeslot", "jobs.tag",
    "jobs.job", "jobs.jobresult", "jobs.jobevent", "webhooks.callbackdelivery", "webhooks.callbackattempt",
]  # fmt: skip
ADDABLE = [
    "projects.user", "projects.project", "projects.membership", "backends.backend", "backends.timeslot", "jobs.tag",
]  # fmt: skip


# --- Pages and who sees them --------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_changelist_renders(client, operator, world, model):
    """Each model's changelist renders for an operator, with data present."""
    response = client.get(changelist(model))
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize("model", MODELS)
def test_change_page_renders(client, operator, world, model):
    """Each model's change (or view) page renders for an operator."""
    obj = world[model]
    response = client.get(reverse(f"admin:{model.replace('.', '_')}_change", args=[obj.pk]))
    assert response.status_code == 200


@pytest.mark.parametrize("model", ADDABLE)
def test_add_page_renders(client, operator, model):
    """The add page renders where adding is allowed."""
    response = client.get(reverse(f"admin:{model.replace('.', '_')}_add"))
    assert response.status_code == 200


@pytest.mark.parametrize("model", ["projects.apitoken", "jobs.job", "jobs.jobresult", "jobs.jobevent"])
def test_no_add_page_where_not_allowed(client, operator, model):
    """Tokens, jobs and logs cannot be added from admin."""
    assert client.get(reverse(f"admin:{model.replace('.', '_')}_add")).status_code == 403


@pytest.mark.parametrize("model", MODELS)
def test_anonymous_is_sent_to_login(client, world, model):
    """Anonymous visitors are redirected to the admin login."""
    response = client.get(changelist(model))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("model", ["jobs.job", "projects.apitoken", "backends.backend"])
def test_non_staff_is_sent_to_login(client, world, model):
    """A signed-in user who is not staff is redirected to the admin login too."""
    client.force_login(world["tenant"].user)
    response = client.get(changelist(model))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_index_links_to_queue_pages(client, operator):
    """The admin index links to /ops/ and to django-rq's dashboard."""
    content = client.get(reverse("admin:index")).content.decode()
    assert 'href="/ops/"' in content
    assert 'href="/django-rq/"' in content


# --- Search ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "term", [lambda w: str(w["queued"].job_id), lambda w: str(w["queued"].job_id)[:13], lambda w: "bell-alpha"]
)
def test_search_job_by_id_or_name(client, operator, world, term):
    """Jobs are found by their id, the start of it, or their name."""
    assert found(client, "jobs.job", term(world)) == {world["queued"].pk}


def test_search_job_by_tag(client, operator, world):
    """Jobs are found by a tag."""
    assert found(client, "jobs.job", "exp1") == {world["queued"].pk}


def test_search_job_by_user(client, operator, world, other_tenant):
    """Jobs are found by their owner's username; others' jobs are not."""
    submit_bell(other_tenant)
    assert found(client, "jobs.job", world["tenant"].user.username) == {world["queued"].pk, world["done"].pk}


def test_search_job_by_project(client, operator, world, other_tenant):
    """Jobs are found by their project's slug; other projects' jobs are not."""
    submit_bell(other_tenant)
    assert found(client, "jobs.job", world["tenant"].project.slug) == {world["queued"].pk, world["done"].pk}


# --- Job actions ------------------------------------------------------------------------------------


def test_cancel_action(client, operator, tenant, django_capture_on_commit_callbacks):
    """Cancel moves a queued job to CANCELLED and out of its queue."""
    with django_capture_on_commit_callbacks(execute=True):
        job = submit_bell(tenant)
    assert str(job.job_id) in queues.waiting_ids()
    act(client, django_capture_on_commit_callbacks, "cancel_jobs", [job])
    assert Job.objects.get(pk=job.pk).status == "CANCELLED"
    assert str(job.job_id) not in queues.waiting_ids()


def test_delete_action_asks_first(client, operator, tenant, django_capture_on_commit_callbacks):
    """Delete first shows a confirmation page and changes nothing."""
    job = complete(submit_bell(tenant))
    response = act(client, django_capture_on_commit_callbacks, "delete_jobs", [job])
    assert response.status_code == 200
    assert str(job.job_id) in response.content.decode()
    assert Job.objects.get(pk=job.pk).status == "COMPLETED"


def test_delete_action_leaves_a_tombstone(client, operator, tenant, django_capture_on_commit_callbacks):
    """Confirmed, delete makes a DELETED tombstone: source and results purged, the row kept."""
    job = complete(submit_bell(tenant))
    data = {"action": "delete_jobs", "_selected_action": [str(job.pk)], "post": "yes"}  # the confirmation's form
    with django_capture_on_commit_callbacks(execute=True):
        client.post(changelist("jobs.job"), data)
    tombstone = Job.objects.get(pk=job.pk)
    assert (tombstone.status, tombstone.source_blob, tombstone.entries.count()) == ("DELETED", None, 0)


def test_requeue_action(client, operator, tenant, django_capture_on_commit_callbacks):
    """Re-queue moves a failed job back to QUEUED and into its Redis queue."""
    job = fail(submit_bell(tenant))
    act(client, django_capture_on_commit_callbacks, "requeue_jobs", [job])
    assert Job.objects.get(pk=job.pk).status == "QUEUED"
    assert str(job.job_id) in queues.waiting_ids()


def test_requeue_action_restores_missing_queue_entry(client, operator, tenant, django_capture_on_commit_callbacks):
    """Re-queue puts a QUEUED job whose Redis entry vanished back in its queue."""
    job = submit_bell(tenant)  # its enqueue-after-commit never runs here: it is missing from Redis
    response = act(client, django_capture_on_commit_callbacks, "requeue_jobs", [job])
    assert str(job.job_id) in queues.waiting_ids()
    assert messages_of(response) == ["Re-queued 1 job(s)."]


def test_force_stop_action(client, operator, tenant, django_capture_on_commit_callbacks):
    """Force-stop ends a running job CANCELLED, its entries carrying -107."""
    job = submit_bell(tenant)
    job_start(job_id=job.job_id)
    act(client, django_capture_on_commit_callbacks, "force_stop_jobs", [job])
    job.refresh_from_db()
    assert job.status == "CANCELLED"
    assert [entry.error["code"] for entry in job.entries.all()] == [-107]


def test_force_stop_action_reports_finished_job(client, operator, world, django_capture_on_commit_callbacks):
    """Force-stopping a completed job changes nothing and says why."""
    response = act(client, django_capture_on_commit_callbacks, "force_stop_jobs", [world["done"]])
    assert Job.objects.get(pk=world["done"].pk).status == "COMPLETED"
    assert "only a queued or running job can be stopped" in " ".join(messages_of(response))


def test_bulk_delete_not_offered_for_jobs(client, operator, world):
    """Django's delete_selected is not among the job actions; the services' actions are."""
    response = client.get(changelist("jobs.job"))
    choices = [name for name, _ in response.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in choices
    assert {"cancel_jobs", "delete_jobs", "requeue_jobs", "force_stop_jobs"} <= set(choices)


def test_job_delete_view_is_refused(client, operator, world):
    """Django's delete page for a job is refused (403), so no row is hard-deleted."""
    assert client.get(reverse("admin:jobs_job_delete", args=[world["done"].pk])).status_code == 403


def test_delete_selected_post_does_nothing(client, operator, world, django_capture_on_commit_callbacks):
    """Posting delete_selected for jobs anyway deletes no row."""
    act(client, django_capture_on_commit_callbacks, "delete_selected", [world["done"]], post="yes")
    assert Job.objects.filter(pk=world["done"].pk, status="COMPLETED").exists()


# --- Editing a job --------------------------------------------------------------------------------


def test_job_state_fields_are_read_only(client, operator, world):
    """Only the name, description, tags and (while QUEUED) priority are form fields."""
    url = reverse("admin:jobs_job_change", args=[world["done"].pk])
    fields = set(client.get(url).context["adminform"].form.fields)
    assert fields == {"job_name", "description", "tags"}
    url = reverse("admin:jobs_job_change", args=[world["queued"].pk])
    assert set(client.get(url).context["adminform"].form.fields) == {"job_name", "description", "tags", "job_priority"}


def test_priority_change_moves_the_queued_job(client, operator, tenant, django_capture_on_commit_callbacks):
    """Saving a new priority goes through job_update: the job moves to that priority's queue."""
    with django_capture_on_commit_callbacks(execute=True):
        job = submit_bell(tenant, job_priority=5)
    change(client, django_capture_on_commit_callbacks, job, job_priority=2)
    assert Job.objects.get(pk=job.pk).job_priority == 2
    assert queues.position(job.job_id, 2) == 1
    assert queues.position(job.job_id, 5) is None


def test_rename_and_retag_through_admin(client, operator, world, django_capture_on_commit_callbacks):
    """Name and tags saved from the change page are stored."""
    tag = Tag.objects.create(name="exp2")
    change(client, django_capture_on_commit_callbacks, world["done"], job_name="renamed", tags=[tag.pk])
    job = Job.objects.get(pk=world["done"].pk)
    assert (job.job_name, [t.name for t in job.tags.all()]) == ("renamed", ["exp2"])


def test_status_cannot_be_posted(client, operator, world, django_capture_on_commit_callbacks):
    """A status (or progress) smuggled into the change form is ignored."""
    change(client, django_capture_on_commit_callbacks, world["queued"], status="COMPLETED", progress=100)
    job = Job.objects.get(pk=world["queued"].pk)
    assert (job.status, job.progress) == ("QUEUED", 0)


def test_job_page_hides_callback_header_values(client, operator, world):
    """The job page names a callback's headers but never shows their values."""
    content = client.get(reverse("admin:jobs_job_change", args=[world["queued"].pk])).content.decode()
    assert "Authorization" in content
    assert "receiver-credential-42" not in content


def test_job_page_shows_results_events_and_deliveries(client, operator, world):
    """The job page carries its results, its status changes and its callback deliveries with attempts."""
    response = client.get(reverse("admin:jobs_job_change", args=[world["queued"].pk]))
    prefixes = {
        inline.formset.prefix: len(inline.formset.initial_forms) for inline in response.context["inline_admin_formsets"]
    }
    assert prefixes == {"entries": 0, "events": 1, "callback_deliveries": 1}
    assert "500" in response.content.decode()  # the attempt's status code


# --- Query counts ---------------------------------------------------------------------------------

# session, user, the filter sidebar's backends, two counts, the page, its tags (and a savepoint pair
# or two around them in tests)
JOB_CHANGELIST_QUERIES = 12


def test_job_changelist_query_count_is_flat(client, operator, tenant, other_tenant, django_assert_max_num_queries):
    """The jobs changelist makes as many queries for 40 jobs as for 3."""
    url = changelist("jobs.job")
    for _ in range(3):
        submit_bell(tenant, tags=["a", "b"])
    with django_assert_max_num_queries(JOB_CHANGELIST_QUERIES) as few:
        assert client.get(url).status_code == 200
    for index in range(37):
        complete(submit_bell(other_tenant if index % 2 else tenant, tags=[f"t{index}", "b"], callbacks=[HOOK]))
    with django_assert_max_num_queries(len(few)):
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_changelists_stay_under_a_fixed_query_budget(client, operator, world, django_assert_max_num_queries, model):
    """Every changelist stays within a small fixed number of queries."""
    for _ in range(5):
        complete(submit_bell(world["tenant"], tags=["exp1"], callbacks=[HOOK]))
    with django_assert_max_num_queries(12):
        client.get(changelist(model))
