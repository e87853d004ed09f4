"""The REST job list (GET /api/v1/jobs/): who sees what, filters, ordering, pagination, and its query count."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs import services
from jobs.models import Job
from projects.models import Role
from tests.conftest import rest_error_of as error_of
from tests.factories import BELL, make_tenant
from tests.jobs.conftest import JOBS, assert_untouched, listed

pytestmark = pytest.mark.django_db

# --- list: visibility, filters, ordering, pagination ----------------------------------------------


def test_list_newest_first(create, api, tenant):
    """The list is newest first."""
    first, second = create(tenant), create(tenant)
    assert listed(api, tenant) == [second["job_id"], first["job_id"]]


def test_list_project_admin_sees_members_jobs(api, create, tenant):
    """A project admin lists every member's jobs of the project; a fellow member only their own."""
    admin = make_tenant(project=tenant.project, role=Role.ADMIN)
    colleague = make_tenant(project=tenant.project)
    job = create(tenant)
    assert listed(api, admin) == [job["job_id"]]
    assert listed(api, colleague) == []


def test_list_staff_see_every_job(api, create, tenant, other_tenant, staff):
    """Operators list the jobs of every project."""
    a, b = create(tenant), create(other_tenant)
    assert set(listed(api, staff)) == {a["job_id"], b["job_id"]}


def test_list_never_shows_other_tenants_jobs(api, create, tenant, other_tenant):
    """Another tenant's job is not listed, whatever the filter asks for."""
    job = create(tenant, tags=["secret"])
    assert listed(api, other_tenant) == []
    assert listed(api, other_tenant, job_id=job["job_id"]) == []
    assert listed(api, other_tenant, tag="secret") == []
    assert listed(api, other_tenant, project=str(tenant.project.project_id)) == []
    assert listed(api, other_tenant, user=str(tenant.user.user_id)) == []


@pytest.fixture
def mix(create, tenant, run_worker):
    """Three jobs: a COMPLETED qasm2 on dummy, a QUEUED qasm on aer_simulator, a QUEUED qasm3 on dummy."""
    done = create(tenant, tags=["exp1", "circuit1"], job_name="bell pair", job_priority=3)
    run_worker()
    aer = create(tenant, tags=["exp1"], backend="aer_simulator", code_type="qasm", description="a GHZ attempt")
    q3 = create(tenant, code_type="qasm3", source_code=["OPENQASM 3.0;\nqubit q;\n"], job_priority=7)
    return {"done": done["job_id"], "aer": aer["job_id"], "q3": q3["job_id"]}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "COMPLETED"}, {"done"}),
        ({"status": ["COMPLETED", "QUEUED"]}, {"done", "aer", "q3"}),
        ({"backend": "aer_simulator"}, {"aer"}),
        ({"code_type": "qasm3"}, {"q3"}),
        ({"tag": "exp1"}, {"done", "aer"}),
        ({"tag": ["exp1", "circuit1"]}, {"done"}),
        ({"q": "PAIR"}, {"done"}),
        ({"q": "ghz"}, {"aer"}),
        ({"tag": "exp1", "status": "QUEUED"}, {"aer"}),
    ],
)
def test_list_filter(api, tenant, mix, params, expected):
    """Each filter, repeatable status and tag (a job must carry all tags), q in name or description."""
    assert set(listed(api, tenant, **params)) == {mix[name] for name in expected}


def test_list_filter_by_job_id(api, tenant, mix):
    """job_id is repeatable."""
    assert set(listed(api, tenant, job_id=[mix["done"], mix["q3"]])) == {mix["done"], mix["q3"]}


def test_list_filter_by_project(api, create, tenant):
    """project narrows the list to one project's jobs."""
    second = make_tenant(role=Role.MEMBER)
    from projects.services import membership_set

    membership_set(project=second.project, user=tenant.user)
    here = create(tenant, project_id=str(tenant.project.project_id))
    there = create(tenant, project_id=str(second.project.project_id))
    assert listed(api, tenant, project=str(tenant.project.project_id)) == [here["job_id"]]
    assert listed(api, tenant, project=str(second.project.project_id)) == [there["job_id"]]


