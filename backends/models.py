"""Backends: named targets that point at a registered driver with options and limits."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

# Below this a prewarmed work horse could not even start its job.
MIN_MEMORY_LIMIT_MB = 2048


class BackendStatus(models.TextChoices):
    ONLINE = "online", "Online"
    PAUSED = "paused", "Paused (accepts jobs, holds them queued)"
    OFFLINE = "offline", "Offline (refuses new jobs)"


class Backend(models.Model):
    """A target jobs run on (``dummy``, ``aer_simulator``, ...). Operators manage backends in admin."""

    name = models.SlugField(max_length=64, unique=True)
    driver = models.CharField(max_length=64, help_text="Name of a registered driver.")
    description = models.TextField(blank=True)
    code_types = models.JSONField(default=list, help_text='Accepted code types, e.g. ["qasm", "qasm2", "qasm3"].')
    status = models.CharField(max_length=16, choices=BackendStatus.choices, default=BackendStatus.ONLINE)
    options = models.JSONField(default=dict, blank=True, help_text="Options for the driver (e.g. simulator method).")
    max_qubits = models.PositiveIntegerField(null=True, blank=True)
    max_shots = models.PositiveIntegerField(default=100_000)
    max_circuits = models.PositiveIntegerField(default=300)
    max_variables = models.PositiveIntegerField(null=True, blank=True, help_text="Largest QUBO matrix accepted.")
    time_limit = models.PositiveIntegerField(default=600, help_text="Seconds a job may run before it fails (-105).")
    basis_gates = models.JSONField(null=True, blank=True)
    coupling_map = models.JSONField(null=True, blank=True, help_text="Null when all-to-all.")
    requires_timeslot = models.BooleanField(
        default=False, help_text="Runs jobs only in their project's booked timeslots (submit with use_timeslot)."
    )

    class Meta:
        ordering = ["name"]
        # The table was born in the drivers app; the model moved here without a copy of its rows.
        db_table = "drivers_backend"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from drivers.registry import driver_names

        if self.driver not in driver_names():
            raise ValidationError({"driver": f"Unknown driver {self.driver!r}; known: {', '.join(driver_names())}."})
        if not isinstance(self.code_types, list) or not all(isinstance(c, str) for c in self.code_types):
            raise ValidationError({"code_types": "Must be a list of code type names."})
        limit = (self.options or {}).get("memory_limit_mb") if isinstance(self.options, dict) else None
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < MIN_MEMORY_LIMIT_MB):
            raise ValidationError(
                {"options": f"memory_limit_mb must be an integer of at least {MIN_MEMORY_LIMIT_MB} (MiB)."}
            )

    @property
    def memory_limit_bytes(self) -> int:
        """The address space each work horse running this backend's jobs may use (SPEC §13)."""
        limit = self.options.get("memory_limit_mb") if isinstance(self.options, dict) else None
        return int(limit or settings.JOB_MEMORY_LIMIT_MB) * 2**20

    @property
    def results_fetch_mode(self) -> str:
        from drivers.registry import get_driver

        try:
            return get_driver(self.driver).results_fetch_mode
        except KeyError:  # its driver is no longer installed: the backend is still listed, its jobs cannot run
            return "sync"


class BackendSnapshot(models.Model):
    """A backend's configuration as jobs ran on it (IBM's ``properties()`` of a job): its limits, basis
    gates, coupling map, options and the driver's description, stored once per distinct configuration
    (``config_hash``), so a result can be traced to the device state that produced it."""

    backend = models.ForeignKey(Backend, on_delete=models.CASCADE, related_name="snapshots")
    config_hash = models.CharField(max_length=64)
    properties = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["backend", "config_hash"], name="unique_backend_snapshot")]

    def __str__(self) -> str:
        return f"{self.backend_id} {self.config_hash[:12]}"


class Timeslot(models.Model):
    """A window booked on a backend for one project (IQM's timeslots): while it lasts the backend runs
    only that project's jobs, and the jobs submitted with ``use_timeslot`` wait for one. Slots of one
    backend never overlap (``backends.services.timeslot_save``)."""

    timeslot_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    backend = models.ForeignKey(Backend, on_delete=models.CASCADE, related_name="timeslots")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="timeslots")
    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start_at"]
        # The slot holding a backend now, and a project's slots to come: both read off this index.
        indexes = [models.Index(fields=["backend", "end_at"], name="timeslot_backend_end")]
        constraints = [models.CheckConstraint(condition=Q(end_at__gt=F("start_at")), name="timeslot_ends_after_start")]

    def __str__(self) -> str:
        return f"{self.backend_id}: {self.start_at:%Y-%m-%d %H:%M} - {self.end_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            raise ValidationError({"end_at": "must be after start_at"})
