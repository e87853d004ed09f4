"""Django admin (issue 5): every page renders for operators and only for them, search, the actions
call the services, job state is read-only, secrets stay hidden, changelists keep a flat query count."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from backends.models import Backend
from backends.services import backend_set_status
from jobs import queues
from jobs.models import Job, JobEvent, JobResult, Tag
from jobs.services import JobSpec, job_start, job_submit
from projects.models import ApiToken, Membership, Project, User
from projects.services import token_create
from tests.factories import BELL, complete, fail, make_user, messages_of
from webhooks.models import CallbackAttempt, CallbackDelivery

pytestmark = pytest.mark.django_db

HOOK = {"name": "hook", "type": "status", "method": "post", "url": "http://127.0.0.1:9/hook",
        "headers": {"Authorization": "Bearer receiver-credential-42"}}  # fmt: skip


def submit(tenant, **fields) -> Job:
    spec = JobSpec(**{"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "shots": 100, **fields})
    return job_submit(user=tenant.user, project=tenant.project, spec=spec)


def changelist(model: str) -> str:
    return reverse(f"admin:{model.replace('.', '_')}_changelist")


@pytest.fixture
def operator(client) -> User:
    user = make_user(staff=True)  # user_create makes staff superusers
    client.force_login(user)
    return user


@pytest.fixture
def world(tenant, django_capture_on_commit_callbacks) -> dict[str, Any]:
    """Some of everything: jobs in several states with results, events, deliveries and attempts."""
    with django_capture_on_commit_callbacks(execute=False):
        queued = submit(tenant, job_name="bell-alpha", tags=["exp1"], callbacks=[HOOK])
        done = complete(submit(tenant, job_name="bell-done"))
    delivery = CallbackDelivery.objects.filter(job=queued).first()
    attempt = CallbackAttempt.objects.create(delivery=delivery, status_code=500, duration=0.2)
    token, _ = token_create(user=tenant.user, project=tenant.project)
    return {
        "tenant": tenant,
        "queued": queued,
        "done": done,
        "projects.user": tenant.user,
        "projects.project": tenant.project,
        "projects.membership": Membership.objects.get(user=tenant.user),
        "projects.apitoken": token,
        "backends.backend": Backend.objects.get(name="dummy"),
        "jobs.tag": Tag.objects.get(name="exp1"),
        "jobs.job": queued,
        "jobs.jobresult": JobResult.objects.filter(job=done).first(),
        "jobs.jobevent": JobEvent.objects.filter(job=done).first(),
        "webhooks.callbackdelivery": delivery,
        "webhooks.callbackattempt": attempt,
    }


MODELS = [
    "projects.user", "projects.project", "projects.membership", "projects.apitoken", "backends.backend", "jobs.tag",
    "jobs.job", "jobs.jobresult", "jobs.jobevent", "webhooks.callbackdelivery", "webhooks.callbackattempt",
]  # fmt: skip
ADDABLE = ["projects.user", "projects.project", "projects.membership", "backends.backend", "jobs.tag"]


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


def _found(client, model: str, term: str) -> set:
    response = client.get(changelist(model), {"q": term})
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


@pytest.mark.parametrize(
    "term", [lambda w: str(w["queued"].job_id), lambda w: str(w["queued"].job_id)[:13], lambda w: "bell-alpha"]
)
def test_search_job_by_id_or_name(client, operator, world, term):
    """Jobs are found by their id, the start of it, or their name."""
    assert _found(client, "jobs.job", term(world)) == {world["queued"].pk}


def test_search_job_by_tag(client, operator, world):
    """Jobs are found by a tag."""
    assert _found(client, "jobs.job", "exp1") == {world["queued"].pk}


def test_search_job_by_user(client, operator, world, other_tenant):
    """Jobs are found by their owner's username; others' jobs are not."""
    submit(other_tenant)
    assert _found(client, "jobs.job", world["tenant"].user.username) == {world["queued"].pk, world["done"].pk}


def test_search_job_by_project(client, operator, world, other_tenant):
    """Jobs are found by their project's slug; other projects' jobs are not."""
    submit(other_tenant)
    assert _found(client, "jobs.job", world["tenant"].project.slug) == {world["queued"].pk, world["done"].pk}


# --- Job actions ------------------------------------------------------------------------------------


def act(client, capture, action: str, jobs, model="jobs.job", **extra):
    data = {"action": action, "_selected_action": [str(job.pk) for job in jobs], "index": 0, **extra}
    with capture(execute=True):
        return client.post(changelist(model), data)


def test_cancel_action(client, operator, tenant, django_capture_on_commit_callbacks):
    """Cancel moves a queued job to CANCELLED and out of its queue."""
    with django_capture_on_commit_callbacks(execute=True):
        job = submit(tenant)
    assert str(job.job_id) in queues.waiting_ids()
    act(client, django_capture_on_commit_callbacks, "cancel_jobs", [job])
    assert Job.objects.get(pk=job.pk).status == "CANCELLED"
    assert str(job.job_id) not in queues.waiting_ids()


def test_delete_action_asks_first(client, operator, tenant, django_capture_on_commit_callbacks):
    """Delete first shows a confirmation page and changes nothing."""
    job = complete(submit(tenant))
    response = act(client, django_capture_on_commit_callbacks, "delete_jobs", [job])
    assert response.status_code == 200
    assert str(job.job_id) in response.content.decode()
    assert Job.objects.get(pk=job.pk).status == "COMPLETED"


def test_delete_action_leaves_a_tombstone(client, operator, tenant, django_capture_on_commit_callbacks):
    """Confirmed, delete makes a DELETED tombstone: source and results purged, the row kept."""
    job = complete(submit(tenant))
    data = {"action": "delete_jobs", "_selected_action": [str(job.pk)], "post": "yes"}  # the confirmation's form
    with django_capture_on_commit_callbacks(execute=True):
        client.post(changelist("jobs.job"), data)
    tombstone = Job.objects.get(pk=job.pk)
    assert (tombstone.status, tombstone.source_blob, tombstone.entries.count()) == ("DELETED", None, 0)


def test_requeue_action(client, operator, tenant, django_capture_on_commit_callbacks):
    """Re-queue moves a failed job back to QUEUED and into its Redis queue."""
    job = fail(submit(tenant))
    act(client, django_capture_on_commit_callbacks, "requeue_jobs", [job])
    assert Job.objects.get(pk=job.pk).status == "QUEUED"
    assert str(job.job_id) in queues.waiting_ids()


def test_requeue_action_restores_missing_queue_entry(client, operator, tenant, django_capture_on_commit_callbacks):
    """Re-queue puts a QUEUED job whose Redis entry vanished back in its queue."""
    job = submit(tenant)  # its enqueue-after-commit never runs here: it is missing from Redis
    response = act(client, django_capture_on_commit_callbacks, "requeue_jobs", [job])
    assert str(job.job_id) in queues.waiting_ids()
    assert messages_of(response) == ["Re-queued 1 job(s)."]


def test_force_stop_action(client, operator, tenant, django_capture_on_commit_callbacks):
    """Force-stop ends a running job CANCELLED, its entries carrying -107."""
    job = submit(tenant)
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


def form_data(response) -> dict[str, Any]:
    """The POST data of an admin change page as rendered: the main form and every inline."""
    data: dict[str, Any] = {}

    def put(form) -> None:
        for name in form.fields:
            value = form[name].value()  # as the widget renders it
            if value is not None:
                data[form.add_prefix(name)] = value

    put(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management.initial.get(name, 0)
        for form in inline.formset.initial_forms:
            put(form)
    return data


def change(client, capture, obj, **fields):
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    data = {**form_data(client.get(url)), **fields}
    with capture(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors  # saved, back to the list
    return response


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
        job = submit(tenant, job_priority=5)
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


# --- Tenancy --------------------------------------------------------------------------------------


def test_token_pages_never_show_the_hash(client, operator, world):
    """key_hash appears on no admin page, and searching by it finds nothing."""
    token = world["projects.apitoken"]
    pages = [
        changelist("projects.apitoken"),
        reverse("admin:projects_apitoken_change", args=[token.pk]),
        reverse("admin:projects_user_change", args=[token.user.pk]),
        reverse("admin:projects_project_change", args=[token.project.pk]),
    ]
    for url in pages:
        assert token.key_hash not in client.get(url).content.decode()
    assert _found(client, "projects.apitoken", token.key_hash) == set()


def test_revoke_token_action(client, operator, world, django_capture_on_commit_callbacks):
    """The revoke action revokes the token."""
    token = world["projects.apitoken"]
    act(client, django_capture_on_commit_callbacks, "revoke", [token], model="projects.apitoken")
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_revoke_all_tokens_of_user_action(client, operator, world, django_capture_on_commit_callbacks):
    """The users' action revokes every token of the selected users."""
    user = world["tenant"].user
    act(client, django_capture_on_commit_callbacks, "revoke_tokens", [user], model="projects.user")
    assert not ApiToken.objects.filter(user=user, revoked_at__isnull=True).exists()


