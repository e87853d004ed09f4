"""The web portal's pages, through Django's test client."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.models import Job
from projects.models import Membership, Role
from tests.factories import BELL, make_tenant, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(client, tenant):
    """The test client, signed in as ``tenant``'s user."""
    client.force_login(tenant.user)
    return client


@pytest.fixture
def post_submit(web, django_capture_on_commit_callbacks):
    """POST the submit form; on-commit callbacks (enqueueing) run as after a real commit."""

    def post(**data):
        fields = {"code_type": "qasm2", "backend": "dummy", "shots": "100", "job_priority": "5", "action": "submit"}
        fields.update(data)
        with django_capture_on_commit_callbacks(execute=True):
            return web.post("/jobs/new/", fields)

    return post


@pytest.fixture
def bell_job(tenant, submit):
    return Job.objects.get(pk=submit(tenant, job_name="bell")["job_id"])


def _page_urls(job, tenant) -> list[str]:
    return [
        "/",
        "/jobs/",
        "/jobs/new/",
        "/jobs/new/?example=bell",
        f"/jobs/new/?from={job.job_id}",
        f"/jobs/{job.job_id}/",
        f"/jobs/{job.job_id}/delete/",
        f"/projects/{tenant.project.slug}/",
        "/accounts/password_change/",
    ]


def test_every_page_renders_for_its_user(web, tenant, bell_job):
    """Every page answers 200 to a signed-in member."""
    for url in _page_urls(bell_job, tenant):
        assert web.get(url).status_code == 200, url


def test_pages_redirect_anonymous_users_to_login(client, tenant, bell_job):
    """Without a session every page redirects to the login page."""
    for url in _page_urls(bell_job, tenant):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url