def test_list_filter_by_user(api, create, tenant):
    """user narrows a project admin's list to one member's jobs."""
    admin = make_tenant(project=tenant.project, role=Role.ADMIN)
    mine = create(admin)
    theirs = create(tenant)
    assert listed(api, admin, user=str(tenant.user.user_id)) == [theirs["job_id"]]
    assert listed(api, admin, user=str(admin.user.user_id)) == [mine["job_id"]]


def test_list_filter_by_dates(api, create, tenant):
    """created_after is inclusive, created_before exclusive; offsets and Z both parse."""
    old, new = create(tenant), create(tenant)
    Job.objects.filter(pk=old["job_id"]).update(created_at=datetime(2025, 1, 1, 12, tzinfo=UTC))
    Job.objects.filter(pk=new["job_id"]).update(created_at=datetime(2025, 3, 1, 12, tzinfo=UTC))
    assert listed(api, tenant, created_after="2025-03-01T12:00:00+00:00") == [new["job_id"]]
    assert listed(api, tenant, created_before="2025-03-01T12:00:00Z") == [old["job_id"]]
    between = {"created_after": "2025-01-01T00:00:00Z", "created_before": "2025-02-01T00:00:00+01:00"}
    assert listed(api, tenant, **between) == [old["job_id"]]


def test_list_leaves_out_deleted_unless_asked(api, create, tenant):
    """DELETED jobs are left out unless status asks for them."""
    job = create(tenant)
    api("delete", f"{JOBS}{job['job_id']}/", who=tenant)
    assert listed(api, tenant) == []
    assert listed(api, tenant, status="DELETED") == [job["job_id"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "FINISHED"}, "status"),
        ({"code_type": "python"}, "code_type"),
        ({"project": "not-a-uuid"}, "project"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"ordering": "shots"}, "ordering"),
        ({"page_size": "1001"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
    ],
)
def test_list_bad_parameter_is_named(api, tenant, params, field):
    """A filter, ordering or page size that cannot be understood is a 400 naming it."""
    error = error_of(api("get", JOBS, who=tenant, params=params), 400)
    assert error["error_code"] == "invalid_params"
    assert [e["field"] for e in error["data"]["errors"]] == [field]


def test_list_ordering(api, tenant, mix):
    """ordering: oldest first, by priority (1 first), by end time (unfinished last)."""
    assert listed(api, tenant, ordering="created_at") == [mix["done"], mix["aer"], mix["q3"]]
    assert listed(api, tenant, ordering="job_priority") == [mix["done"], mix["aer"], mix["q3"]]
    assert listed(api, tenant, ordering="-job_priority") == [mix["q3"], mix["aer"], mix["done"]]
    assert listed(api, tenant, ordering="ended_at")[0] == mix["done"]
    assert listed(api, tenant, ordering="-ended_at")[0] == mix["done"]


def test_list_ordering_ties_are_stable(api, create, tenant):
    """Jobs with the same sort key keep one order across pages: none repeated, none skipped."""
    ids = {create(tenant)["job_id"] for _ in range(5)}
    Job.objects.update(created_at=datetime(2025, 1, 1, tzinfo=UTC))
    pages = [listed(api, tenant, ordering="created_at", page_size=2, page=page) for page in (1, 2, 3)]
    assert sorted(sum(pages, [])) == sorted(ids)


def test_pagination_page_size_and_next(api, create, tenant):
    """page_size cuts the list; next links the following page, and is null on the last."""
    ids = [create(tenant)["job_id"] for _ in range(5)][::-1]
    first = api("get", JOBS, who=tenant, params={"page_size": 2}).json()
    assert first["count"] == 5
    assert [j["job_id"] for j in first["results"]] == ids[:2]
    assert first["previous"] is None
    assert "page=2" in first["next"] and "page_size=2" in first["next"]
    second = api("get", first["next"], who=tenant).json()
    assert [j["job_id"] for j in second["results"]] == ids[2:4]
    last = api("get", second["next"], who=tenant).json()
    assert [j["job_id"] for j in last["results"]] == ids[4:]
    assert last["next"] is None


