"""The web portal in a real browser: headless Chromium (Debian's package) driven by Playwright, against
the portal's ASGI application under uvicorn, on the test database.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``) and the ``playwright`` package; Playwright's own
browser download is not used. Without them the tests skip, except when ``REQUIRE_BROWSER_TESTS`` is set
(as ``.ci/run`` does), where they fail instead. Screenshots of the main pages go to ``var/screenshots/``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import requests

from jobs.models import Job
from projects.models import ApiToken, Role
from projects.services import membership_set, token_create
from tests.factories import BELL, make_project, make_tenant, make_user
from tests.workers import ROOT, portal_server

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "var" / "screenshots"
PASSWORD = "correct-horse-battery"
# Every wait of a test ends by this deadline (milliseconds); nothing here sleeps.
TIMEOUT_MS = 20_000


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements-dev.txt)"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


if (_reason := _missing()) is not None:
    if os.environ.get("REQUIRE_BROWSER_TESTS"):
        raise RuntimeError(f"browser tests required (REQUIRE_BROWSER_TESTS) but {_reason}")
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import Browser, Page, expect  # noqa: E402

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def server(django_db_setup):
    """The portal under uvicorn, as runportal serves it, with static files collected as runportal does."""
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    with portal_server(SECURE_COOKIES="false") as url:  # plain http on 127.0.0.1
        yield url


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module; each test gets a fresh context (cookies, storage)."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running on this thread while the tests run, so Django
    # would take the ORM calls the tests make between browser steps for calls from async code: it would
    # refuse them, and hand out a second connection without the test database's serialized contents
    # (serialized_rollback). The calls are plain synchronous ones, so allow them and keep the one connection.
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    connection = connections["default"]
    try:
        with sync_playwright() as playwright:
            connections["default"] = connection
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if saved is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


@pytest.fixture
def page(browser: Browser, server: str):
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []

    def console(message) -> None:
        # Failed loads are judged by on_response below, which knows which of them are expected.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(f"{message.text} {message.location}")

    def on_response(response) -> None:
        # Pages answer 404 when a test asks for one; a script, stylesheet or event stream never should
        # (nor a /favicon.ico guess: the layout names an empty icon).
        request = response.request
        if response.status >= 400 and request.resource_type != "document":
            errors.append(f"{response.status} {request.resource_type} {request.url}")

    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", console)
    tab.on("response", on_response)
    yield tab
    context.close()
    assert not errors, f"errors in the browser console: {errors}"


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def member(username: str = "alice", *, role: str = Role.MEMBER):
    """A user who signs in with a password, member of a project of their own."""
    user = make_user(username, password=PASSWORD)
    project = make_project(f"{username}-lab")
    membership_set(project=project, user=user, role=role)
    return user, project


def sign_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/$"))


def submit_form(page: Page, **fields: str) -> Job:
    """Fill the submit page (already open) and press Submit; returns the new job once its page shows."""
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    return Job.objects.get(job_id=page.url.rstrip("/").rsplit("/", 1)[1])


def test_sign_in_lands_on_the_dashboard(page, server):
    """Django's username/password form signs in; the dashboard lists the user's project."""
    member("alice")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("didn't match")).to_be_visible()
    sign_in(page, "alice")
    expect(page.get_by_role("link", name="alice-lab").first).to_be_visible()
    expect(page.locator(".topbar .who")).to_have_text("alice")
    screenshot(page, "dashboard")


def test_bell_from_the_form_turns_completed_live(page, server, run_worker):
    """The Bell example submitted from the form shows QUEUED; a worker runs it and the open page follows
    it through RUNNING to COMPLETED, then shows bars 00 and 11, all without being reloaded."""
    member("bob")
    sign_in(page, "bob")
    page.goto("/jobs/new/")
    page.get_by_role("link", name="Bell pair").click()
    expect(page.get_by_label("Source code")).to_have_value(re.compile(r"cx q\[0\],q\[1\];"))
    screenshot(page, "submit")
    job = submit_form(page, **{"Shots": "200", "Job name": "bell-browser"})
    badge = page.locator("[data-live-status]")
    expect(badge).to_have_text("QUEUED")
    # Once the first event is in, the server is subscribed: the worker's events cannot come before it.
    expect(page.locator("#job")).to_have_attribute("data-stream", "live")
    expect(page.locator("#results")).to_contain_text("No results yet.")
    page.evaluate(
        """() => {
            window.notReloaded = true;
            window.seen = [];
            const badge = document.querySelector("[data-live-status]");
            new MutationObserver(() => window.seen.push(badge.textContent)).observe(badge, {childList: true});
        }"""
    )

    run_worker()

    expect(badge).to_have_text("COMPLETED")
    expect(badge).to_have_class(re.compile(r"\bstatus-completed\b"))
    expect(page.locator("[data-live-progress] .pct")).to_have_text("100%")
    expect(page.locator("#job")).to_have_attribute("data-stream", "done")
    bars = page.locator("#entry-0 svg g.bar")
    expect(bars).to_have_count(2)
    assert [bars.nth(i).get_attribute("data-bitstring") for i in range(2)] == ["00", "11"]
    assert sorted(page.locator("#entry-0 table.counts tbody td.mono").all_text_contents()) == ["00", "11"]
    expect(page.locator("#job-timeline li .badge")).to_have_text(["QUEUED", "RUNNING", "COMPLETED"])
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"
    seen = page.evaluate("window.seen")
    assert "RUNNING" in seen and seen[-1] == "COMPLETED", seen
    job.refresh_from_db()
    assert job.status == "COMPLETED" and job.shots == 200
    screenshot(page, "job")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: wide tables scroll inside their cards
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page overflows"
    screenshot(page, "job-phone")


def test_qubo_csv_upload_shows_the_solutions_table(page, server, run_worker):
    """A max-cut QUBO uploaded as .csv runs on qubo_exact; its page lists the solutions, best first."""
    member("carol")
    sign_in(page, "carol")
    page.goto("/jobs/new/")
    page.get_by_label("Code type").select_option("qubo")
    page.get_by_label("Backend").select_option("qubo_exact")
    page.get_by_label("File").set_input_files(
        files=[{"name": "maxcut.csv", "mimeType": "text/csv", "buffer": b"-2,1,0,1\n1,-2,1,0\n0,1,-2,1\n1,0,1,-2\n"}]
    )
    job = submit_form(page)
    assert job.code_type == "qubo"
    expect(page.locator("#job")).to_have_attribute("data-stream", "live")
    run_worker()
    first = page.locator("table.solutions tbody tr").first
    expect(first.locator("td")).to_have_text(["1", "-4", "4", re.compile(r"^(1010|0101)$")])


def test_cancel_a_queued_job(page, server):
    """With no worker running the job stays QUEUED; Cancel job turns it CANCELLED."""
    member("dave")
    sign_in(page, "dave")
    page.goto("/jobs/new/?example=bell")
    job = submit_form(page)
    expect(page.locator("[data-live-status]")).to_have_text("QUEUED")
    page.get_by_role("button", name="Cancel job").click()
    expect(page.get_by_role("status").get_by_text("Job cancelled.")).to_be_visible()
    expect(page.locator("[data-live-status]")).to_have_text("CANCELLED")
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
    job.refresh_from_db()
    assert job.status == "CANCELLED"
    page.goto("/jobs/")
    expect(page.get_by_role("row").filter(has_text=str(job.job_id)[:8]).first).to_be_visible()
    screenshot(page, "job-list")


def test_new_token_is_shown_once(page, server):
    """A token created on the project page is shown on the next page, never again, and it works."""
    _, project = member("erin")
    sign_in(page, "erin")
    page.goto(f"/projects/{project.slug}/")
    page.get_by_label("Name", exact=True).fill("laptop")
    page.get_by_role("button", name="Create token").click()
    field = page.get_by_label(f"Token for {project.slug}")
    expect(field).to_have_value(re.compile(r"^qp_"))
    raw = field.input_value()
    answer = requests.post(
        f"{server}/v1/job/get_jobs", json={"jsonrpc": "2.0", "id": 1, "method": "get_jobs"},
        headers={"Authorization": f"Bearer {raw}"}, timeout=30,
    )  # fmt: skip
    assert "result" in answer.json(), answer.json()
    page.reload()
    expect(page.get_by_role("heading", name="Token already shown")).to_be_visible()
    assert raw not in page.content()
    page.goto(f"/projects/{project.slug}/")
    token = ApiToken.objects.get(name="laptop")
    expect(page.locator("table.tokens tbody tr").filter(has_text="laptop")).to_contain_text(token.prefix)
    assert raw not in page.content()


def test_project_admin_sets_quotas_and_revokes_a_members_token(page, server):
    """On the project page an admin changes a quota and revokes another member's token."""
    _, project = member("frank", role=Role.ADMIN)
    grace = make_user("grace")
    membership_set(project=project, user=grace)
    token, _ = token_create(user=grace, project=project, name="grace-ci")
    sign_in(page, "frank")
    page.goto(f"/projects/{project.slug}/")
    screenshot(page, "project")
    page.get_by_label("Queued + running jobs at most").fill("50")
    page.get_by_label("Shots per job at most").fill("4000")
    page.get_by_role("button", name="Save quotas").click()
    expect(page.get_by_role("status")).to_contain_text("Quotas saved.")
    expect(page.locator("dl.kv")).to_contain_text("of at most 50")
    row = page.locator("table.tokens tbody tr").filter(has_text="grace-ci")
    expect(row.locator("td").first).to_have_text("grace")
    row.get_by_role("button", name=re.compile(r"^Revoke .* of grace$")).click()
    expect(page.get_by_role("status")).to_contain_text("of grace revoked")
    expect(row).to_contain_text("revoked")
    project.refresh_from_db()
    token.refresh_from_db()
    assert (project.max_queued_jobs, project.max_shots_per_job, token.revoked_at is not None) == (50, 4000, True)


