"""The backend pages: every backend, and one backend's page with its device drawn, its limits, its
queue and its jobs per hour over the last day."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from backends.models import Backend
from jobs.models import Job
from tests.factories import complete, fail, submit_bell

pytestmark = pytest.mark.django_db

# IBM's 5-qubit "T" (ibmq_lima's shape), each coupling both ways, and one one-way coupling 4 -> 5.
T_MAP = [[0, 1], [1, 0], [1, 2], [2, 1], [1, 3], [3, 1], [3, 4], [4, 3], [4, 5]]


@pytest.fixture
def web(client, tenant):
    client.force_login(tenant.user)
    return client


@pytest.fixture
def device(db):
    return Backend.objects.create(
        name="t-device", driver="aer", code_types=["qasm2"], max_qubits=6, coupling_map=T_MAP,
        basis_gates=["cx", "rz", "sx", "x"], options={"noise": "device_like"},
    )  # fmt: skip


def test_the_backend_list_links_every_backend(web):
    page = web.get("/backends/").content.decode()
    for name in Backend.objects.values_list("name", flat=True):
        assert f'href="/backends/{name}/"' in page


def test_a_device_page_draws_its_coupling_map_as_a_graph(web, device):
    """Six qubits, five couplings (a pair coupled both ways is one line), the one-way one dashed;
    every qubit is inside the picture."""
    page = web.get("/backends/t-device/").content.decode()
    svg = re.search(r'<figure class="coupling">.*?</svg>', page, re.S).group(0)
    assert sorted(int(q) for q in re.findall(r'data-qubit="(\d+)"', svg)) == [0, 1, 2, 3, 4, 5]
    edges = re.findall(r'class="edge( one-way)?" data-edge="(\d+-\d+)"', svg)
    assert sorted(edge for _, edge in edges) == ["0-1", "1-2", "1-3", "3-4", "4-5"]
    assert [edge for one_way, edge in edges if one_way] == ["4-5"]
    width, height = map(float, re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups())
    for x, y in re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)"', svg):
        assert 0 < float(x) < width and 0 < float(y) < height


def test_a_device_page_shows_basis_gates_noise_limits_and_queue(web, device, tenant):
    submit_bell(tenant, backend="t-device")
    page = web.get("/backends/t-device/").content.decode()
    assert re.findall(r"<code>(\w+)</code>", re.search(r'id="basis-gates">(.*?)</dd>', page).group(1)) == [
        "cx", "rz", "sx", "x",
    ]  # fmt: skip
    assert re.search(r"depolarizing_error_2q</th><td[^>]*>0.01<", page)
    assert re.search(r"readout_error_p1_given_0</th><td[^>]*>0.02<", page)
    assert "1 job queued" in page
    assert "≤ 100000" in page  # max_shots


def test_a_simulator_is_all_to_all(web):
    page = web.get("/backends/aer_simulator/").content.decode()
    assert "All-to-all" in page and 'class="coupling"' not in page
    assert re.search(r"noise_model</th><td[^>]*>none \(ideal\)<", page)


def test_jobs_per_hour_counts_what_ran_in_each_of_the_last_24_hours(web, tenant):
    """Three jobs ended two hours ago, one in this hour, one failed an hour ago; one ended two days ago
    and one is still queued: the chart has 24 bars and counts 5."""
    now = timezone.now()

    def ended(hours_ago: float, finish=complete) -> None:
        job = finish(submit_bell(tenant, backend="aer_simulator"))
        Job.objects.filter(pk=job.pk).update(ended_at=now - timedelta(hours=hours_ago))

    for _ in range(3):
        ended(2)
    ended(0)
    ended(1, fail)
    ended(48)
    submit_bell(tenant, backend="aer_simulator")
    page = web.get("/backends/aer_simulator/").content.decode()
    chart = re.search(r'id="jobs-per-hour">.*?</svg>', page, re.S).group(0)
    values = [int(v) for v in re.findall(r'data-hour="\d+h" data-value="(\d+)"', chart)]
    assert len(values) == 24
    assert values[-1] == 1 and values[-2] == 1 and values[-3] == 3 and sum(values) == 5
    assert "5 jobs in the last 24 hours" in page


def test_an_unknown_backend_is_the_404_page(web):
    response = web.get("/backends/no-such-backend/")
    assert response.status_code == 404
    assert web.get("/backends/%3Cscript%3E/").status_code == 404


def test_the_backend_pages_need_a_sign_in(client):
    for url in ("/backends/", "/backends/dummy/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_backend_whose_driver_is_gone_still_has_a_page(web):
    Backend.objects.filter(name="dummy").update(driver="uninstalled")
    assert web.get("/backends/dummy/").status_code == 200


def test_a_backend_page_shows_its_timeslots_naming_only_the_viewers_projects(web, tenant, other_tenant, staff):
    from backends.services import timeslot_book

    dummy = Backend.objects.get(name="dummy")
    now = timezone.now()
    assert "None booked" in web.get("/backends/dummy/").content.decode()
    for who, start, end in [(tenant, -60, 3600), (other_tenant, 7200, 9000)]:
        timeslot_book(
            user=staff.user, backend=dummy, project=who.project, start_at=now + timedelta(seconds=start),
            end_at=now + timedelta(seconds=end),
        )  # fmt: skip
    Backend.objects.filter(pk=dummy.pk).update(requires_timeslot=True)
    page = web.get("/backends/dummy/").content.decode()
    section = page[page.index('id="timeslots"') :]
    assert f'href="/projects/{tenant.project.slug}/"' in section and "<strong>running</strong>" in section
    assert "another project" in section and other_tenant.project.slug not in page
    assert "submit with <code>use_timeslot</code>" in section
