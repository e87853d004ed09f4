"""The REST API of projects, members, backends and API tokens (/api/v1/...): roles, tenancy, query counts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backends.models import Backend
from jobs import services as job_services
from projects.models import ApiToken, Membership, Project, Role
from projects.services import membership_set, token_create
from tests.conftest import rest_error_of as error_of
from tests.conftest import result_of
from tests.factories import BELL, make_project, make_tenant, make_user

pytestmark = pytest.mark.django_db

PROJECTS, BACKENDS, TOKENS = "/api/v1/projects/", "/api/v1/backends/", "/api/v1/tokens/"


@pytest.fixture
def admin(tenant):
    """An admin of ``tenant``'s project."""
    return make_tenant(project=tenant.project, role=Role.ADMIN)


def members_url(project: Project) -> str:
    return f"{PROJECTS}{project.project_id}/members/"


def queries_of(api, who, path: str) -> int:
    api("get", path, who=who)  # the token's last_used_at is written on its first use, not later
    with CaptureQueriesContext(connection) as queries:
        assert api("get", path, who=who).status_code == 200
    return len(queries)


# --- projects -------------------------------------------------------------------------------------


def test_member_sees_own_projects_without_admin_fields(api, tenant, other_tenant):
    """A member lists their projects with slug, name, id and role; no members, quotas or secret."""
    projects = api("get", PROJECTS, who=tenant).json()["results"]
    assert len(projects) == 1
    assert set(projects[0]) == {"project_id", "slug", "name", "role", "created_at"}
    assert projects[0]["project_id"] == str(tenant.project.project_id)
    assert projects[0]["role"] == "member"


def test_admin_sees_members_quotas_and_secret(api, tenant, admin):
    """A project admin also sees the members, the quotas and the callback secret."""
    project = api("get", f"{PROJECTS}{tenant.project.project_id}/", who=admin).json()
    assert project["role"] == "admin"
    assert project["callback_secret"] == tenant.project.callback_secret
    assert project["max_queued_jobs"] == tenant.project.max_queued_jobs
    assert project["max_shots_per_job"] is None and project["max_circuits_per_job"] is None
    assert {(m["username"], m["role"]) for m in project["members"]} == {
        (tenant.user.username, "member"),
        (admin.user.username, "admin"),
    }


def test_staff_see_every_project_as_admins(api, tenant, other_tenant, staff):
    """Operators list every project, with the admin fields, and no role where they are not members."""
    projects = {p["project_id"]: p for p in api("get", PROJECTS, who=staff).json()["results"]}
    theirs = projects[str(other_tenant.project.project_id)]
    assert theirs["role"] is None
    assert theirs["callback_secret"] == other_tenant.project.callback_secret
    assert str(tenant.project.project_id) in projects


def test_other_tenants_project_not_found(api, tenant, other_tenant):
    """Another tenant's project is a 404, the same as one that does not exist."""
    url = f"{PROJECTS}{tenant.project.project_id}/"
    assert error_of(api("get", url, who=other_tenant), 404)["error_code"] == "not_found"
    assert error_of(api("get", f"{PROJECTS}{uuid.uuid4()}/", who=other_tenant), 404)["error_code"] == "not_found"
    assert error_of(api("get", f"{PROJECTS}nope/", who=other_tenant), 404)["error_code"] == "not_found"


def test_admin_patches_name_and_quotas(api, tenant, admin):
    """A project admin renames the project and sets its quotas; null lifts a per-job quota."""
    url = f"{PROJECTS}{tenant.project.project_id}/"
    body = {"name": "Renamed", "max_queued_jobs": 7, "max_shots_per_job": 500, "max_circuits_per_job": 3}
    answer = api("patch", url, body, who=admin).json()
    assert (answer["name"], answer["max_queued_jobs"], answer["max_shots_per_job"]) == ("Renamed", 7, 500)
    api("patch", url, {"max_shots_per_job": None}, who=admin)
    project = Project.objects.get(pk=tenant.project.pk)
    assert (project.name, project.max_queued_jobs, project.max_shots_per_job, project.max_circuits_per_job) == (
        "Renamed",
        7,
        None,
        3,
    )