def test_another_tenants_job_is_404(page, server):
    """A job of another project answers the portal's 404 page."""
    owner = make_tenant()
    job_id = requests.post(
        f"{server}/v1/job/submit_job",
        json={"jsonrpc": "2.0", "id": 1, "method": "submit_job",
              "params": {"body": {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}}},
        headers={"Authorization": f"Bearer {owner.token}"}, timeout=30,
    ).json()["result"]["job_id"]  # fmt: skip
    member("mallory")
    sign_in(page, "mallory")
    response = page.goto(f"/jobs/{job_id}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("not found", re.I))
    assert job_id not in page.content()


def test_repeated_wrong_passwords_lock_the_sign_in_with_a_clear_message(page, server):
    """Under ASGI, as runportal serves it: after the failure limit even the right password gets the
    sign-in page saying why (429), with no error in the console; other accounts still sign in."""
    from django.conf import settings

    member("heidi")
    member("ivan")
    page.goto("/accounts/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.get_by_label("Username").fill("heidi")
        page.get_by_label("Password").fill("wrong-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert").or_(page.get_by_text("didn't match"))).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins.")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(lambda r: r.url.endswith("/accounts/login/") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 429
    expect(page.get_by_role("alert")).to_contain_text("try again in")
    expect(page.get_by_label("Username")).to_have_value("heidi")
    screenshot(page, "sign-in-locked")
    sign_in(page, "ivan")


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/jobs/job/", "/django-rq/", "/api/v1/", "/api/v1/jobs/", "/api/docs/"]
)
def test_operator_and_api_pages_run_under_their_policy(page, server, path):
    """The pages the portal serves but did not write (admin, django-rq, the browsable API, Swagger UI)
    work under their relaxed policies: no Content-Security-Policy violation in the console."""
    make_user("judy", staff=True, password=PASSWORD)
    sign_in(page, "judy")
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    response = page.goto(path)
    assert response is not None and response.status == 200
    assert "content-security-policy" in response.headers
    if path == "/api/docs/":
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Quantum job portal REST API")
    page.wait_for_load_state("networkidle")
    assert violations == []