def test_rotate_secret_action(client, operator, world, django_capture_on_commit_callbacks):
    """Rotating a project's secret changes it."""
    project = world["projects.project"]
    act(client, django_capture_on_commit_callbacks, "rotate_secret", [project], model="projects.project")
    assert Project.objects.get(pk=project.pk).callback_secret != project.callback_secret


def test_project_quotas_are_editable(client, operator, world, django_capture_on_commit_callbacks):
    """Quotas saved on the project page are stored."""
    project = world["projects.project"]
    change(client, django_capture_on_commit_callbacks, project, max_queued_jobs=7, max_shots_per_job=500)
    project.refresh_from_db()
    assert (project.max_queued_jobs, project.max_shots_per_job) == (7, 500)


def test_project_secret_cannot_be_posted(client, operator, world, django_capture_on_commit_callbacks):
    """A callback secret posted with the project page is ignored (it changes only by rotation)."""
    project = world["projects.project"]
    change(client, django_capture_on_commit_callbacks, project, callback_secret="chosen-by-hand")
    assert Project.objects.get(pk=project.pk).callback_secret == project.callback_secret


def test_add_project_with_a_member(client, operator, tenant):
    """A project added in admin is created with its quotas and the member of its inline."""
    data = {
        "slug": "lab", "name": "Lab", "max_queued_jobs": 3, "max_shots_per_job": "", "max_circuits_per_job": "",
        "memberships-TOTAL_FORMS": 1, "memberships-INITIAL_FORMS": 0, "memberships-0-user": tenant.user.pk,
        "memberships-0-role": "admin",
    }  # fmt: skip
    response = client.post(reverse("admin:projects_project_add"), data)
    assert response.status_code == 302
    project = Project.objects.get(slug="lab")
    assert project.max_queued_jobs == 3
    assert Membership.objects.get(project=project, user=tenant.user).role == "admin"