def test_member_may_not_patch_project(api, tenant):
    """A member who is not admin gets 403 and the project is unchanged."""
    error = error_of(api("patch", f"{PROJECTS}{tenant.project.project_id}/", {"name": "x"}, who=tenant), 403)
    assert error["error_code"] == "permission_denied"
    assert Project.objects.get(pk=tenant.project.pk).name == tenant.project.name


def test_other_tenant_patch_project_not_found(api, tenant, other_tenant):
    """Patching another tenant's project is a 404, never a 403, and changes nothing."""
    other_admin = make_tenant(project=other_tenant.project, role=Role.ADMIN)
    url = f"{PROJECTS}{tenant.project.project_id}/"
    assert error_of(api("patch", url, {"max_queued_jobs": 0}, who=other_admin), 404)["error_code"] == "not_found"
    assert Project.objects.get(pk=tenant.project.pk).max_queued_jobs == tenant.project.max_queued_jobs


def test_patch_project_bad_fields_named(api, tenant, admin):
    """Quota values are checked strictly; unknown fields (the slug, the secret) are named."""
    url = f"{PROJECTS}{tenant.project.project_id}/"
    body = {"max_queued_jobs": -1, "max_shots_per_job": "10", "slug": "x", "callback_secret": "s"}
    error = error_of(api("patch", url, body, who=admin), 400)
    assert {e["field"] for e in error["data"]["errors"]} == {"slug", "callback_secret"}
    error = error_of(api("patch", url, {"max_queued_jobs": -1, "max_shots_per_job": "10"}, who=admin), 400)
    assert {e["field"] for e in error["data"]["errors"]} == {"max_queued_jobs", "max_shots_per_job"}


def test_project_quota_patched_over_rest_applies(api, tenant, admin):
    """A quota set over REST is what the next submission is checked against."""
    api("patch", f"{PROJECTS}{tenant.project.project_id}/", {"max_shots_per_job": 10}, who=admin)
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "shots": 11}
    assert error_of(api("post", "/api/v1/jobs/", body, who=tenant), 429)["error_code"] == "quota_exceeded"


# --- members --------------------------------------------------------------------------------------


def test_member_lists_members(api, tenant, admin):
    """Any member lists the project's members with their roles."""
    members = api("get", members_url(tenant.project), who=tenant).json()["results"]
    assert {(m["username"], m["role"]) for m in members} == {
        (tenant.user.username, "member"),
        (admin.user.username, "admin"),
    }
    assert set(members[0]) == {"username", "user_id", "role", "created_at"}


def test_admin_adds_member(api, tenant, admin):
    """An admin adds a user by username (201); the user is then a member with that role."""
    newcomer = make_user()
    response = api("post", members_url(tenant.project), {"username": newcomer.username, "role": "admin"}, who=admin)
    assert response.status_code == 201
    assert response.json()["user_id"] == str(newcomer.user_id)
    assert Membership.objects.get(project=tenant.project, user=newcomer).role == "admin"


def test_admin_post_existing_member_changes_role(api, tenant, admin):
    """Posting an existing member sets their role (200)."""
    body = {"username": tenant.user.username, "role": "admin"}
    response = api("post", members_url(tenant.project), body, who=admin)
    assert response.status_code == 200
    assert Membership.objects.get(project=tenant.project, user=tenant.user).role == "admin"


def test_admin_add_unknown_user_names_field(api, tenant, admin):
    """An unknown username or role is a 400 naming the field."""
    body = {"username": "nobody-here", "role": "owner"}
    error = error_of(api("post", members_url(tenant.project), body, who=admin), 400)
    assert [e["field"] for e in error["data"]["errors"]] == ["role"]
    error = error_of(api("post", members_url(tenant.project), {"username": "nobody-here"}, who=admin), 400)
    assert error["data"]["errors"] == [
        {"field": "username", "message": "no user of that name", "msg": "no user of that name", "loc": ["username"]}
    ]


def test_admin_changes_role(api, tenant, admin):
    """PATCH members/{username}/ changes the role."""
    response = api("patch", f"{members_url(tenant.project)}{tenant.user.username}/", {"role": "admin"}, who=admin)
    assert response.json()["role"] == "admin"
    assert Membership.objects.get(project=tenant.project, user=tenant.user).role == "admin"


