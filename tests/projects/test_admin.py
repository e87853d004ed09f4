"""Django admin of tenancy: secrets and token hashes never shown, memberships and projects edited safely."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jobs.models import Job
from projects.models import ApiToken, Membership, Project, User
from tests.admin_pages import act, change, changelist, found

pytestmark = pytest.mark.django_db


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
    assert found(client, "projects.apitoken", token.key_hash) == set()


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