# --- Pictures --------------------------------------------------------------------------------------


def api_submit(server: str, token: str, **body) -> str:
    """Submit over JSON-RPC as a script would; answers the job id."""
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", **body}
    payload = {"jsonrpc": "2.0", "id": 1, "method": "submit_job", "params": {"body": body}}
    answer = requests.post(
        f"{server}/v1/job/submit_job", json=payload, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    return answer.json()["result"]["job_id"]


def member_token(user, project) -> str:
    _, raw = token_create(user=user, project=project, name="script")
    return raw


def loaded(image) -> bool:
    return image.evaluate("img => img.complete && img.naturalWidth > 0")


def test_the_job_page_draws_each_circuit_as_submitted_and_as_transpiled(page, server, run_worker, run_drawings):
    """A Bell job on the noisy backend, run and then drawn by a worker: the page shows both pictures,
    and they are real images (loaded, not broken)."""
    user, project = member("hana")
    job_id = api_submit(server, member_token(user, project), backend="aer_noisy", shots=500)
    run_worker()
    assert run_drawings() == 1
    sign_in(page, "hana")
    page.goto(f"/jobs/{job_id}/")
    figures = page.locator("#entry-0 .circuits figure.circuit")
    expect(figures).to_have_count(2)
    expect(figures.nth(0).locator("figcaption")).to_have_text("As submitted")
    expect(figures.nth(1).locator("figcaption")).to_have_text("As transpiled for aer_noisy")
    for i in range(2):
        image = figures.nth(i).locator("img")
        expect(image).to_be_visible()
        image.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        assert loaded(image)
    screenshot(page, "job-circuits")


def test_a_backend_page_draws_its_coupling_map_and_jobs_per_hour(page, server, run_worker):
    from backends.models import Backend

    user, project = member("ivan")
    Backend.objects.create(
        name="t-device", driver="aer", code_types=["qasm2"], max_qubits=5, basis_gates=["cx", "rz", "sx", "x"],
        coupling_map=[[0, 1], [1, 0], [1, 2], [2, 1], [1, 3], [3, 1], [3, 4], [4, 3]], options={"noise": "device_like"},
    )  # fmt: skip
    token = member_token(user, project)
    for _ in range(3):
        api_submit(server, token, backend="t-device")
    run_worker()
    sign_in(page, "ivan")
    page.goto("/backends/")
    page.get_by_role("link", name="t-device").click()
    expect(page).to_have_url(re.compile(r"/backends/t-device/$"))
    graph = page.get_by_role("img", name=re.compile(r"^Coupling map of t-device: 5 qubits, 4 couplings"))
    expect(graph).to_be_visible()
    expect(graph.locator("g.qubit")).to_have_count(5)
    chart = page.locator("#jobs-per-hour svg g.bar")
    expect(chart).to_have_count(24)
    assert chart.nth(23).get_attribute("data-value") == "3"
    expect(page.locator("#jobs-per-hour")).to_contain_text("3 jobs in the last 24 hours")
    expect(page.locator("#backend-properties")).to_contain_text("device-like")
    screenshot(page, "backend")


def test_a_qubo_job_charts_the_energies_of_all_its_reads(page, server, run_worker):
    user, project = member("judy")
    matrix = [[-2, 1, 0, 1], [1, -2, 1, 0], [0, 1, -2, 1], [1, 0, 1, -2]]
    job_id = api_submit(
        server, member_token(user, project), code_type="qubo", backend="qubo_sa", source_code=[matrix],
        driver_options={"num_reads": 300, "top_k": 4, "seed": 5},
    )  # fmt: skip
    run_worker()
    sign_in(page, "judy")
    page.goto(f"/jobs/{job_id}/")
    chart = page.get_by_role("img", name="Energy distribution of the reads")
    expect(chart).to_be_visible()
    values = [int(v) for v in chart.locator("g.bar").evaluate_all("bars => bars.map(b => b.dataset.value)")]
    assert sum(values) == 300
    expect(page.locator("table.solutions tbody tr")).to_have_count(4)
    screenshot(page, "qubo")


def test_the_project_page_charts_jobs_and_shots_per_day(page, server):
    user, project = member("kim")
    token = member_token(user, project)
    api_submit(server, token, shots=100)
    api_submit(server, token, shots=300)
    sign_in(page, "kim")
    page.goto(f"/projects/{project.slug}/")
    jobs = page.get_by_role("img", name="Jobs submitted per day")
    shots = page.get_by_role("img", name="Shots submitted per day")
    expect(jobs.locator("g.bar")).to_have_count(30)
    assert jobs.locator("g.bar").last.get_attribute("data-value") == "2"
    assert shots.locator("g.bar").last.get_attribute("data-value") == "400"
    page.locator("#activity").scroll_into_view_if_needed()
    screenshot(page, "project-activity")


def test_the_job_list_follows_its_jobs_live(page, server, run_worker):
    """Two queued jobs on the list; a worker runs them and both badges turn COMPLETED, without a reload."""
    user, project = member("liam")
    token = member_token(user, project)
    ids = [api_submit(server, token, job_name=f"live-{i}") for i in range(2)]
    sign_in(page, "liam")
    page.goto("/jobs/")
    expect(page.locator("#job-list")).to_have_attribute("data-stream", "live")
    badges = [page.locator(f'tr[data-job-id="{job_id}"] [data-row-status] .badge') for job_id in ids]
    for badge in badges:
        expect(badge).to_have_text("QUEUED")
    page.evaluate("() => { window.notReloaded = true; }")
    run_worker()
    for badge in badges:
        expect(badge).to_have_text("COMPLETED")
        expect(badge).to_have_class(re.compile(r"\bstatus-completed\b"))
    expect(page.locator("#job-list")).to_have_attribute("data-stream", "done")
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"
    screenshot(page, "job-list-live")
