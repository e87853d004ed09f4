"""The one output shape of a backend: JSON-RPC ``get_backends``, the REST API (and its schema), the web
pages. A backend is read with its ``queued`` annotation (``backends.selectors.with_queue_length``)."""

from __future__ import annotations

from rest_framework import serializers as s

from backends.models import BackendStatus
from core.shapes import Out, Shape


def _attr(name: str):
    return lambda backend: getattr(backend, name)


BACKEND = Shape(
    "Backend",
    "A backend: its status, the code types it accepts, its limits and its queue length.",
    {
        "name": Out(_attr("name"), s.CharField()),
        "status": Out(_attr("status"), s.ChoiceField(choices=BackendStatus.choices)),
        "description": Out(_attr("description"), s.CharField()),
        "driver": Out(_attr("driver"), s.CharField()),
        "code_types": Out(_attr("code_types"), s.ListField(child=s.CharField())),
        "max_qubits": Out(_attr("max_qubits"), s.IntegerField(allow_null=True)),
        "max_shots": Out(_attr("max_shots"), s.IntegerField()),
        "max_circuits": Out(_attr("max_circuits"), s.IntegerField()),
        "max_variables": Out(
            _attr("max_variables"), s.IntegerField(allow_null=True, help_text="Largest QUBO matrix accepted.")
        ),
        "time_limit": Out(
            _attr("time_limit"), s.IntegerField(help_text="Seconds a job may run before it fails (-105).")
        ),
        "basis_gates": Out(_attr("basis_gates"), s.ListField(child=s.CharField(), allow_null=True)),
        "coupling_map": Out(
            _attr("coupling_map"),
            s.ListField(child=s.ListField(child=s.IntegerField()), allow_null=True, help_text="Null: all-to-all."),
        ),
        "results_fetch_mode": Out(_attr("results_fetch_mode"), s.ChoiceField(choices=["sync", "async"])),
        "queue_length": Out(_attr("queued"), s.IntegerField(help_text="Jobs QUEUED on the backend.")),
        "requires_timeslot": Out(
            _attr("requires_timeslot"),
            s.BooleanField(help_text="Runs jobs only in their project's booked timeslots (submit with use_timeslot)."),
        ),
    },
)

backend_view = BACKEND.render


def _when(name: str):
    return lambda obj: getattr(obj, name).isoformat()


TIMESLOT = Shape(
    "Timeslot",
    "A window booked on a backend for one project: while it lasts, the backend runs only that project's jobs.",
    {
        "timeslot_id": Out(lambda slot: str(slot.timeslot_id), s.UUIDField()),
        "backend": Out(lambda slot: slot.backend.name, s.CharField()),
        "project_id": Out(lambda slot: str(slot.project.project_id), s.UUIDField()),
        "project": Out(lambda slot: slot.project.slug, s.CharField(help_text="The project's slug.")),
        "start_at": Out(_when("start_at"), s.DateTimeField()),
        "end_at": Out(_when("end_at"), s.DateTimeField()),
        "note": Out(_attr("note"), s.CharField()),
        "created_by": Out(
            lambda slot: slot.created_by.username if slot.created_by else None, s.CharField(allow_null=True)
        ),
        "created_at": Out(_when("created_at"), s.DateTimeField()),
    },
)

timeslot_view = TIMESLOT.render