def test_login_form_signs_in(client, db):
    """The login form takes Django's username/password fields and lands on the dashboard."""
    make_user("alice", password="s3cret-pass!")
    response = client.post("/accounts/login/", {"username": "alice", "password": "s3cret-pass!"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_submit_bell_from_form_runs_to_a_two_bar_histogram(web, post_submit, run_worker):
    """The Bell example submitted through the form lands on its page, then shows COMPLETED and bars 00 and 11."""
    example = web.get("/jobs/new/?example=bell").content.decode()
    assert "h q[0];" in example
    response = post_submit(source_code=BELL, job_name="bell-web", tags="exp1, web")
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.job_id}/"
    run_worker()
    page = web.get(f"/jobs/{job.job_id}/").content.decode()
    assert ">COMPLETED<" in page
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert re.findall(r'data-bitstring="([01]+)"', svg) == ["00", "11"]


def test_qubo_csv_upload_shows_solutions_table(web, post_submit, run_worker):
    """A 4x4 QUBO uploaded as .csv runs on qubo_exact and the page lists its solutions."""
    matrix = "-2,1,0,1\n1,-2,1,0\n0,1,-2,1\n1,0,1,-2\n"
    upload = SimpleUploadedFile("maxcut.csv", matrix.encode(), content_type="text/csv")
    response = post_submit(code_type="qubo", backend="qubo_exact", file=upload)
    job = Job.objects.get()
    assert response.status_code == 302
    assert job.code_type == "qubo"
    run_worker()
    page = web.get(f"/jobs/{job.job_id}/").content.decode()
    table = re.search(r'<table class="solutions">.*?</table>', page, re.S).group(0)
    first = re.search(r"<tbody>\s*<tr>(.*?)</tr>", table, re.S).group(1)
    assert [float(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", first)[:3]] == [1, -4, 4]


def test_bad_submit_shows_field_error_and_stores_nothing(post_submit):
    """Zero shots: the serializer's message is shown next to the shots field and no job exists."""
    response = post_submit(source_code=BELL, shots="0")
    assert response.status_code == 200
    assert "shots" in response.context["form"].errors
    assert 'id="id_shots_error"' in response.content.decode()
    assert Job.objects.count() == 0


def test_bulk_cancel_needs_confirmation(web, bell_job):
    """The first POST only shows a confirmation; the confirming POST cancels."""
    response = web.post("/jobs/bulk/", {"action": "cancel", "job_ids": [str(bell_job.job_id)]})
    assert response.status_code == 200
    assert "Yes, cancel them" in response.content.decode()
    bell_job.refresh_from_db()
    assert bell_job.status == "QUEUED"
    response = web.post("/jobs/bulk/", {"action": "cancel", "confirm": "yes", "job_ids": [str(bell_job.job_id)]})
    assert response.status_code == 302
    bell_job.refresh_from_db()
    assert bell_job.status == "CANCELLED"


def test_job_list_filters_by_status(web, tenant, submit):
    """The list applies the JobFilterSet: a status filter leaves out jobs in other statuses."""
    submit(tenant, job_name="stays-queued")
    page = web.get("/jobs/?status=COMPLETED").content.decode()
    assert "stays-queued" not in page
    assert "stays-queued" in web.get("/jobs/?status=QUEUED&tag=").content.decode()


def test_results_json_download(web, bell_job, run_worker):
    """results.json is the get_job_results answer."""
    run_worker()
    response = web.get(f"/jobs/{bell_job.job_id}/results.json")
    data = json.loads(response.content)
    assert response["Content-Disposition"].startswith("attachment")
    assert data["job_status"] == "COMPLETED"
    assert set(data["results"][0]["results"]) == {"00", "11"}


def test_results_csv_download(web, bell_job, run_worker):
    """results.csv has one row per bitstring with its count."""
    run_worker()
    response = web.get(f"/jobs/{bell_job.job_id}/results.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["entry", "bitstring", "count"]
    assert [row[1] for row in rows[1:]] == ["00", "11"]
    assert sum(int(row[2]) for row in rows[1:]) == 100


def test_other_tenants_job_is_the_404_page(client, other_tenant, bell_job):
    """Another tenant's job page answers 404 with the portal's template."""
    client.force_login(other_tenant.user)
    response = client.get(f"/jobs/{bell_job.job_id}/")
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]


def test_other_tenants_project_is_404(client, other_tenant, tenant):
    """A project the user is not a member of answers 404."""
    client.force_login(other_tenant.user)
    assert client.get(f"/projects/{tenant.project.slug}/").status_code == 404


def test_member_cannot_manage_members(web, tenant, db):
    """A plain member gets 403 from the admin-only member forms."""
    newcomer = make_user("newcomer")
    url = f"/projects/{tenant.project.slug}/members/"
    assert web.post(url, {"username": "newcomer", "role": "member"}).status_code == 403
    assert not Membership.objects.filter(user=newcomer).exists()


def test_project_admin_adds_and_removes_members(client, tenant, db):
    """A project admin adds a member by username, then removes them."""
    admin = make_tenant(project=tenant.project, role=Role.ADMIN)
    client.force_login(admin.user)
    newcomer = make_user("newcomer")
    slug = tenant.project.slug
    assert client.post(f"/projects/{slug}/members/", {"username": "newcomer", "role": "member"}).status_code == 302
    assert Membership.objects.filter(user=newcomer, project=tenant.project).exists()
    assert client.post(f"/projects/{slug}/members/newcomer/remove/").status_code == 302
    assert not Membership.objects.filter(user=newcomer).exists()


def test_token_is_shown_once_and_authenticates(web, tenant, rpc):
    """A new token appears on the next page only, and it then authenticates JSON-RPC calls."""
    slug = tenant.project.slug
    response = web.post(f"/projects/{slug}/tokens/", {"name": "laptop"}, follow=True)
    raw = re.search(r'value="(qp_[^"]+)"', response.content.decode()).group(1)
    assert raw not in web.get(f"/projects/{slug}/tokens/created/").content.decode()
    assert raw not in web.get(f"/projects/{slug}/").content.decode()
    answer = rpc("get_jobs", {"filters": {}}, who=type(tenant)(user=tenant.user, project=tenant.project, token=raw))
    assert "result" in answer


def test_staff_see_operator_links(client, staff, tenant):
    """Staff get the admin, queue and ops links in the header; members do not."""
    client.force_login(staff.user)
    page = client.get("/").content.decode()
    assert all(link in page for link in ('href="/admin/"', 'href="/django-rq/"', 'href="/ops/"'))
    client.force_login(tenant.user)
    page = client.get("/").content.decode()
    assert not any(link in page for link in ('href="/admin/"', 'href="/django-rq/"', 'href="/ops/"'))


def test_dashboard_queries_do_not_grow_with_jobs(web, tenant, submit, django_assert_max_num_queries):
    """The dashboard's query count is the same for 1 job as for 12."""
    submit(tenant)
    with django_assert_max_num_queries(12) as one:
        web.get("/")
    baseline = len(one.captured_queries)
    for _ in range(11):
        submit(tenant)
    with django_assert_max_num_queries(baseline):
        assert web.get("/").status_code == 200


def test_server_error_page_does_not_touch_the_database(rf, django_assert_num_queries):
    """The 500 page renders in the portal's look without a single query."""
    from portal.web import server_error

    with django_assert_num_queries(0):
        response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_in_place_refresh_leaves_the_flash_message_for_the_next_page(web, bell_job):
    """job.js refetches the job page when the stream says it ended; if that fetch races the redirect
    after an action, the action's message must still reach the page the user lands on."""
    web.post(f"/jobs/{bell_job.job_id}/cancel/")
    refreshed = web.get(f"/jobs/{bell_job.job_id}/", HTTP_X_PORTAL_REFRESH="1")
    assert "CANCELLED" in refreshed.content.decode() and "Job cancelled." not in refreshed.content.decode()
    assert "Job cancelled." in web.get(f"/jobs/{bell_job.job_id}/").content.decode()
