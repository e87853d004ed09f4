"""The web portal's pages, through Django's test client."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from jobs.models import Job
from projects.models import Membership, Role
from tests.factories import BELL, make_tenant, make_user, submit_bell

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
    assert response.streaming
    data = json.loads(response.getvalue())
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


# --- Results that grow: the job page stays bounded ----------------------------------------------


def _finished(job: Job, *entries) -> Job:
    """``job`` run through the worker's services, its entries' outcomes given (no worker, no simulator)."""
    from jobs.services import job_finish, job_record_entry, job_start

    job_start(job_id=job.job_id)
    for index, entry in enumerate(entries):
        job_record_entry(job_id=job.job_id, index=index, entry=entry)
    job_finish(job_id=job.job_id)
    return Job.objects.get(pk=job.pk)


def _counts_entry(counts: dict[str, int], **kwargs):
    from drivers.base import EntryResult

    return EntryResult("COMPLETED", counts, max(len(b) for b in counts), **kwargs)


def _all_outcomes(bits: int) -> dict[str, int]:
    """Every bitstring of ``bits`` bits once or more: the higher the bitstring, the more often."""
    return {format(i, f"0{bits}b"): 1 + i // 4096 for i in range(2**bits)}


def test_job_page_shows_the_most_frequent_outcomes_and_how_many_more(web, tenant, submit):
    """An entry with 65,536 distinct outcomes: the page shows the SHOWN_OUTCOMES most frequent ones, most
    frequent first, says how many more there are and links the downloads, which still have them all."""
    from jobs.web_entries import SHOWN_OUTCOMES

    counts = _all_outcomes(16)
    job = _finished(Job.objects.get(pk=submit(tenant, shots=sum(_all_outcomes(16).values()))["job_id"]),
                    _counts_entry(counts))  # fmt: skip
    page = web.get(f"/jobs/{job.job_id}/").content.decode()
    expected = sorted(counts, key=lambda b: (-counts[b], b))[:SHOWN_OUTCOMES]
    table = re.search(r'<table class="sortable counts">.*?</table>', page, re.S).group(0)
    assert re.findall(r'<td class="mono">([01]+)</td>', table) == expected
    assert sorted(re.findall(r'data-bitstring="([01]+)"', page)) == sorted(expected)
    assert f"and {2**16 - SHOWN_OUTCOMES} more outcomes: download the full results" in page
    assert f'href="/jobs/{job.job_id}/results.csv"' in page.split("more outcomes", 1)[1]
    rows = list(csv.reader(io.StringIO(web.get(f"/jobs/{job.job_id}/results.csv").content.decode())))
    assert len(rows) == 1 + 2**16
    assert json.loads(web.get(f"/jobs/{job.job_id}/results.json").getvalue())["results"][0]["results"] == counts


def test_job_page_with_65536_outcomes_is_small_and_costs_no_more_queries(
    web, tenant, submit, django_assert_max_num_queries
):
    """The page of a 65,536-outcome job stays under 200 KB and takes as many queries as a two-outcome one."""
    small = _finished(Job.objects.get(pk=submit(tenant)["job_id"]), _counts_entry({"00": 50, "11": 50}))
    with django_assert_max_num_queries(40) as small_page:
        assert web.get(f"/jobs/{small.job_id}/").status_code == 200
    baseline = len(small_page.captured_queries)  # now: the next request resets Django's query log
    wide = _finished(Job.objects.get(pk=submit(tenant)["job_id"]), _counts_entry(_all_outcomes(16)))
    with django_assert_max_num_queries(baseline):
        response = web.get(f"/jobs/{wide.job_id}/")
    assert response.status_code == 200
    assert len(response.content) < 200_000, len(response.content)


def test_job_page_counts_memory_without_listing_it(web, tenant, submit):
    """Per-shot memory (one bitstring per shot) is counted on the page, never listed: it is in the download."""
    memory = ["01", "10"] * 5000
    job = _finished(
        Job.objects.get(pk=submit(tenant)["job_id"]), _counts_entry({"01": 5000, "10": 5000}, memory=memory)
    )
    response = web.get(f"/jobs/{job.job_id}/")
    assert "Memory: 10000 per-shot bitstrings" in response.content.decode()
    assert response.content.count(b"01") < 100
    assert json.loads(web.get(f"/jobs/{job.job_id}/results.json").getvalue())["results"][0]["memory"] == memory


def test_job_page_shows_the_best_qubo_solutions_and_how_many_more(web, tenant, submit):
    """A QUBO entry with more solutions than SHOWN_OUTCOMES shows the best ones, in rank order, and how many more."""
    from drivers.base import EntryResult
    from jobs.web_entries import SHOWN_OUTCOMES

    solutions = [
        {"result": rank, "quboValue": -100 + rank, "maxcutValue": 0, "solutionVector": [rank % 2] * 10}
        for rank in range(1, 101)
    ]
    submitted = submit(tenant, code_type="qubo", backend="qubo_exact", source_code=[[[-1, 1], [1, -1]]])
    job = _finished(Job.objects.get(pk=submitted["job_id"]), EntryResult("COMPLETED", solutions, 10))
    page = web.get(f"/jobs/{job.job_id}/").content.decode()
    table = re.search(r'<table class="solutions">.*?</table>', page, re.S).group(0)
    ranks = [int(r) for r in re.findall(r'<tr><td class="num">(\d+)</td>', table)]
    assert ranks == list(range(1, SHOWN_OUTCOMES + 1))
    assert f"and {100 - SHOWN_OUTCOMES} more solutions: download the full results" in page
    rows = list(csv.reader(io.StringIO(web.get(f"/jobs/{job.job_id}/results.csv").content.decode())))
    assert len(rows) == 1 + 100


def test_job_page_shows_the_start_of_a_long_source(web, tenant, submit):
    """A source longer than SHOWN_SOURCE_CHARS is cut on the page, which says how much more Results JSON has."""
    from jobs.web_entries import SHOWN_SOURCE_CHARS

    source = BELL + "// " + "x" * (2 * SHOWN_SOURCE_CHARS) + "\n"
    job = Job.objects.get(pk=submit(tenant, source_code=[source])["job_id"])
    page = web.get(f"/jobs/{job.job_id}/").content.decode()
    assert f"and {len(source) - SHOWN_SOURCE_CHARS} more characters" in page
    assert len(page) < SHOWN_SOURCE_CHARS + 50_000
    assert json.loads(web.get(f"/jobs/{job.job_id}/results.json").getvalue())["source_code"] == [source]


@pytest.mark.parametrize(
    "fields",
    [
        {"code_type": "qubo", "backend": "qubo_sa", "source_code": "[" * 5000 + "]" * 5000},
        {"code_type": "qubo", "backend": "qubo_sa", "source_code": "[[1, NaN], [0, 1]]"},
        {"code_type": "qasm2", "source_code": "OPENQASM 2.0;\x00qreg q[1];"},
    ],
)
def test_malformed_sources_in_the_form_are_explained_not_a_500(post_submit, fields):
    """Deep nesting, NaN or NUL typed into the editor: the form comes back with an error, nothing stored."""
    response = post_submit(**fields)
    assert response.status_code == 200
    assert Job.objects.count() == 0


def test_a_deeply_nested_circuit_list_is_taken_as_text(post_submit):
    """Brackets nested 5000 deep in the circuit editor are not a JSON list of circuits: one source, no 500."""
    response = post_submit(code_type="qasm2", source_code="[" * 5000 + "]" * 5000)
    assert response.status_code == 302
    assert Job.objects.get().source_code == ["[" * 5000 + "]" * 5000]


def test_a_qubo_job_shows_the_energy_distribution_of_all_its_reads(web, tenant, submit, run_worker):
    """Annealed 200 times on qubo_sa with top_k 3: the table ranks three solutions, the chart counts all
    200 reads by energy, lowest first, and its lowest bar is the best solution's energy."""
    matrix = [[-2, 1, 0, 1], [1, -2, 1, 0], [0, 1, -2, 1], [1, 0, 1, -2]]
    options = {"num_reads": 200, "top_k": 3, "seed": 7}
    submitted = submit(tenant, code_type="qubo", backend="qubo_sa", source_code=[matrix], driver_options=options)
    run_worker()
    page = web.get(f"/jobs/{submitted['job_id']}/").content.decode()
    bars = [(float(e), int(n)) for e, n in re.findall(r'data-energy="([^"]+)" data-value="(\d+)"', page)]
    assert sum(n for _, n in bars) == 200
    assert [e for e, _ in bars] == sorted(e for e, _ in bars)
    first_row = r'<table class="solutions">.*?<tr><td class="num">1</td><td class="num">([^<]+)<'
    best = float(re.search(first_row, page, re.S)[1])
    assert bars[0][0] == best
    assert 'aria-label="Energy distribution of the reads"' in page


