"""Jobs, their per-entry results, their status history and tags."""

from __future__ import annotations

import json
import uuid
import zlib
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from jobs.choices import CodeType, JobStatus, SchedulingMode, ShareLevel


class Tag(models.Model):
    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Job(models.Model):
    """One submission: one or more circuits or matrices run on one backend.

    ``status`` changes only through the transitions in ``jobs.services``; the source is stored
    zlib-compressed at the job's ``code_compress_level`` (0 = stored as is).
    """

    job_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of their own: the composite indexes below lead with each of them (every index is
    # written on each status change, as status is in some: a worker's start and end write them all).
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="jobs", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs", db_index=False)
    backend = models.ForeignKey("backends.Backend", on_delete=models.PROTECT, related_name="jobs", db_index=False)
    # The backend as the job's (last) run found it (set when a worker starts it).
    backend_snapshot = models.ForeignKey(
        "backends.BackendSnapshot", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    job_name = models.CharField(max_length=200, null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    code_type = models.CharField(max_length=16, choices=CodeType.choices)
    source_blob = models.BinaryField(null=True, editable=False)
    code_compress_level = models.PositiveSmallIntegerField(default=0)
    num_entries = models.PositiveIntegerField(default=1)
    transpiler = models.CharField(max_length=32, null=True, blank=True)
    transpiler_options = models.JSONField(null=True, blank=True)
    driver_options = models.JSONField(null=True, blank=True)
    job_type = models.CharField(max_length=32, blank=True, default="")
    job_priority = models.PositiveSmallIntegerField(default=5)
    shots = models.PositiveIntegerField(default=1024)
    profiling = models.JSONField(default=list, blank=True)
    dry_run = models.BooleanField(default=False)
    enable_circuit_aggregation = models.BooleanField(default=False)
    callbacks = models.JSONField(default=list, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="jobs")
    # IBM's experiment_id (jobs of one experiment), Superstaq's user metadata, IBM's client_version.
    experiment_id = models.CharField(max_length=200, null=True, blank=True)
    share_level = models.CharField(max_length=16, choices=ShareLevel.choices, default=ShareLevel.NONE)
    metadata = models.JSONField(default=dict, blank=True, help_text="The user's own object, as submitted.")
    client_version = models.JSONField(default=dict, blank=True, help_text="Client name -> version, as sent.")
    # The client-side header the job was run with (IBM's header(): circuit names and metadata).
    header = models.JSONField(default=dict, blank=True, help_text="The client's header, as sent.")
    # IQM's use_timeslot: the job runs only in a timeslot booked for its project on its backend.
    use_timeslot = models.BooleanField(default=False)
    scheduling_mode = models.CharField(max_length=16, choices=SchedulingMode.choices, null=True, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    num_qubits = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="How many times a worker started it.")
    worker_name = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # A user's jobs newest first, in get_jobs' exact order (job_id breaks ties), so a page is
            # read off the index: the planner otherwise walks created_at past other users' rows.
            models.Index(fields=["user", "-created_at", "-job_id"], name="job_user_created_id"),
            # The same within one status (get_jobs' status filter, however deep the page).
            models.Index(fields=["user", "status", "-created_at", "-job_id"], name="job_user_status_created_id"),
            models.Index(fields=["project", "-created_at"], name="job_project_created"),
            models.Index(fields=["project", "status"], name="job_project_status"),
            # A user's jobs of one experiment (get_jobs' experiment_id filter).
            models.Index(
                fields=["user", "experiment_id"],
                name="job_user_experiment",
                condition=models.Q(experiment_id__isnull=False),
            ),
            # A backend's jobs by when they ended: its page's jobs per hour, read off the index.
            models.Index(fields=["backend", "ended_at"], name="job_backend_ended"),
            # Every job of a status (reconcile, the queues' counts). A plain index: db_index on a
            # CharField adds a second one for LIKE on PostgreSQL, which no query of a status makes.
            models.Index(fields=["status"], name="job_status"),
        ]

    def __str__(self) -> str:
        return str(self.job_id)

    @staticmethod
    def pack_source(source_code: list[Any], level: int) -> bytes:
        raw = json.dumps(source_code, separators=(",", ":")).encode()
        return zlib.compress(raw, level) if level > 0 else raw

    @property
    def source_code(self) -> list[Any] | None:
        """The source exactly as submitted (decompressed); None once the job is deleted."""
        if self.source_blob is None:
            return None
        raw = bytes(self.source_blob)
        if self.code_compress_level > 0:
            raw = zlib.decompress(raw)
        return json.loads(raw)


class JobResult(models.Model):
    """The outcome of one ``source_code`` entry, in the seed's result shape."""

    # Its index is unique_job_entry's (job, index), which leads with the job.
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="entries", db_index=False)
    index = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=JobStatus.choices)
    results = models.JSONField(null=True)
    num_qubits = models.PositiveIntegerField(null=True)
    metadata = models.JSONField(default=dict)
    profiling = models.JSONField(default=dict)
    error = models.JSONField(null=True)
    memory = models.JSONField(null=True)
    transpiled = models.TextField(null=True, editable=False, help_text="The circuit as it ran, in OpenQASM 2 or 3.")
    ended_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="unique_job_entry")]

    def __str__(self) -> str:
        return f"entry {self.index} of {self.job_id} ({self.status})"


class JobEvent(models.Model):
    """One status change of a job, with its time: the job's timeline (IBM's ``time_per_step``)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=16, choices=JobStatus.choices)
    at = models.DateTimeField(default=timezone.now)
    detail = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["at", "id"]


class DrawingStage(models.TextChoices):
    SUBMITTED = "submitted", "As submitted"
    TRANSPILED = "transpiled", "As transpiled for its backend"


class CircuitDrawing(models.Model):
    """A picture of one entry's circuit, drawn once by a worker after the job ended and served as is
    (``drivers.drawing``): SVG, zlib-compressed, or a note saying why there is none."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="drawings")
    index = models.PositiveIntegerField()
    stage = models.CharField(max_length=16, choices=DrawingStage.choices)
    svg_blob = models.BinaryField(null=True, editable=False)
    note = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["job", "index", "stage"]
        constraints = [models.UniqueConstraint(fields=["job", "index", "stage"], name="unique_job_drawing")]

    def __str__(self) -> str:
        return f"{self.stage} drawing of entry {self.index} of {self.job_id}"

    @staticmethod
    def pack(svg: str) -> bytes:
        return zlib.compress(svg.encode(), 6)

    @property
    def svg(self) -> str | None:
        return None if self.svg_blob is None else zlib.decompress(bytes(self.svg_blob)).decode()
