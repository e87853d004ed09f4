"""The REST API of timeslots, /api/v1/timeslots/: operators book, move and cancel them; the members of a
slot's project read it; anyone else's slot is not found."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends.models import Timeslot
from jobs import queues
from tests.conftest import rest_error_of
from tests.factories import submit_bell

pytestmark = pytest.mark.django_db

URL = "/api/v1/timeslots/"


def when(seconds: float) -> str:
    return (timezone.now() + timedelta(seconds=seconds)).isoformat()


def booking(tenant, *, start=-60, end=3600, **fields):
    return {
        "backend": "dummy", "project_id": str(tenant.project.project_id), "start_at": when(start),
        "end_at": when(end), **fields,
    }  # fmt: skip


def test_operators_book_move_and_cancel_timeslots(api, staff, tenant):
    created = api("post", URL, booking(tenant, start=3600, end=7200, note="calibration run"), who=staff)
    assert created.status_code == 201, created.content
    slot = created.json()
    assert slot["backend"] == "dummy" and slot["project"] == tenant.project.slug
    assert slot["note"] == "calibration run" and slot["created_by"] == staff.user.username
    path = f"{URL}{slot['timeslot_id']}/"
    moved = api("patch", path, {"end_at": when(10800)}, who=staff)
    assert moved.status_code == 200 and moved.json()["end_at"] > slot["end_at"]
    assert api("delete", path, who=staff).status_code == 204
    assert not Timeslot.objects.exists()
    assert api("get", path, who=staff).status_code == 404


def test_members_read_their_projects_slots_only(api, staff, tenant, other_tenant):
    mine = api("post", URL, booking(tenant), who=staff).json()
    theirs = api("post", URL, booking(other_tenant, start=7200, end=9000), who=staff).json()
    listed = api("get", URL, who=tenant).json()
    assert [s["timeslot_id"] for s in listed["results"]] == [mine["timeslot_id"]]
    assert api("get", f"{URL}{mine['timeslot_id']}/", who=tenant).json() == mine
    for method, body in [("get", None), ("patch", {"note": "x"}), ("delete", None)]:
        rest_error_of(api(method, f"{URL}{theirs['timeslot_id']}/", body, who=tenant), 404)
    operator_view = api("get", URL, who=staff).json()
    assert [s["timeslot_id"] for s in operator_view["results"]] == [mine["timeslot_id"], theirs["timeslot_id"]]
    assert api("get", URL, params={"backend": "aer_simulator"}, who=staff).json()["results"] == []


def test_members_do_not_book_or_change_slots(api, staff, tenant):
    assert rest_error_of(api("post", URL, booking(tenant), who=tenant), 403)["error_code"] == "permission_denied"
    slot = api("post", URL, booking(tenant), who=staff).json()
    path = f"{URL}{slot['timeslot_id']}/"
    assert rest_error_of(api("patch", path, {"note": "mine now"}, who=tenant), 403)["error_code"] == "permission_denied"
    assert rest_error_of(api("delete", path, who=tenant), 403)["error_code"] == "permission_denied"
    assert Timeslot.objects.get().note == ""


def test_bad_bookings_are_refused_and_nothing_is_stored(api, staff, tenant, other_tenant):
    api("post", URL, booking(tenant, start=0, end=3600), who=staff)
    overlap = rest_error_of(api("post", URL, booking(other_tenant, start=1800, end=5400), who=staff), 409)
    assert overlap["error_code"] == "timeslot_overlap" and tenant.project.slug in overlap["message"]
    for body, field in [
        (booking(tenant, start=9000, end=8000), "end_at"),
        ({**booking(tenant), "backend": "nope"}, "backend"),
        ({**booking(tenant), "project_id": "00000000-0000-0000-0000-000000000000"}, "project_id"),
        ({**booking(tenant), "start_at": "soon"}, "start_at"),
        ({**booking(tenant), "color": "red"}, "color"),
    ]:
        error = rest_error_of(api("post", URL, body, who=staff), 400)
        assert error["error_code"] == "invalid_params" and field in str(error["data"]), (field, error)
    assert Timeslot.objects.count() == 1


def test_booking_a_slot_that_runs_now_holds_other_projects_jobs(api, staff, tenant, other_tenant):
    """Jobs already held for a slot are released the moment it is cancelled."""
    api("post", URL, booking(tenant), who=staff)
    held = submit_bell(other_tenant)
    assert str(held.job_id) not in queues.waiting_ids()
    slot = Timeslot.objects.get()
    assert api("delete", f"{URL}{slot.timeslot_id}/", who=staff).status_code == 204
    assert str(held.job_id) in queues.waiting_ids()