@pytest.mark.parametrize(
    "histogram",
    [
        {"counts": "many"},
        {"counts": [1, 2], "energies": ["a", "b"]},
        {"counts": [1, 2], "energies": [1.0]},
        {"counts": [1], "energies": [float("nan")]},
        {"counts": [True], "energies": [1.0]},
        {"counts": [1] * 10_000, "energies": list(range(10_000))},
        {"counts": [1, 2], "bin_edges": [0, 1]},
        [1, 2, 3],
    ],
)
def test_an_energy_histogram_reported_from_outside_that_is_not_one_draws_no_chart(histogram):
    """A device reporting through set_job_results may send any metadata: the page then has no chart,
    never an error or a page of ten thousand bars."""
    from jobs.web_entries import _energy_chart

    assert _energy_chart(histogram) is None


def test_the_job_list_follows_the_jobs_on_its_page_that_may_still_change(web, tenant, submit):
    """The list names one event stream for its page's jobs that are not final; a page of final jobs
    opens none."""
    from tests.factories import complete

    queued = submit(tenant)["job_id"]
    done = complete(Job.objects.get(pk=submit(tenant)["job_id"]))
    page = web.get("/jobs/").content.decode()
    url = re.search(r'id="job-list" data-events-url="([^"]+)"', page)[1].replace("&amp;", "&")
    assert url == f"/v1/jobs/events?job_ids={queued}"
    assert f'data-job-id="{done.job_id}"' in page
    page = web.get("/jobs/?status=COMPLETED").content.decode()
    assert 'id="job-list" data-events-url' not in page