def test_pagination_keeps_filters_in_next(api, create, tenant):
    """The next link carries the filters of the first page."""
    for _ in range(3):
        create(tenant, tags=["keep"])
    create(tenant)
    first = api("get", JOBS, who=tenant, params={"page_size": 2, "tag": "keep"}).json()
    assert first["count"] == 3
    assert len(api("get", first["next"], who=tenant).json()["results"]) == 1


def test_pagination_default_and_maximum(api, tenant):
    """Without page_size a page holds 100 jobs; 1000 is allowed; a page past the end is a 404."""
    spec = services.JobSpec(code_type="qasm2", source_code=[BELL], backend="dummy")
    for _ in range(101):
        services.job_submit(user=tenant.user, project=tenant.project, spec=spec)
    assert len(api("get", JOBS, who=tenant).json()["results"]) == 100
    assert len(api("get", JOBS, who=tenant, params={"page_size": 1000}).json()["results"]) == 101
    assert error_of(api("get", JOBS, who=tenant, params={"page": 3}), 404)["error_code"] == "not_found"


# --- tenant isolation -----------------------------------------------------------------------------


@pytest.fixture
def foreign_job(create, tenant):
    """A QUEUED job of ``tenant``; ``other_tenant`` must not reach it."""
    return create(tenant, job_name="private", tags=["secret"])


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("get", "results/", None),
        ("patch", "", {"job_name": "pwned", "job_priority": 1}),
        ("delete", "", None),
        ("post", "cancel/", None),
    ],
)
def test_other_tenants_job_not_found(api, other_tenant, foreign_job, method, suffix, body):
    """Every endpoint answers 404 for another tenant's job, the same as for a missing one, and changes nothing."""
    response = api(method, f"{JOBS}{foreign_job['job_id']}/{suffix}", body, who=other_tenant)
    error = error_of(response, 404)
    missing = error_of(api(method, f"{JOBS}{uuid.uuid4()}/{suffix}", body, who=other_tenant), 404)
    assert error["error_code"] == missing["error_code"] == "not_found"
    assert_untouched(foreign_job["job_id"])


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"job_name": "pwned"}),
        ("delete", "", None),
        ("post", "cancel/", None),
    ],
)
def test_fellow_member_does_not_reach_it(api, tenant, foreign_job, method, suffix, body):
    """A plain member of the same project does not reach a colleague's job either."""
    colleague = make_tenant(project=tenant.project)
    assert api(method, f"{JOBS}{foreign_job['job_id']}/{suffix}", body, who=colleague).status_code == 404
    assert_untouched(foreign_job["job_id"])


def test_project_admin_manages_members_job(api, tenant, foreign_job):
    """The project's admin reads, updates and cancels a member's job (SPEC §7)."""
    admin = make_tenant(project=tenant.project, role=Role.ADMIN)
    path = f"{JOBS}{foreign_job['job_id']}/"
    assert api("get", path, who=admin).json()["job_name"] == "private"
    assert api("patch", path, {"job_name": "renamed"}, who=admin).json()["job_name"] == "renamed"
    assert api("post", f"{path}cancel/", who=admin).json()["job_status"] == "CANCELLED"


# --- query counts ---------------------------------------------------------------------------------


def _queries_for_list(api, who, path: str) -> int:
    api("get", path, who=who)  # the token's last_used_at is written on its first use, not later
    with CaptureQueriesContext(connection) as queries:
        response = api("get", path, who=who)
    assert response.status_code == 200
    return len(queries)


def test_list_query_count_does_not_grow(api, tenant, django_assert_max_num_queries):
    """Listing 30 jobs with tags costs the queries of listing 3."""
    spec = services.JobSpec(code_type="qasm2", source_code=[BELL], backend="dummy", tags=["a", "b"])
    for _ in range(3):
        services.job_submit(user=tenant.user, project=tenant.project, spec=spec)
    few = _queries_for_list(api, tenant, JOBS)
    for _ in range(27):
        services.job_submit(user=tenant.user, project=tenant.project, spec=spec)
    with django_assert_max_num_queries(few):
        assert len(api("get", JOBS, who=tenant).json()["results"]) == 30
    assert few <= 4