def test_a_patch_without_a_role_changes_nothing(api, tenant, admin):
    """PATCH members/{username}/ with nothing to change answers the member as it is (a partial update)."""
    response = api("patch", f"{members_url(tenant.project)}{tenant.user.username}/", {}, who=admin)
    assert response.status_code == 200 and response.json()["role"] == "member"
    assert Membership.objects.get(project=tenant.project, user=tenant.user).role == "member"


def test_admin_removes_member(api, tenant, admin):
    """DELETE members/{username}/ takes the member out (204); their jobs stay."""
    spec = job_services.JobSpec(code_type="qasm2", source_code=[BELL], backend="dummy")
    job = job_services.job_submit(user=tenant.user, project=tenant.project, spec=spec)
    assert api("delete", f"{members_url(tenant.project)}{tenant.user.username}/", who=admin).status_code == 204
    assert not Membership.objects.filter(project=tenant.project, user=tenant.user).exists()
    assert api("get", f"/api/v1/jobs/{job.job_id}/", who=admin).status_code == 200


def test_removing_a_non_member_not_found(api, tenant, admin):
    """A username that is not a member of the project is a 404."""
    outsider = make_user()
    assert api("delete", f"{members_url(tenant.project)}{outsider.username}/", who=admin).status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("post", "", {"username": "someone", "role": "admin"}),
        ("patch", "{self}/", {"role": "admin"}),
        ("delete", "{admin}/", None),
    ],
)
def test_member_may_not_manage_members(api, tenant, admin, method, suffix, body):
    """A member who is not admin gets 403 for every change, and the memberships stay as they were."""
    make_user("someone")
    path = members_url(tenant.project) + suffix.format(self=tenant.user.username, admin=admin.user.username)
    assert error_of(api(method, path, body, who=tenant), 403)["error_code"] == "permission_denied"
    assert dict(Membership.objects.filter(project=tenant.project).values_list("user__username", "role")) == {
        tenant.user.username: "member",
        admin.user.username: "admin",
    }


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("get", "{member}/", None),
        ("post", "", {"username": "intruder", "role": "admin"}),
        ("patch", "{member}/", {"role": "admin"}),
        ("delete", "{member}/", None),
    ],
)
def test_other_tenant_members_not_found(api, tenant, other_tenant, method, suffix, body):
    """For someone outside the project, even an admin elsewhere, its members are a 404 whatever the method."""
    make_user("intruder")
    outsider_admin = make_tenant(project=other_tenant.project, role=Role.ADMIN)
    path = members_url(tenant.project) + suffix.format(member=tenant.user.username)
    assert error_of(api(method, path, body, who=outsider_admin), 404)["error_code"] == "not_found"
    assert list(Membership.objects.filter(project=tenant.project).values_list("user__username", "role")) == [
        (tenant.user.username, "member")
    ]


def test_members_of_malformed_project_id_not_found(api, tenant):
    """A project id that is no UUID is a 404 in the error shape."""
    assert error_of(api("get", f"{PROJECTS}not-a-uuid/members/", who=tenant), 404)["error_code"] == "not_found"


def test_staff_manage_any_projects_members(api, tenant, staff):
    """Operators manage the members of any project."""
    response = api("patch", f"{members_url(tenant.project)}{tenant.user.username}/", {"role": "admin"}, who=staff)
    assert response.status_code == 200


# --- backends -------------------------------------------------------------------------------------


def test_backends_same_as_get_backends(api, rpc, tenant):
    """GET /backends/ answers the backends as get_backends does, queue lengths included."""
    job_services.job_submit(
        user=tenant.user,
        project=tenant.project,
        spec=job_services.JobSpec(code_type="qasm2", source_code=[BELL], backend="dummy"),
    )
    rest = api("get", BACKENDS, who=tenant).json()["results"]
    assert rest == result_of(rpc("get_backends", {}, who=tenant))
    assert {b["name"]: b["queue_length"] for b in rest}["dummy"] == 1


def test_backend_by_name(api, tenant):
    """GET /backends/{name}/ answers one backend; an unknown name is a 404."""
    backend = api("get", f"{BACKENDS}qubo_exact/", who=tenant).json()
    assert (backend["name"], backend["code_types"]) == ("qubo_exact", ["qubo"])
    assert error_of(api("get", f"{BACKENDS}nope/", who=tenant), 404)["error_code"] == "not_found"