def test_the_job_page_shows_what_the_job_records(web, tenant, submit):
    """Experiment (a link to its jobs), metadata, the client that sent it, and the backend as it ran."""
    from tests.factories import complete

    job = submit(
        tenant, backend="aer_noisy", experiment_id="exp 1", metadata={"run": 3}, client_version={"qiskit": "2.6.2"}
    )
    complete(Job.objects.get(pk=job["job_id"]))
    page = web.get(f"/jobs/{job['job_id']}/").content.decode()
    assert 'href="/jobs/?experiment_id=exp%201"' in page
    assert "<code>run=3</code>" in page and "qiskit 2.6.2" in page
    assert "basis cx id rz sx x" in page


def test_the_job_page_says_how_the_job_got_its_backend(web, tenant, staff):
    """Scheduling: dedicated in its project's timeslot, or fairshare; and that it waits for a slot."""
    from backends.models import Backend
    from backends.services import timeslot_book
    from jobs.services import job_start

    now = timezone.now()
    timeslot_book(
        user=staff.user, backend=Backend.objects.get(name="dummy"), project=tenant.project,
        start_at=now - timedelta(minutes=1), end_at=now + timedelta(hours=1),
    )  # fmt: skip
    job = submit_bell(tenant, use_timeslot=True)
    page = web.get(f"/jobs/{job.job_id}/").content.decode()
    assert re.search(r'id="scheduling">— · runs in its project.s timeslot<', page)
    job_start(job_id=job.job_id)
    page = web.get(f"/jobs/{job.job_id}/").content.decode()
    assert re.search(r'id="scheduling">dedicated · runs in its project.s timeslot<', page)
