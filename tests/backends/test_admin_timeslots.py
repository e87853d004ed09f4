"""Django admin of timeslots: adding, moving and removing a slot go through timeslot_save and
timeslot_cancel (which enqueue the jobs a change lets run); what the service refuses is a form error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from backends.models import Backend, Timeslot
from backends.services import timeslot_book
from jobs import queues
from tests.admin_pages import act, change, changelist, found
from tests.factories import submit_bell

pytestmark = pytest.mark.django_db

ADD = reverse("admin:backends_timeslot_add")
START = datetime(2040, 1, 1, 10, 0, tzinfo=UTC)


def book(staff, tenant, *, start: datetime, hours: float = 2, backend: str = "dummy", note: str = "") -> Timeslot:
    """A slot of ``tenant``'s project from ``start``, booked through the service."""
    return timeslot_book(
        user=staff.user, backend=Backend.objects.get(name=backend), project=tenant.project, start_at=start,
        end_at=start + timedelta(hours=hours), note=note,
    )  # fmt: skip


def slot_form(tenant, *, start: datetime = START, hours: float = 2, backend: str = "dummy", note: str = "") -> dict:
    """The slot page's POST data: admin splits each time into a date and a time (UTC, the portal's zone)."""
    end = start + timedelta(hours=hours)
    return {
        "backend": Backend.objects.get(name=backend).pk, "project": tenant.project.pk, "note": note,
        "start_at_0": f"{start:%Y-%m-%d}", "start_at_1": f"{start:%H:%M:%S}",
        "end_at_0": f"{end:%Y-%m-%d}", "end_at_1": f"{end:%H:%M:%S}",
    }  # fmt: skip


def change_url(slot: Timeslot) -> str:
    return reverse("admin:backends_timeslot_change", args=[slot.pk])


def form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200  # the page again, not saved
    return response.context["adminform"].form.errors


# --- Pages ----------------------------------------------------------------------------------------


