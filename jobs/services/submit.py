"""Submitting a job: the checks against its backend and project, then one QUEUED row, enqueued after commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, IntegerField
from django.utils import timezone

from backends.models import Backend, BackendStatus
from backends.selectors import backend_get, timeslot_standing
from core.exceptions import (
    BackendUnavailable,
    Conflict,
    InvalidParams,
    JobTypeNotSupported,
    NotFound,
    QuotaExceeded,
)
from core.prepared import Param, PreparedInsert, PreparedUpdate
from drivers import primitives
from drivers.registry import get_driver
from jobs.choices import JobStatus
from jobs.models import Job, Tag
from jobs.presenters import driver_job
from jobs.services.state import enqueue_if_allowed, record_event, status_changed, tags_named
from projects.models import Project, User
from projects.permissions import can_submit


@dataclass(frozen=True)
class JobSpec:
    """A validated submission (the fields of ``submit_job``)."""

    code_type: str
    source_code: list[Any]
    backend: str
    job_id: uuid.UUID | None = None
    job_name: str | None = None
    description: str | None = None
    transpiler: str | None = None
    transpiler_options: dict[str, Any] | None = None
    driver_options: dict[str, Any] | None = None
    job_type: str = ""
    job_priority: int = 5
    shots: int = 1024
    profiling: list[str] = field(default_factory=list)
    dry_run: bool = False
    code_compress_level: int = 0
    tags: list[str] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    enable_circuit_aggregation: bool = False
    experiment_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    share_level: str = "none"
    client_version: dict[str, str] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    use_timeslot: bool = False


def _check_backend(backend: Backend, spec: JobSpec) -> None:
    if backend.status == BackendStatus.OFFLINE:
        raise BackendUnavailable(f"Backend {backend.name} is offline and accepts no jobs.")
    if spec.code_type not in backend.code_types:
        raise JobTypeNotSupported(
            f"Backend {backend.name} does not take code_type {spec.code_type!r}; "
            f"it takes {', '.join(backend.code_types)}."
        )
    if spec.job_type not in get_driver(backend.driver).job_types:
        raise JobTypeNotSupported(f"Backend {backend.name} does not take job_type {spec.job_type!r}.")
    if spec.shots > backend.max_shots:
        raise InvalidParams.field("shots", f"at most {backend.max_shots} on backend {backend.name}")
    if len(spec.source_code) > backend.max_circuits:
        raise InvalidParams.field(
            "source_code", f"at most {backend.max_circuits} entries per job on backend {backend.name}"
        )


def _check_timeslots(backend: Backend, project: Project, spec: JobSpec, now) -> int | None:
    """IQM's two refusals: a backend that runs only in timeslots needs ``use_timeslot``, and a job
    with it needs a slot of its project on the backend, running or to come. Answers the project
    holding the backend now (None when no slot runs), which decides whether the job waits in Redis."""
    if backend.requires_timeslot and not spec.use_timeslot:
        raise Conflict(
            f"Backend {backend.name} runs jobs only in booked timeslots: submit with use_timeslot.",
            error_code="timeslot_required", field="use_timeslot",
        )  # fmt: skip
    standing = timeslot_standing(backend=backend, project_id=project.pk, at=now)
    if spec.use_timeslot and not standing.project_has_slot:
        raise Conflict(
            f"Project {project.slug} has no active or upcoming timeslot on backend {backend.name}.",
            error_code="no_booked_timeslots", field="use_timeslot",
        )  # fmt: skip
    return standing.holder


def _check_project_quotas(project: Project, spec: JobSpec) -> None:
    shots = primitives.largest_shots(spec.job_type, spec.source_code, spec.shots)  # a PUB may set its own
    if project.max_shots_per_job is not None and shots > project.max_shots_per_job:
        raise QuotaExceeded(
            f"Project {project.slug} allows at most {project.max_shots_per_job} shots per job.",
            field="shots", limit=project.max_shots_per_job,
        )  # fmt: skip
    if project.max_circuits_per_job is not None and len(spec.source_code) > project.max_circuits_per_job:
        raise QuotaExceeded(
            f"Project {project.slug} allows at most {project.max_circuits_per_job} entries per job.",
            field="source_code", limit=project.max_circuits_per_job,
        )  # fmt: skip


def _over_quota(project: Project, active: int, limit: int) -> None:
    raise QuotaExceeded(
        f"Project {project.slug} already has {active} queued or running jobs (its limit is {limit}).", limit=limit
    )


def _known_tags(job: Job, tags: list[Tag]) -> None:
    """Hold the job's tags as just stored, the way prefetch_related would, so the answer built from the
    job reads none back."""
    stored = Tag.objects.filter(pk__in=[tag.pk for tag in tags])
    stored._result_cache, stored._prefetch_done = list(tags), True
    job._prefetched_objects_cache = {"tags": stored}


# Every submit's writes, compiled once (core.prepared).
_INSERT_JOB = PreparedInsert(Job)
_TAKE_QUOTA = PreparedUpdate(
    lambda: Project.objects.filter(pk=Param("project_id", IntegerField()), active_jobs__lt=F("max_queued_jobs")),
    lambda: {"active_jobs": F("active_jobs") + 1},
)


def job_submit(*, user: User, project: Project, spec: JobSpec) -> Job:
    """Validate a submission against its backend and project, store it QUEUED and enqueue it after commit."""
    if not can_submit(user, project):
        raise NotFound(f"Project {project.project_id} not found.")
    backend = backend_get(spec.backend)
    _check_backend(backend, spec)
    _check_project_quotas(project, spec)
    holder = _check_timeslots(backend, project, spec, timezone.now())
    job = Job(
        job_id=spec.job_id or uuid.uuid4(),
        project=project,
        user=user,
        backend=backend,
        job_name=spec.job_name,
        description=spec.description,
        status=JobStatus.QUEUED,
        code_type=spec.code_type,
        source_blob=Job.pack_source(spec.source_code, spec.code_compress_level),
        code_compress_level=spec.code_compress_level,
        num_entries=len(spec.source_code),
        transpiler=spec.transpiler,
        transpiler_options=spec.transpiler_options,
        driver_options=spec.driver_options,
        job_type=spec.job_type,
        job_priority=spec.job_priority,
        shots=spec.shots,
        profiling=spec.profiling,
        dry_run=spec.dry_run,
        enable_circuit_aggregation=spec.enable_circuit_aggregation,
        callbacks=spec.callbacks,
        experiment_id=spec.experiment_id,
        metadata=spec.metadata,
        share_level=spec.share_level,
        client_version=spec.client_version,
        header=spec.header,
        use_timeslot=spec.use_timeslot,
    )
    get_driver(backend.driver).validate(backend, driver_job(job))
    if project.active_jobs >= project.max_queued_jobs:
        # The row as the caller read it: a fast refusal, decided for real below.
        _over_quota(project, project.active_jobs, project.max_queued_jobs)
    try:
        with transaction.atomic():
            if spec.job_id is not None and Job.objects.filter(pk=spec.job_id).exists():
                raise Conflict(f"job_id {spec.job_id} is already used.", error_code="conflict")
            now = timezone.now()
            job.created_at = job.updated_at = job.queued_at = now
            _INSERT_JOB.save_new(job)
            tags = tags_named(spec.tags) if spec.tags else []
            if tags:
                job.tags.set(tags)
            _known_tags(job, tags)
            record_event(job.job_id, JobStatus.QUEUED, now)
            status_changed(job.job_id, JobStatus.QUEUED, now, progress=0, callbacks=job.callbacks)
            enqueue_if_allowed(job, holder=holder)
            # The quota, as one conditional increment: concurrent submits cannot all slip under it,
            # and, last in the transaction, it locks the project's row only until the commit.
            taken = _TAKE_QUOTA.run(project_id=project.pk)
            if not taken:
                counts = Project.objects.filter(pk=project.pk).values_list("active_jobs", "max_queued_jobs")
                _over_quota(project, *counts.get())  # rolls the job back
    except IntegrityError as exc:
        raise Conflict(f"job_id {job.job_id} is already used.", error_code="conflict") from exc
    return job