def test_membership_inline_changes_role(client, operator, world, django_capture_on_commit_callbacks):
    """On the project page a member's role changes."""
    project, user = world["projects.project"], world["tenant"].user
    change(client, django_capture_on_commit_callbacks, project, **{"memberships-0-role": "admin"})
    assert Membership.objects.get(project=project, user=user).role == "admin"


def test_membership_inline_removes_member(client, operator, world, django_capture_on_commit_callbacks):
    """On the project page a deleted row removes the membership; the user's jobs stay."""
    project, user = world["projects.project"], world["tenant"].user
    change(client, django_capture_on_commit_callbacks, project, **{"memberships-0-DELETE": "on"})
    assert not Membership.objects.filter(project=project, user=user).exists()
    assert Job.objects.filter(user=user).count() == 2


def test_add_user_with_a_project(client, operator, tenant):
    """A user added in admin gets a public user_id and the membership of its inline."""
    data = {
        "username": "newcomer", "usable_password": "true", "password1": "a-long-pass-phrase-42",
        "password2": "a-long-pass-phrase-42", "memberships-TOTAL_FORMS": 1, "memberships-INITIAL_FORMS": 0,
        "memberships-0-project": tenant.project.pk, "memberships-0-role": "member",
    }  # fmt: skip
    response = client.post(reverse("admin:projects_user_add"), data)
    assert response.status_code == 302
    user = User.objects.get(username="newcomer")
    assert user.user_id is not None
    assert Membership.objects.filter(user=user, project=tenant.project, role="member").exists()


