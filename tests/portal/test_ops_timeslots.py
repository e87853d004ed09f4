"""Timeslots on the operators' pages (/ops/): the slots not yet ended are listed, booked and cancelled
through the services; bad input and overlaps are messages, never an error page; staff only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from backends.models import Backend, Timeslot
from backends.services import timeslot_book
from jobs import queues
from tests.factories import make_tenant, messages_of, submit_bell

pytestmark = pytest.mark.django_db

OPS = "/ops/"
BACK = "/ops/#timeslots"
BOOK = reverse("ops:timeslot-book")
START = datetime(2040, 1, 1, 10, 0, tzinfo=UTC)


def cancel_url(slot: Timeslot) -> str:
    return reverse("ops:timeslot-cancel", args=[slot.timeslot_id])


def book(staff, tenant, *, start: datetime, hours: float = 2, backend: str = "dummy", note: str = "") -> Timeslot:
    """A slot of ``tenant``'s project from ``start``, booked through the service."""
    return timeslot_book(
        user=staff.user, backend=Backend.objects.get(name=backend), project=tenant.project, start_at=start,
        end_at=start + timedelta(hours=hours), note=note,
    )  # fmt: skip


def booking(tenant, *, start="2040-01-01T10:00", end="2040-01-01T12:00", **fields) -> dict[str, str]:
    """The booking form as a browser posts it: ``datetime-local`` values, the project by id."""
    return {"backend": "dummy", "project": str(tenant.project.project_id), "start_at": start, "end_at": end,
            "note": "", **fields}  # fmt: skip


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST as the signed-in client, with after-commit work (enqueueing) run as after a real commit."""

    def do(url: str, data=None):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data or {})

    return do


# --- Who may use them -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", [BOOK, reverse("ops:timeslot-cancel", args=[uuid.uuid4()])])
def test_non_staff_is_sent_to_login(client, tenant, url):
    """A signed-in user who is not staff is redirected to the login page, never served."""
    client.force_login(tenant.user)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_non_staff_post_changes_nothing(client, tenant, staff, post):
    """A non-staff POST books nothing and cancels nothing: it is redirected to login."""
    slot = book(staff, tenant, start=START)
    client.force_login(tenant.user)
    for url, data in [
        (BOOK, booking(tenant, start="2041-01-01T10:00", end="2041-01-01T11:00")),
        (cancel_url(slot), {}),
    ]:
        response = post(url, data)
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))
    assert list(Timeslot.objects.all()) == [slot]


# --- The list -------------------------------------------------------------------------------------


def test_page_lists_running_and_upcoming_slots(client, operator, tenant, other_tenant, staff):
    """The slots not yet ended are listed by start, the running one marked, each with a cancel form."""
    now = timezone.now()
    book(staff, tenant, start=now - timedelta(hours=3))  # ended an hour ago
    running = book(staff, tenant, start=now - timedelta(minutes=30), note="calibration run")
    upcoming = book(staff, other_tenant, start=now + timedelta(hours=1), backend="qubo_sa")
    response = client.get(OPS)
    assert response.context["timeslots"] == [running, upcoming]
    content = response.content.decode()
    assert content.count('class="alive">running<') == 1
    assert "calibration run" in content
    assert other_tenant.project.slug in content
    assert f'action="{cancel_url(running)}"' in content and f'action="{cancel_url(upcoming)}"' in content


def test_page_offers_the_booking_form_in_utc(client, operator, tenant):
    """The booking form offers every backend and project, datetime-local inputs, and says they are UTC."""
    content = client.get(OPS).content.decode()
    assert f'action="{BOOK}"' in content
    assert content.count('type="datetime-local"') == 2
    assert f'<option value="{tenant.project.project_id}">{tenant.project.slug}</option>' in content
    assert '<option value="qubo_sa">qubo_sa</option>' in content
    assert "Times are UTC." in content


def test_timeslot_list_query_count_is_flat(client, operator, staff, django_assert_max_num_queries):
    """The page makes as many queries for 12 slots of 12 projects as for one."""
    now = timezone.now()
    book(staff, make_tenant(), start=now + timedelta(hours=1))
    with django_assert_max_num_queries(12) as few:
        assert client.get(OPS).status_code == 200
    for index in range(2, 13):
        book(staff, make_tenant(), start=now + timedelta(hours=2 * index))
    with django_assert_max_num_queries(len(few)):
        response = client.get(OPS)
    assert len(response.context["timeslots"]) == 12


# --- Booking --------------------------------------------------------------------------------------


def test_book_a_timeslot(client, operator, tenant, post):
    """POST books the slot through the service, its times read as UTC, and redirects with a message."""
    response = post(BOOK, booking(tenant, note="for the demo"))
    assert response.status_code == 302
    assert response.url == BACK
    slot = Timeslot.objects.select_related("backend", "project").get()
    assert (slot.backend.name, slot.project, slot.note, slot.created_by) == (
        "dummy",
        tenant.project,
        "for the demo",
        operator,
    )
    assert (slot.start_at, slot.end_at) == (START, START + timedelta(hours=2))
    assert messages_of(response) == [
        f"Booked backend dummy for project {tenant.project.slug} from 2040-01-01 10:00 UTC to 2040-01-01 12:00 UTC."
    ]


def test_book_keeps_an_offset_given(client, operator, tenant, post):
    """A time given with its UTC offset is that instant, not read as UTC."""
    post(BOOK, booking(tenant, start="2040-01-01T12:00+02:00", end="2040-01-01T14:00+02:00"))
    assert Timeslot.objects.get().start_at == START


def test_get_book_shows_the_form_filled_in(client, operator, tenant):
    """GET shows the booking form, filled in from the query string, and books nothing."""
    response = client.get(BOOK, {"backend": "qubo_sa", "project": str(tenant.project.project_id)})
    assert response.status_code == 200
    content = response.content.decode()
    assert '<option value="qubo_sa" selected>' in content
    assert f'<option value="{tenant.project.project_id}" selected>' in content
    assert not Timeslot.objects.exists()


def test_booking_an_overlap_is_a_message(client, operator, tenant, other_tenant, staff, post):
    """A slot overlapping another of its backend is refused with a message; nothing is stored."""
    slot = book(staff, other_tenant, start=START + timedelta(hours=1))
    response = post(BOOK, booking(tenant))
    assert response.status_code == 302
    assert response.url == BACK
    (message,) = messages_of(response)
    assert f"(project {other_tenant.project.slug}); timeslots of a backend cannot overlap." in message
    assert list(Timeslot.objects.all()) == [slot]


def test_an_overlap_on_another_backend_is_no_overlap(client, operator, tenant, other_tenant, staff, post):
    """The same window on another backend is booked."""
    book(staff, other_tenant, start=START, backend="qubo_sa")
    post(BOOK, booking(tenant))
    assert Timeslot.objects.filter(backend__name="dummy", project=tenant.project).exists()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"start_at": "tomorrow"}, "start_at: 'tomorrow' is not a date and time (YYYY-MM-DDTHH:MM, UTC)"),
        ({"end_at": "2040-02-30T10:00"}, "end_at: '2040-02-30T10:00' is not a date and time"),
        ({"start_at": ""}, "start_at: '' is not a date and time"),
        ({"end_at": "2040-01-01T09:00"}, "end_at: must be after start_at"),
        ({"end_at": "2040-03-01T10:00"}, "end_at: a timeslot lasts at most 31 days"),
        ({"backend": "nope"}, "Backend 'nope' not found."),
        (
            {"project": "5b0e7c1e-0000-4000-8000-000000000000"},
            "Project 5b0e7c1e-0000-4000-8000-000000000000 not found.",
        ),
        ({"project": "not-a-uuid"}, "Project not-a-uuid not found."),
    ],
)
def test_bad_booking_is_a_message(client, operator, tenant, post, fields, expected):
    """An unparsable or impossible time, an end before the start, an unknown backend or project: a
    message, and nothing is stored."""
    response = post(BOOK, booking(tenant, **fields))
    assert response.status_code == 302
    assert response.url == BACK
    (message,) = messages_of(response)
    assert expected in message
    assert not Timeslot.objects.exists()


# --- Cancelling -----------------------------------------------------------------------------------


def test_cancel_a_timeslot(client, operator, tenant, staff, post):
    """POST cancels the slot through the service and redirects with a message."""
    slot = book(staff, tenant, start=START)
    response = post(cancel_url(slot))
    assert response.status_code == 302
    assert response.url == BACK
    assert not Timeslot.objects.exists()
    assert messages_of(response) == [
        f"Cancelled the timeslot of backend dummy for project {tenant.project.slug} from 2040-01-01 10:00 UTC to "
        "2040-01-01 12:00 UTC."
    ]


def test_cancelling_the_running_slot_releases_held_jobs(client, operator, tenant, other_tenant, staff, post,
                                                       django_capture_on_commit_callbacks):  # fmt: skip
    """The jobs another project's running slot held are enqueued once it is cancelled."""
    slot = book(staff, tenant, start=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        held = submit_bell(other_tenant)
    assert str(held.job_id) not in queues.waiting_ids()
    post(cancel_url(slot))
    assert str(held.job_id) in queues.waiting_ids()


def test_get_cancel_only_confirms(client, operator, tenant, staff):
    """GET on cancel shows a confirmation of that slot and keeps it."""
    slot = book(staff, tenant, start=START, note="calibration run")
    response = client.get(cancel_url(slot))
    assert response.status_code == 200
    content = response.content.decode()
    assert f'action="{cancel_url(slot)}"' in content and 'method="post"' in content
    assert "calibration run" in content
    assert Timeslot.objects.filter(pk=slot.pk).exists()


def test_cancel_unknown_timeslot_is_a_message(client, operator, post):
    """An unknown timeslot answers with a message, not an error page."""
    timeslot_id = uuid.uuid4()
    response = post(reverse("ops:timeslot-cancel", args=[timeslot_id]))
    assert response.status_code == 302
    assert response.url == BACK
    assert messages_of(response) == [f"Timeslot {timeslot_id} not found."]
