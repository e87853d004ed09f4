"""The web portal's project page: quotas edited by admins, every member's project tokens for admins."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import Job
from projects.models import ApiToken, Project, Role
from projects.services import membership_set, token_create
from tests.factories import make_project, make_tenant, submit_bell

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(tenant):
    """An admin of ``tenant``'s project."""
    return make_tenant(project=tenant.project, role=Role.ADMIN)


def quotas_url(project: Project) -> str:
    return f"/projects/{project.slug}/quotas/"


def revoke_url(project: Project, token: ApiToken) -> str:
    return f"/projects/{project.slug}/tokens/{token.pk}/revoke/"


def test_admin_changes_quotas(client, admin):
    """An admin's form goes through project_update; an empty per-job quota lifts it."""
    project = admin.project
    Project.objects.filter(pk=project.pk).update(max_shots_per_job=500)
    client.force_login(admin.user)
    page = client.get(f"/projects/{project.slug}/").content.decode()
    assert 'name="max_queued_jobs"' in page and 'value="500"' in page
    response = client.post(
        quotas_url(project), {"max_queued_jobs": "7", "max_shots_per_job": "", "max_circuits_per_job": "3"}
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.max_queued_jobs, project.max_shots_per_job, project.max_circuits_per_job) == (7, None, 3)
    page = client.get(f"/projects/{project.slug}/").content.decode()
    assert "Quotas saved." in page and "of at most 7" in page


def test_refused_quota_is_shown_next_to_its_field(client, admin):
    """Zero shots per job is refused by the API's rule, shown at the field, and nothing changes."""
    client.force_login(admin.user)
    response = client.post(
        quotas_url(admin.project), {"max_queued_jobs": "5", "max_shots_per_job": "0", "max_circuits_per_job": ""}
    )
    assert response.status_code == 200
    assert "max_shots_per_job" in response.context["quotas_form"].errors
    assert 'id="id_max_shots_per_job_error"' in response.content.decode()
    admin.project.refresh_from_db()
    assert admin.project.max_queued_jobs == 1000


def test_not_a_number_is_a_form_error(client, admin):
    """Text where a number belongs is the form's error; the project keeps its quotas."""
    client.force_login(admin.user)
    response = client.post(quotas_url(admin.project), {"max_queued_jobs": "lots"})
    assert response.status_code == 200
    assert "max_queued_jobs" in response.context["quotas_form"].errors
    admin.project.refresh_from_db()
    assert admin.project.max_queued_jobs == 1000


def test_members_see_quotas_read_only_and_cannot_change_them(client, tenant):
    """A member sees the quotas but no form, and a POST answers 403."""
    client.force_login(tenant.user)
    page = client.get(f"/projects/{tenant.project.slug}/").content.decode()
    assert "of at most 1000" in page
    assert 'name="max_queued_jobs"' not in page
    assert client.post(quotas_url(tenant.project), {"max_queued_jobs": "1000000"}).status_code == 403
    tenant.project.refresh_from_db()
    assert tenant.project.max_queued_jobs == 1000


def test_quotas_of_another_project_are_not_found(client, tenant, other_tenant):
    """Someone else's project answers 404 to the quota form, as to its page."""
    client.force_login(make_tenant(project=other_tenant.project, role=Role.ADMIN).user)
    assert client.post(quotas_url(tenant.project), {"max_queued_jobs": "1"}).status_code == 404
    tenant.project.refresh_from_db()
    assert tenant.project.max_queued_jobs == 1000


def test_admin_sees_every_members_project_tokens(client, tenant, admin):
    """Admins see each member's tokens bound to the project with owner, name, prefix and state, but not
    tokens bound to no project or to another project."""
    bound, _ = token_create(user=tenant.user, project=tenant.project, name="lab-laptop")
    elsewhere = make_project()
    membership_set(project=elsewhere, user=tenant.user)
    elsewhere, _ = token_create(user=tenant.user, project=elsewhere, name="other-project")
    client.force_login(admin.user)
    page = client.get(f"/projects/{tenant.project.slug}/").content.decode()
    table = re.search(r'<table class="tokens">.*?</table>', page, re.S).group(0)
    row = re.search(r"<tr><td>" + tenant.user.username + r"</td>.*?</tr>", table, re.S).group(0)
    assert bound.prefix in row and "lab-laptop" in row and "active" in row
    unbound = ApiToken.objects.get(user=tenant.user, project=None)
    assert unbound.prefix not in page
    assert elsewhere.prefix not in page and "other-project" not in page


