"""Circuit drawings: made once by a worker after the job ran, stored, served as SVG images to whoever
may read the job, linked from the job page, gone with the job's outcome."""

from __future__ import annotations

import re

import pytest

from jobs import queues
from jobs.models import CircuitDrawing, Job
from jobs.services import job_draw_circuits, jobs_delete, jobs_requeue
from tests.factories import BELL, make_tenant, make_user

pytestmark = pytest.mark.django_db

# 41 qubits in a GHZ state: Clifford, so it runs (stabilizer), but wider than a drawing shows.
WIDE = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[41];\ncreg c[41];\nh q[0];\n'
    + "".join(f"cx q[0],q[{i}];\n" for i in range(1, 41))
    + "measure q -> c;\n"
)

BAD = "OPENQASM 2.0; qreg q[1]; bogus q[0];"


@pytest.fixture
def ran(tenant, submit, run_worker):
    """Submit as ``tenant`` and run the job; its drawing task is then waiting in Redis."""

    def run(**fields) -> Job:
        job_id = submit(tenant, **fields)["job_id"]
        run_worker()
        return Job.objects.get(pk=job_id)

    return run


def _text(svg: str) -> str:
    """The words of a drawing (matplotlib writes a label as a <text>, a formula as one <tspan> a letter)."""
    return "".join(re.findall(r">([^<>]+)</(?:text|tspan)>", svg))


def _svg(web, job, index=0, stage="submitted"):
    return web.get(f"/jobs/{job.job_id}/circuits/{index}/{stage}.svg")


@pytest.fixture
def web(client, tenant):
    client.force_login(tenant.user)
    return client


def test_a_worker_draws_each_circuit_as_submitted_and_as_transpiled_once(ran, run_drawings, web):
    """After a Bell job on the noisy backend ran, one drawing task waits; it stores two SVG pictures:
    the H gate as submitted, and the rz/sx basis it was transpiled to. A second run draws nothing."""
    job = ran(backend="aer_noisy", source_code=[BELL])
    assert job.status == "COMPLETED"
    assert not job.drawings.exists()  # not while the job runs, nor at its end: by a later task
    assert run_drawings() == 1
    stages = dict(job.drawings.values_list("stage", "note"))
    assert stages == {"submitted": "", "transpiled": ""}
    submitted, transpiled = _svg(web, job).content.decode(), _svg(web, job, stage="transpiled").content.decode()
    assert submitted.startswith("<?xml") and "<svg" in submitted
    assert _text(submitted) == "q0q12cH01"  # wires, the H gate, the measured bits
    assert "RZ√X" in _text(transpiled)  # H in the noisy backend's basis: rz(π/2) sx rz(π/2)
    assert job_draw_circuits(job_id=job.job_id) == 0
    assert job.drawings.count() == 2


def test_the_drawing_is_an_image_that_runs_nothing(ran, run_drawings, web):
    job = ran()
    run_drawings()
    response = _svg(web, job)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["X-Content-Type-Options"] == "nosniff"
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";") if part.strip())
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'none'"
    assert "<script" not in response.content.decode()


def test_the_job_page_links_its_drawings_and_never_draws(ran, run_drawings, web):
    """Before the task ran the page says the drawings are coming (and viewing it draws nothing);
    after, it shows both as images."""
    job = ran()
    page = web.get(f"/jobs/{job.job_id}/").content.decode()
    assert "data-drawings-pending" in page
    assert not CircuitDrawing.objects.exists()
    run_drawings()
    page = web.get(f"/jobs/{job.job_id}/").content.decode()
    assert "data-drawings-pending" not in page
    urls = re.findall(r'<img src="(/jobs/[^"]+\.svg)"', page)
    assert urls == [f"/jobs/{job.job_id}/circuits/0/submitted.svg", f"/jobs/{job.job_id}/circuits/0/transpiled.svg"]
    assert "As transpiled for dummy" in page


def test_a_circuit_too_wide_to_draw_gets_a_note(ran, run_drawings, web):
    job = ran(source_code=[WIDE], driver_options={"method": "stabilizer"}, shots=10)
    assert job.status == "COMPLETED"
    run_drawings()
    notes = dict(job.drawings.values_list("stage", "note"))
    assert notes["submitted"] == "not drawn: 41 qubits, over the 40 a drawing shows"
    assert notes["transpiled"].startswith("not drawn")
    assert _svg(web, job).status_code == 404
    assert "Not drawn: 41 qubits" in web.get(f"/jobs/{job.job_id}/").content.decode()


def test_an_entry_that_did_not_parse_gets_a_note_and_the_others_their_pictures(ran, run_drawings):
    job = ran(source_code=[BELL, BAD])
    assert job.status == "FAILED"
    run_drawings()
    notes = {(i, stage): note for i, stage, note in job.drawings.values_list("index", "stage", "note")}
    assert notes[(0, "submitted")] == notes[(0, "transpiled")] == ""
    assert notes[(1, "submitted")].startswith("not drawn: ")
    assert notes[(1, "transpiled")].startswith("not drawn: ")


def test_only_who_may_read_the_job_sees_its_drawings(ran, run_drawings, client, tenant):
    job = ran()
    run_drawings()
    other = make_tenant(username="mallory")
    client.force_login(other.user)
    assert _svg(client, job).status_code == 404
    client.logout()
    response = _svg(client, job)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get(f"/jobs/{job.job_id}/circuits/0/other.svg").status_code in (302, 404)


def test_deleting_or_rerunning_a_job_discards_its_drawings(ran, run_drawings, tenant, web):
    job = ran(source_code=[BELL, BAD])
    run_drawings()
    assert job.drawings.exists()
    jobs_requeue(user=make_user("operator", staff=True), job_ids=[job.job_id])
    assert not job.drawings.exists()
    job = ran()
    run_drawings()
    jobs_delete(user=tenant.user, job_ids=[job.job_id])
    assert not CircuitDrawing.objects.filter(job=job).exists()
    assert _svg(web, job).status_code == 404


def test_a_deleted_job_is_not_drawn(ran, run_drawings, tenant):
    job = ran()
    jobs_delete(user=tenant.user, job_ids=[job.job_id])
    assert run_drawings() == 1
    assert not CircuitDrawing.objects.exists()


def test_drawings_can_be_turned_off(ran, settings):
    settings.CIRCUIT_DRAWINGS = False
    ran()
    assert queues.connection().llen("rq:queue:drawings") == 0


def test_qubo_jobs_have_no_drawing_task(ran):
    ran(code_type="qubo", backend="qubo_sa", source_code=[[[1, -2], [0, 1]]])
    assert queues.connection().llen("rq:queue:drawings") == 0


def test_only_the_first_entries_of_a_long_job_are_drawn(ran, run_drawings):
    """A drawing task is never preempted: a job of many entries must not hold a worker for minutes."""
    from drivers.drawing import MAX_DRAWN_ENTRIES

    job = ran(source_code=[BELL] * (MAX_DRAWN_ENTRIES + 2), shots=10)
    run_drawings()
    drawn = {index for index, note in job.drawings.values_list("index", "note") if not note}
    assert drawn == set(range(MAX_DRAWN_ENTRIES))
    assert job.drawings.get(index=MAX_DRAWN_ENTRIES, stage="submitted").note.startswith("not drawn: only the first")
