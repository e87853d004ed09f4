"""Submitting a job: the checks against its backend and project, then one QUEUED row, enqueued after commit."""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, IntegerField
from django.utils import timezone

from backends.models import Backend, BackendStatus
from backends.selectors import TimeslotStanding, backend_for_submit
from core.exceptions import (
    BackendUnavailable,
    Conflict,
    InvalidParams,
    JobTypeNotSupported,
    NotFound,
    QuotaExceeded,
)
from core.prepared import Param, PreparedChain, PreparedInsert, PreparedUpdate
from core.redis import batched
from drivers import primitives
from drivers.registry import get_driver
from jobs.choices import JobStatus
from jobs.models import Job, Tag
from jobs.presenters import driver_job
from jobs.services.state import EVENT, enqueue_if_allowed, status_changed, tags_named
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


def _check_timeslots(backend: Backend, project: Project, spec: JobSpec, standing: TimeslotStanding) -> None:
    """IQM's two refusals: a backend that runs only in timeslots needs ``use_timeslot``, and a job
    with it needs a slot of its project on the backend, running or to come."""
    if backend.requires_timeslot and not spec.use_timeslot:
        raise Conflict(
            f"Backend {backend.name} runs jobs only in booked timeslots: submit with use_timeslot.",
            error_code="timeslot_required", field="use_timeslot",
        )  # fmt: skip
    if spec.use_timeslot and not standing.project_has_slot:
        raise Conflict(
            f"Project {project.slug} has no active or upcoming timeslot on backend {backend.name}.",
            error_code="no_booked_timeslots", field="use_timeslot",
        )  # fmt: skip


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


# Every submit's writes, compiled once (core.prepared): the quota, as one conditional increment, so
# concurrent submits cannot all slip under it; then the job and its event, only if it was taken. One
# statement on PostgreSQL, which locks the project's row only while it runs.
_INSERT_JOB = PreparedInsert(Job)
_SUBMIT = PreparedChain(
    PreparedUpdate(
        lambda: Project.objects.filter(pk=Param("project_id", IntegerField()), active_jobs__lt=F("max_queued_jobs")),
        lambda: {"active_jobs": F("active_jobs") + 1},
    ),
    _INSERT_JOB,
    EVENT,
)


def job_submit(*, user: User, project: Project, spec: JobSpec) -> Job:
    """Validate a submission against its backend and project, store it QUEUED and enqueue it after commit."""
    if not can_submit(user, project):
        raise NotFound(f"Project {project.project_id} not found.")
    # The project holding the backend by a timeslot now (if any) decides whether the job waits in Redis.
    backend, standing = backend_for_submit(name=spec.backend, project_id=project.pk, at=timezone.now())
    _check_backend(backend, spec)
    _check_project_quotas(project, spec)
    _check_timeslots(backend, project, spec, standing)
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
    # A plain submit writes one chain: a statement that is its own transaction (its Redis writes go
    # in one batch after it). Tags are rows of their own and a job with callbacks owes deliveries:
    # those need a transaction around it; inside a caller's, a savepoint, so that a refusal (a taken
    # job_id) leaves the caller's transaction usable.
    own = spec.tags or job.callbacks or connection.in_atomic_block
    try:
        with batched(), transaction.atomic() if own else nullcontext():
            now = timezone.now()
            job.created_at = job.updated_at = job.queued_at = now
            event = {"job_id": job.job_id, "status": JobStatus.QUEUED, "at": now, "detail": ""}
            if not _SUBMIT.run({"project_id": project.pk}, _INSERT_JOB.row(job), event):
                counts = Project.objects.filter(pk=project.pk).values_list("active_jobs", "max_queued_jobs")
                _over_quota(project, *counts.get())  # nothing was written
            _INSERT_JOB.saved(job)
            tags = tags_named(spec.tags) if spec.tags else []
            if tags:
                job.tags.set(tags)
            _known_tags(job, tags)
            status_changed(job.job_id, JobStatus.QUEUED, now, progress=0, callbacks=job.callbacks)
            enqueue_if_allowed(job, holder=standing.holder)
    except IntegrityError as exc:  # the job_id is taken: the statement wrote nothing, quota included
        raise Conflict(f"job_id {job.job_id} is already used.", error_code="conflict") from exc
    return job