def test_changelist_lists_and_searches_slots(client, operator, tenant, other_tenant, staff):
    """The changelist renders the slots and finds them by project slug or note."""
    mine = book(staff, tenant, start=START, note="calibration")
    theirs = book(staff, other_tenant, start=START + timedelta(hours=3))
    response = client.get(changelist("backends.timeslot"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 2
    assert found(client, "backends.timeslot", tenant.project.slug) == {mine.pk}
    assert found(client, "backends.timeslot", "calibration") == {mine.pk}
    assert found(client, "backends.timeslot", other_tenant.project.slug) == {theirs.pk}


def test_add_and_change_pages_render(client, operator, tenant, staff):
    """The add page and a slot's change page render for an operator."""
    slot = book(staff, tenant, start=START)
    assert client.get(ADD).status_code == 200
    response = client.get(change_url(slot))
    assert response.status_code == 200
    assert str(slot.timeslot_id) in response.content.decode()


def test_non_staff_is_sent_to_login(client, tenant):
    """A signed-in user who is not staff is redirected to the admin login."""
    client.force_login(tenant.user)
    response = client.get(changelist("backends.timeslot"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


# --- Adding and changing --------------------------------------------------------------------------


def test_add_books_through_the_service(client, operator, tenant, django_capture_on_commit_callbacks):
    """A slot added in admin is stored with its author, as timeslot_save stores it."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ADD, slot_form(tenant, note="from admin"))
    assert response.status_code == 302, form_errors(response)
    slot = Timeslot.objects.get()
    assert (slot.project, slot.start_at, slot.end_at, slot.note) == (tenant.project, START, START + timedelta(hours=2),
                                                                    "from admin")  # fmt: skip
    assert slot.created_by == operator


def test_add_overlapping_slot_is_a_form_error(client, operator, tenant, other_tenant, staff):
    """A slot overlapping another of its backend is not saved; the form says which slot it meets."""
    slot = book(staff, other_tenant, start=START + timedelta(hours=1))
    errors = form_errors(client.post(ADD, slot_form(tenant)))
    (message,) = errors["__all__"]
    assert f"(project {other_tenant.project.slug}); timeslots of a backend cannot overlap." in message
    assert list(Timeslot.objects.all()) == [slot]


def test_add_on_another_backend_is_no_overlap(client, operator, tenant, other_tenant, staff):
    """The same window on another backend is saved."""
    book(staff, other_tenant, start=START, backend="qubo_sa")
    response = client.post(ADD, slot_form(tenant))
    assert response.status_code == 302, form_errors(response)
    assert Timeslot.objects.count() == 2


@pytest.mark.parametrize(("hours", "expected"), [(-1, "must be after start_at"), (24 * 32, "at most 31 days")])
def test_add_impossible_slot_is_a_field_error(client, operator, tenant, hours, expected):
    """An end before the start, or a slot over 31 days, is an error on end_at."""
    errors = form_errors(client.post(ADD, slot_form(tenant, hours=hours)))
    assert expected in errors["end_at"][0]
    assert not Timeslot.objects.exists()


def test_change_overlapping_slot_is_a_form_error(client, operator, tenant, other_tenant, staff):
    """Moving a slot onto another of its backend is not saved; a slot never overlaps itself."""
    first = book(staff, other_tenant, start=START)
    second = book(staff, tenant, start=START + timedelta(hours=4))
    errors = form_errors(client.post(change_url(second), slot_form(tenant, start=START + timedelta(hours=1))))
    assert "timeslots of a backend cannot overlap" in errors["__all__"][0]
    assert Timeslot.objects.get(pk=second.pk).start_at == START + timedelta(hours=4)
    response = client.post(change_url(first), slot_form(other_tenant, start=START + timedelta(minutes=30)))
    assert response.status_code == 302, form_errors(response)
    assert Timeslot.objects.get(pk=first.pk).start_at == START + timedelta(minutes=30)


def test_moving_a_slot_to_now_releases_its_jobs(client, operator, tenant, staff, django_capture_on_commit_callbacks):
    """A use_timeslot job waits for its project's slot; moved to now in admin, the slot lets it run."""
    slot = book(staff, tenant, start=START)
    with django_capture_on_commit_callbacks(execute=True):
        job = submit_bell(tenant, use_timeslot=True)
    assert str(job.job_id) not in queues.waiting_ids()
    now = timezone.now().replace(microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(change_url(slot), slot_form(tenant, start=now - timedelta(minutes=1)))
    assert response.status_code == 302, form_errors(response)
    assert str(job.job_id) in queues.waiting_ids()
    assert Timeslot.objects.get(pk=slot.pk).created_by == staff.user  # its author stays


# --- Removing -------------------------------------------------------------------------------------


def test_delete_cancels_through_the_service(client, operator, tenant, other_tenant, staff,
                                            django_capture_on_commit_callbacks):  # fmt: skip
    """Deleting the running slot removes it and enqueues the jobs it held."""
    slot = book(staff, tenant, start=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        held = submit_bell(other_tenant)
    assert str(held.job_id) not in queues.waiting_ids()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:backends_timeslot_delete", args=[slot.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Timeslot.objects.exists()
    assert str(held.job_id) in queues.waiting_ids()


def test_delete_selected_cancels_each(
    client, operator, tenant, other_tenant, staff, django_capture_on_commit_callbacks
):
    """The delete action removes the selected slots, and only those, through timeslot_cancel: the
    jobs the running one held are enqueued."""
    slots = [book(staff, tenant, start=timezone.now() - timedelta(minutes=5)), book(staff, tenant, start=START)]
    kept = book(staff, other_tenant, start=START + timedelta(hours=3))
    with django_capture_on_commit_callbacks(execute=True):
        held = submit_bell(other_tenant)
    assert str(held.job_id) not in queues.waiting_ids()
    response = act(client, django_capture_on_commit_callbacks, "delete_selected", slots, model="backends.timeslot",
                   post="yes")  # fmt: skip
    assert response.status_code == 302
    assert list(Timeslot.objects.all()) == [kept]
    assert str(held.job_id) in queues.waiting_ids()


# --- Backends -------------------------------------------------------------------------------------


def test_requires_timeslot_is_editable(client, operator, django_capture_on_commit_callbacks):
    """A backend's page sets whether it runs jobs only in timeslots."""
    backend = Backend.objects.get(name="dummy")
    change(client, django_capture_on_commit_callbacks, backend, requires_timeslot=True)
    assert Backend.objects.get(pk=backend.pk).requires_timeslot is True