def test_member_sees_only_own_project_tokens(client, tenant, admin):
    """A member's page lists their own project tokens, not the admin's."""
    mine, _ = token_create(user=tenant.user, project=tenant.project, name="mine")
    theirs, _ = token_create(user=admin.user, project=tenant.project, name="admins-token")
    client.force_login(tenant.user)
    page = client.get(f"/projects/{tenant.project.slug}/").content.decode()
    assert mine.prefix in page
    assert theirs.prefix not in page and "admins-token" not in page


def test_admin_revokes_a_members_token(client, tenant, admin, rpc):
    """The admin's revoke goes through token_revoke; the member's token stops authenticating at once."""
    token, raw = token_create(user=tenant.user, project=tenant.project, name="leaked")
    who = type(tenant)(user=tenant.user, project=tenant.project, token=raw)
    assert "result" in rpc("get_jobs", {"filters": {}}, who=who)
    client.force_login(admin.user)
    response = client.post(revoke_url(tenant.project, token), follow=True)
    assert f"of {tenant.user.username} revoked" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "error" in rpc("get_jobs", {"filters": {}}, who=who)


def test_member_cannot_revoke_anothers_token(client, tenant, admin):
    """A member revoking the admin's project token gets 404, and the token stays active."""
    token, _ = token_create(user=admin.user, project=tenant.project)
    client.force_login(tenant.user)
    assert client.post(revoke_url(tenant.project, token)).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_member_revokes_own_token(client, tenant):
    """A member still revokes their own project token."""
    token, _ = token_create(user=tenant.user, project=tenant.project)
    client.force_login(tenant.user)
    assert client.post(revoke_url(tenant.project, token)).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_another_projects_admin_cannot_see_or_revoke(client, tenant, other_tenant):
    """An admin of another project neither sees the project's tokens nor revokes one, not even through
    a URL of their own project."""
    token, _ = token_create(user=tenant.user, project=tenant.project)
    stranger = make_tenant(project=other_tenant.project, role=Role.ADMIN)
    client.force_login(stranger.user)
    assert client.get(f"/projects/{tenant.project.slug}/").status_code == 404
    assert client.post(revoke_url(tenant.project, token)).status_code == 404
    assert client.post(revoke_url(other_tenant.project, token)).status_code == 404
    assert token.prefix not in client.get(f"/projects/{other_tenant.project.slug}/").content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None


def test_project_page_queries_do_not_grow_with_tokens(client, tenant, admin, django_assert_max_num_queries):
    """The admin's project page costs the same queries for 1 token as for 10 of several owners."""
    token_create(user=tenant.user, project=tenant.project)
    client.force_login(admin.user)
    with django_assert_max_num_queries(30) as one:
        client.get(f"/projects/{tenant.project.slug}/")
    baseline = len(one.captured_queries)
    for i in range(9):
        token_create(user=(tenant.user, admin.user)[i % 2], project=tenant.project)
    with django_assert_max_num_queries(baseline):
        assert client.get(f"/projects/{tenant.project.slug}/").status_code == 200


def test_the_project_page_charts_jobs_and_shots_per_day(client, tenant):
    """Two jobs of 100 shots today, one of 300 three days ago, one 40 days ago (out of the window), and
    another project's job: 30 bars each, today's 2 jobs and 200 shots, three days ago 1 and 300."""
    now = timezone.now()
    submit_bell(tenant, shots=100)
    submit_bell(tenant, shots=100)
    old = submit_bell(tenant, shots=300)
    Job.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=3))
    older = submit_bell(tenant, shots=999)
    Job.objects.filter(pk=older.pk).update(created_at=now - timedelta(days=40))
    submit_bell(make_tenant(), shots=5000)
    client.force_login(tenant.user)
    page = client.get(f"/projects/{tenant.project.slug}/").content.decode()

    def bars(name: str) -> list[int]:
        svg = re.search(rf'aria-label="{name}">.*?</svg>', page, re.S).group(0)
        return [int(v) for v in re.findall(r'data-day="\d\d-\d\d" data-value="(\d+)"', svg)]

    jobs, shots = bars("Jobs submitted per day"), bars("Shots submitted per day")
    assert len(jobs) == len(shots) == 30
    assert (jobs[-1], shots[-1]) == (2, 200)
    assert (jobs[-4], shots[-4]) == (1, 300)
    assert (sum(jobs), sum(shots)) == (3, 500)