def test_backends_are_read_only(api, staff):
    """Backends are managed in admin: writes are a 405, even for operators."""
    assert error_of(api("post", BACKENDS, {"name": "x"}, who=staff), 405)["error_code"] == "method_not_allowed"
    assert api("delete", f"{BACKENDS}dummy/", who=staff).status_code == 405
    assert Backend.objects.filter(name="dummy").exists()


# --- tokens ---------------------------------------------------------------------------------------


def test_tokens_list_own_without_secrets(api, tenant, other_tenant):
    """The list shows the caller's tokens (prefix, name, project, scope, times), never a secret or a hash."""
    token_create(user=tenant.user, project=tenant.project, name="ci")
    tokens = api("get", TOKENS, who=tenant).json()["results"]
    assert len(tokens) == 2
    assert set(tokens[0]) == {"id", "prefix", "name", "project_id", "scope", "created_at", "expires_at",
                              "revoked_at", "last_used_at"}  # fmt: skip
    assert tokens[0]["name"] == "ci" and tokens[0]["project_id"] == str(tenant.project.project_id)
    assert tokens[1]["project_id"] is None and tokens[1]["last_used_at"] is not None
    assert tenant.token not in str(tokens) and other_tenant.token[:10] not in str(tokens)


def test_token_created_shown_once_and_works(api, tenant):
    """POST answers the token once (201); it then works as a Bearer token and is never shown again."""
    response = api("post", TOKENS, {"name": "laptop", "project_id": str(tenant.project.project_id)}, who=tenant)
    assert response.status_code == 201
    created = response.json()
    raw = created["token"]
    assert raw.startswith("qp_") and created["prefix"] == raw[:10]
    me = api("get", f"{TOKENS}{created['id']}/", token=raw)
    assert me.status_code == 200 and "token" not in me.json()
    assert raw not in api("get", TOKENS, who=tenant).content.decode()
    assert ApiToken.objects.get(pk=created["id"]).key_hash != raw


def test_token_created_over_rest_submits_to_its_project(api, tenant):
    """A project-bound token made over REST submits into that project."""
    membership_set(project=make_project(), user=tenant.user)
    raw = api("post", TOKENS, {"project_id": str(tenant.project.project_id)}, who=tenant).json()["token"]
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}
    assert api("post", "/api/v1/jobs/", body, token=raw).json()["project_id"] == str(tenant.project.project_id)


def test_token_delete_revokes_at_once(api, tenant):
    """DELETE revokes the token (204): its very next request is a 401."""
    created = api("post", TOKENS, {"name": "short-lived"}, who=tenant).json()
    assert api("get", TOKENS, token=created["token"]).status_code == 200
    assert api("delete", f"{TOKENS}{created['id']}/", who=tenant).status_code == 204
    error = error_of(api("get", TOKENS, token=created["token"]), 401)
    assert error["message"] == "This API token has been revoked."
    assert api("get", f"{TOKENS}{created['id']}/", who=tenant).json()["revoked_at"] is not None


def test_driver_scope_refused_for_non_staff(api, tenant):
    """scope driver is for operators: 403 for anyone else, and no token is made."""
    error = error_of(api("post", TOKENS, {"scope": "driver"}, who=tenant), 403)
    assert error["error_code"] == "permission_denied"
    assert tenant.user.api_tokens.count() == 1


def test_driver_scope_for_staff(api, staff):
    """Operators create driver tokens."""
    assert api("post", TOKENS, {"scope": "driver"}, who=staff).json()["scope"] == "driver"


def test_token_for_foreign_project_not_found(api, tenant, other_tenant):
    """Binding a token to a project one is not a member of reads as not found."""
    body = {"project_id": str(tenant.project.project_id)}
    assert error_of(api("post", TOKENS, body, who=other_tenant), 404)["error_code"] == "not_found"
    assert other_tenant.user.api_tokens.count() == 1


