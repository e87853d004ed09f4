"""Django admin of backends: status changes only through backend_set_status, drivers checked on save."""

from __future__ import annotations

import pytest
from django.urls import reverse

from backends.models import Backend
from backends.services import backend_set_status
from jobs import queues
from tests.admin_pages import act, change
from tests.factories import submit_bell

pytestmark = pytest.mark.django_db


# --- Backends -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "status"), [("pause", "paused"), ("take_offline", "offline"), ("resume", "online")])
def test_backend_status_actions(client, operator, django_capture_on_commit_callbacks, action, status):
    """The backend actions set its status through backend_set_status."""
    backend = Backend.objects.get(name="dummy")
    if status == "online":
        backend_set_status(backend=backend, status="paused")
    act(client, django_capture_on_commit_callbacks, action, [backend], model="backends.backend")
    assert Backend.objects.get(pk=backend.pk).status == status


def test_resume_enqueues_held_jobs(client, operator, tenant, django_capture_on_commit_callbacks):
    """Resuming a paused backend puts the jobs it held into Redis."""
    backend = backend_set_status(backend=Backend.objects.get(name="dummy"), status="paused")
    with django_capture_on_commit_callbacks(execute=True):
        job = submit_bell(tenant)
    assert str(job.job_id) not in queues.waiting_ids()
    act(client, django_capture_on_commit_callbacks, "resume", [backend], model="backends.backend")
    assert str(job.job_id) in queues.waiting_ids()


def test_backend_status_is_read_only_on_its_page(client, operator, django_capture_on_commit_callbacks):
    """Saving the backend page with another status leaves the status alone (the actions change it)."""
    backend = Backend.objects.get(name="dummy")
    change(client, django_capture_on_commit_callbacks, backend, status="offline", max_shots=5000)
    backend.refresh_from_db()
    assert (backend.status, backend.max_shots) == ("online", 5000)


def test_backend_with_unknown_driver_is_refused(client, operator):
    """A backend naming no registered driver is not saved."""
    data = {"name": "ghost", "driver": "nope", "code_types": '["qasm2"]', "status": "online", "options": "{}",
            "max_shots": 10, "max_circuits": 1, "time_limit": 60}  # fmt: skip
    response = client.post(reverse("admin:backends_backend_add"), data)
    assert response.status_code == 200
    assert "driver" in response.context["adminform"].form.errors
    assert not Backend.objects.filter(name="ghost").exists()


def test_unregistered_driver_is_shown_not_replaced(client, operator):
    """A backend whose driver is no longer registered shows that driver, not another one."""
    backend = Backend.objects.create(name="ghost", driver="gone", code_types=["qasm2"])
    form = client.get(reverse("admin:backends_backend_change", args=[backend.pk])).context["adminform"].form
    assert form["driver"].value() == "gone"
    assert ("gone", "gone (not registered)") in form.fields["driver"].choices