def test_user_page_shows_user_id_read_only(client, operator, world):
    """The user page shows the public user_id, not as a form field."""
    user = world["tenant"].user
    response = client.get(reverse("admin:projects_user_change", args=[user.pk]))
    assert str(user.user_id) in response.content.decode()
    assert "user_id" not in response.context["adminform"].form.fields


# --- Backends -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "status"), [("pause", "paused"), ("take_offline", "offline"), ("resume", "online")])
def test_backend_status_actions(client, operator, django_capture_on_commit_callbacks, action, status):
    """The backend actions set its status through backend_set_status."""
    backend = Backend.objects.get(name="dummy")
    if status == "online":
        backend_set_status(backend=backend, status="paused")
    act(client, django_capture_on_commit_callbacks, action, [backend], model="backends.backend")
    assert Backend.objects.get(pk=backend.pk).status == status


def test_resume_enqueues_held_jobs(client, operator, tenant, django_capture_on_commit_callbacks):
    """Resuming a paused backend puts the jobs it held into Redis."""
    backend = backend_set_status(backend=Backend.objects.get(name="dummy"), status="paused")
    with django_capture_on_commit_callbacks(execute=True):
        job = submit(tenant)
    assert str(job.job_id) not in queues.waiting_ids()
    act(client, django_capture_on_commit_callbacks, "resume", [backend], model="backends.backend")
    assert str(job.job_id) in queues.waiting_ids()


def test_backend_status_is_read_only_on_its_page(client, operator, django_capture_on_commit_callbacks):
    """Saving the backend page with another status leaves the status alone (the actions change it)."""
    backend = Backend.objects.get(name="dummy")
    change(client, django_capture_on_commit_callbacks, backend, status="offline", max_shots=5000)
    backend.refresh_from_db()
    assert (backend.status, backend.max_shots) == ("online", 5000)


def test_backend_with_unknown_driver_is_refused(client, operator):
    """A backend naming no registered driver is not saved."""
    data = {"name": "ghost", "driver": "nope", "code_types": '["qasm2"]', "status": "online", "options": "{}",
            "max_shots": 10, "max_circuits": 1, "time_limit": 60}  # fmt: skip
    response = client.post(reverse("admin:backends_backend_add"), data)
    assert response.status_code == 200
    assert "driver" in response.context["adminform"].form.errors
    assert not Backend.objects.filter(name="ghost").exists()


def test_unregistered_driver_is_shown_not_replaced(client, operator):
    """A backend whose driver is no longer registered shows that driver, not another one."""
    backend = Backend.objects.create(name="ghost", driver="gone", code_types=["qasm2"])
    form = client.get(reverse("admin:backends_backend_change", args=[backend.pk])).context["adminform"].form
    assert form["driver"].value() == "gone"
    assert ("gone", "gone (not registered)") in form.fields["driver"].choices


# --- Query counts ---------------------------------------------------------------------------------

# session, user, the filter sidebar's backends, two counts, the page, its tags (and a savepoint pair
# or two around them in tests)
JOB_CHANGELIST_QUERIES = 12


def test_job_changelist_query_count_is_flat(client, operator, tenant, other_tenant, django_assert_max_num_queries):
    """The jobs changelist makes as many queries for 40 jobs as for 3."""
    url = changelist("jobs.job")
    for _ in range(3):
        submit(tenant, tags=["a", "b"])
    with django_assert_max_num_queries(JOB_CHANGELIST_QUERIES) as few:
        assert client.get(url).status_code == 200
    for index in range(37):
        complete(submit(other_tenant if index % 2 else tenant, tags=[f"t{index}", "b"], callbacks=[HOOK]))
    with django_assert_max_num_queries(len(few)):
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_changelists_stay_under_a_fixed_query_budget(client, operator, world, django_assert_max_num_queries, model):
    """Every changelist stays within a small fixed number of queries."""
    for _ in range(5):
        complete(submit(world["tenant"], tags=["exp1"], callbacks=[HOOK]))
    with django_assert_max_num_queries(12):
        client.get(changelist(model))