def test_token_bad_fields_named(api, tenant):
    """A past expiry, an unknown scope and an unknown field are each named."""
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    error = error_of(api("post", TOKENS, {"expires_at": past, "scope": "root", "secret": "x"}, who=tenant), 400)
    assert {e["field"] for e in error["data"]["errors"]} == {"secret"}
    error = error_of(api("post", TOKENS, {"expires_at": past, "scope": "root"}, who=tenant), 400)
    assert {e["field"] for e in error["data"]["errors"]} == {"expires_at", "scope"}


def test_token_with_expiry(api, tenant):
    """expires_at is stored and shown with its offset."""
    when = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    created = api("post", TOKENS, {"expires_at": when.isoformat()}, who=tenant).json()
    assert datetime.fromisoformat(created["expires_at"]) == when
    assert created["expires_at"].endswith("+00:00")


def test_other_users_token_not_found(api, tenant, other_tenant):
    """Someone else's token is a 404 to read or revoke, and stays active."""
    theirs = other_tenant.user.api_tokens.get()
    assert error_of(api("get", f"{TOKENS}{theirs.pk}/", who=tenant), 404)["error_code"] == "not_found"
    assert error_of(api("delete", f"{TOKENS}{theirs.pk}/", who=tenant), 404)["error_code"] == "not_found"
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is None
    assert api("get", TOKENS, who=other_tenant).status_code == 200


# --- query counts ---------------------------------------------------------------------------------


def test_projects_list_query_count_does_not_grow(api, staff, django_assert_max_num_queries):
    """Listing 30 projects with their members costs the queries of listing 3."""
    for _ in range(2):  # and the operator's own project
        make_tenant(role=Role.ADMIN)
    few = queries_of(api, staff, PROJECTS)
    for _ in range(27):
        make_tenant(project=make_tenant(role=Role.ADMIN).project)
    with django_assert_max_num_queries(few):
        assert api("get", PROJECTS, who=staff).json()["count"] == 30


def test_members_list_query_count_does_not_grow(api, tenant, django_assert_max_num_queries):
    """Listing 30 members costs the queries of listing 3."""
    for _ in range(2):
        make_tenant(project=tenant.project)
    few = queries_of(api, tenant, members_url(tenant.project))
    for _ in range(27):
        membership_set(project=tenant.project, user=make_user())
    with django_assert_max_num_queries(few):
        assert api("get", members_url(tenant.project), who=tenant).json()["count"] == 30


def test_tokens_list_query_count_does_not_grow(api, tenant, django_assert_max_num_queries):
    """Listing 30 tokens costs the queries of listing 3."""
    for _ in range(2):
        token_create(user=tenant.user, project=tenant.project)
    few = queries_of(api, tenant, TOKENS)
    for _ in range(27):
        token_create(user=tenant.user, project=tenant.project)
    with django_assert_max_num_queries(few):
        assert api("get", TOKENS, who=tenant).json()["count"] == 30


def test_backends_list_query_count_does_not_grow(api, tenant, django_assert_max_num_queries):
    """Listing 30 backends costs the queries of listing the few of a fresh install."""
    few = queries_of(api, tenant, BACKENDS)
    for index in range(30 - Backend.objects.count()):
        Backend.objects.create(name=f"extra{index}", driver="aer", code_types=["qasm2"])
    with django_assert_max_num_queries(few):
        assert api("get", BACKENDS, who=tenant).json()["count"] == 30


# --- the browsable API ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        PROJECTS,
        f"{PROJECTS}{{project}}/",
        f"{PROJECTS}{{project}}/members/",
        f"{PROJECTS}{{project}}/members/{{username}}/",
        BACKENDS,
        f"{BACKENDS}dummy/",
        TOKENS,
        f"{TOKENS}{{token}}/",
    ],
)
def test_browsable_pages_render(client, tenant, admin, path):
    """Every collection and item renders as HTML for a signed-in project admin, forms included."""
    client.force_login(admin.user)
    token = admin.user.api_tokens.get()
    url = path.format(project=tenant.project.project_id, username=tenant.user.username, token=token.pk)
    response = client.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", [PROJECTS, TOKENS, "/api/v1/jobs/"])
def test_options_describe_the_endpoint(api, tenant, path):
    """OPTIONS describes an endpoint (DRF's metadata) without error."""
    response = api("options", path, who=tenant)
    assert response.status_code == 200
    assert response.json()["renders"] == ["application/json", "text/html"]
