"""State changes of jobs. Every face of the portal (JSON-RPC, REST, admin, web, workers) calls these.

Each status change is one conditional UPDATE (``... WHERE status IN (allowed)``) whose row count
says whether this caller won, so a cancel racing a worker's start has exactly one winner; the
winner records a JobEvent in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from backends.models import Backend, BackendStatus
from backends.selectors import backend_get
from core.exceptions import (
    BackendUnavailable,
    Conflict,
    InvalidParams,
    InvalidState,
    JobTypeNotSupported,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
)
from drivers.base import DriverJob, EntryResult
from drivers.errors import CANCELLED_WHILE_RUNNING, WORKER_LOST, error_dict
from drivers.registry import get_driver
from jobs import callbacks, events, queues
from jobs.choices import ACTIVE, CANCELLABLE, DELETABLE, FINAL, JobStatus
from jobs.models import Job, JobEvent, JobResult, Tag
from jobs.selectors import confined_to_token, jobs_visible_to
from projects.models import ApiToken, Project, User
from projects.permissions import can_set_results, can_submit

UNSET: Any = object()


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


def driver_job(job: Job) -> DriverJob:
    """What the driver sees of a job."""
    return DriverJob(
        job_id=str(job.job_id),
        code_type=job.code_type,
        source_code=job.source_code or [],
        shots=job.shots,
        transpiler=job.transpiler,
        transpiler_options=job.transpiler_options or {},
        driver_options=job.driver_options or {},
        profiling=frozenset(job.profiling or []),
        dry_run=job.dry_run,
        job_type=job.job_type,
        enable_circuit_aggregation=job.enable_circuit_aggregation,
    )


def _transition(
    job_id: uuid.UUID,
    *,
    allowed: Iterable[str],
    to: str,
    detail: str = "",
    attempt: int | None = None,
    **fields: Any,
) -> bool:
    """Move the job to ``to`` if its status is in ``allowed`` (and, for a worker's write, the job is
    still on that worker's ``attempt``); True when this call won."""
    now = timezone.now()
    where: dict[str, Any] = {"pk": job_id, "status__in": list(allowed)}
    if attempt is not None:
        where["attempts"] = attempt
    with transaction.atomic():
        won = Job.objects.filter(**where).update(status=to, updated_at=now, **fields)
        if won:
            JobEvent.objects.create(job_id=job_id, status=to, at=now, detail=detail[:500])
            _status_changed(job_id, to, now, progress=fields.get("progress"))
    return bool(won)


def _status_changed(job_id: uuid.UUID, status: str, at, *, progress: int | None = None) -> None:
    """What every status change owes, inside its transaction: callbacks, and a live event after commit."""
    callbacks.on_status_change(job_id=job_id, status=status, at=at)
    event = {"event": "status", "job_status": status, "updated_at": at.isoformat()}
    if isinstance(progress, int):
        event["progress"] = progress
    events.publish_on_commit(job_id, event)


def _check_backend(backend: Backend, spec: JobSpec) -> None:
    if backend.status == BackendStatus.OFFLINE:
        raise BackendUnavailable(f"Backend {backend.name} is offline and accepts no jobs.")
    if spec.code_type not in backend.code_types:
        raise JobTypeNotSupported(
            f"Backend {backend.name} does not take code_type {spec.code_type!r}; "
            f"it takes {', '.join(backend.code_types)}."
        )
    if spec.shots > backend.max_shots:
        raise InvalidParams.field("shots", f"at most {backend.max_shots} on backend {backend.name}")
    if len(spec.source_code) > backend.max_circuits:
        raise InvalidParams.field(
            "source_code", f"at most {backend.max_circuits} entries per job on backend {backend.name}"
        )


@transaction.atomic
def _tags(names: Iterable[str]) -> list[Tag]:
    names = list(dict.fromkeys(names))
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    missing = [Tag(name=name) for name in names if name not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    return [existing[name] for name in names]


def _check_project_quotas(project: Project, spec: JobSpec) -> None:
    if project.max_shots_per_job is not None and spec.shots > project.max_shots_per_job:
        raise QuotaExceeded(
            f"Project {project.slug} allows at most {project.max_shots_per_job} shots per job.",
            field="shots", limit=project.max_shots_per_job,
        )  # fmt: skip
    if project.max_circuits_per_job is not None and len(spec.source_code) > project.max_circuits_per_job:
        raise QuotaExceeded(
            f"Project {project.slug} allows at most {project.max_circuits_per_job} entries per job.",
            field="source_code", limit=project.max_circuits_per_job,
        )  # fmt: skip


def job_submit(*, user: User, project: Project, spec: JobSpec) -> Job:
    """Validate a submission against its backend and project, store it QUEUED and enqueue it after commit."""
    if not can_submit(user, project):
        raise NotFound(f"Project {project.project_id} not found.")
    backend = backend_get(spec.backend)
    _check_backend(backend, spec)
    _check_project_quotas(project, spec)
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
    )
    get_driver(backend.driver).validate(backend, driver_job(job))
    try:
        with transaction.atomic():
            # Counted inside the transaction (IMMEDIATE on SQLite, the project row locked on
            # PostgreSQL) so concurrent submissions cannot all slip under the quota.
            Project.objects.select_for_update().filter(pk=project.pk).first()
            active = Job.objects.filter(project=project, status__in=ACTIVE).count()
            if active >= project.max_queued_jobs:
                raise QuotaExceeded(
                    f"Project {project.slug} already has {active} queued or running jobs "
                    f"(its limit is {project.max_queued_jobs}).",
                    limit=project.max_queued_jobs,
                )
            if spec.job_id is not None and Job.objects.filter(pk=spec.job_id).exists():
                raise Conflict(f"job_id {spec.job_id} is already used.", error_code="conflict")
            now = timezone.now()
            job.created_at = job.updated_at = job.queued_at = now
            job.save(force_insert=True)
            if spec.tags:
                job.tags.set(_tags(spec.tags))
            JobEvent.objects.create(job=job, status=JobStatus.QUEUED, at=now)
            _status_changed(job.job_id, JobStatus.QUEUED, now, progress=0)
            if backend.status == BackendStatus.ONLINE or not job.occupies_backend:
                queues.enqueue(job.job_id, job.job_priority, backend.time_limit)
    except IntegrityError as exc:
        raise Conflict(f"job_id {job.job_id} is already used.", error_code="conflict") from exc
    return job


def _visible_jobs(user: User, job_ids: Iterable[uuid.UUID]) -> list[Job]:
    return list(jobs_visible_to(user).filter(pk__in=list(job_ids)).select_related("backend"))


def jobs_cancel(*, user: User, job_ids: Iterable[uuid.UUID]) -> list[Job]:
    """Cancel those of ``job_ids`` that the user may reach and that are still QUEUED; returns them."""
    cancelled = []
    for job in _visible_jobs(user, job_ids):
        if job.status in CANCELLABLE and _transition(
            job.job_id, allowed=CANCELLABLE, to=JobStatus.CANCELLED, ended_at=timezone.now(), detail="cancelled"
        ):
            queues.remove(job.job_id, job.job_priority)
            job.status = JobStatus.CANCELLED
            cancelled.append(job)
    return cancelled


def jobs_delete(*, user: User, job_ids: Iterable[uuid.UUID]) -> list[Job]:
    """Delete those of ``job_ids`` not RUNNING or CANCELLING: source and results are purged, the row stays."""
    deleted = []
    for job in _visible_jobs(user, job_ids):
        if job.status not in DELETABLE:
            continue
        with transaction.atomic():
            won = _transition(job.job_id, allowed=DELETABLE, to=JobStatus.DELETED, source_blob=None)
            if won:
                JobResult.objects.filter(job_id=job.job_id).delete()
        if won:
            if job.status == JobStatus.QUEUED:
                queues.remove(job.job_id, job.job_priority)
            job.status = JobStatus.DELETED
            deleted.append(job)
    return deleted


def job_update(
    *,
    user: User,
    job_id: uuid.UUID,
    job_name: str | None = UNSET,
    description: str | None = UNSET,
    tags: list[str] = UNSET,
    job_priority: int = UNSET,
) -> Job:
    """Rename, describe or retag a job (until it is deleted); change its priority while QUEUED."""
    from jobs.selectors import job_get_for_user

    job = job_get_for_user(user=user, job_id=job_id)
    if job.status == JobStatus.DELETED:
        raise InvalidState(f"Job {job_id} is deleted.")
    with transaction.atomic():
        fields: dict[str, Any] = {}
        if job_name is not UNSET:
            fields["job_name"] = job_name
        if description is not UNSET:
            fields["description"] = description
        if job_priority is not UNSET and job_priority != job.job_priority:
            moved = Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
                job_priority=job_priority, queued_at=timezone.now()
            )
            if not moved:
                raise InvalidState(f"Job {job_id} is {job.status}: only a QUEUED job's priority can change.")
            if job.backend.status == BackendStatus.ONLINE or not job.occupies_backend:
                queues.move_on_commit(job.job_id, job.job_priority, job_priority, job.backend.time_limit)
        fields["updated_at"] = timezone.now()
        updated = Job.objects.filter(pk=job.pk).exclude(status=JobStatus.DELETED).update(**fields)
        if not updated:
            raise InvalidState(f"Job {job_id} is deleted.")
        if tags is not UNSET:
            job.tags.set(_tags(tags))
    return job_get_for_user(user=user, job_id=job_id)


# --- Worker side --------------------------------------------------------------------------------


def job_start(*, job_id: uuid.UUID, worker_name: str = "") -> Job | None:
    """QUEUED -> RUNNING for the worker that dequeued it; None when the job is no longer QUEUED
    (cancelled, deleted, or completed by set_job_results) or its backend is not online (then the
    job stays QUEUED, held in the database until the backend is online again)."""
    job = Job.objects.select_related("backend").filter(pk=job_id).first()
    if job is None or job.status != JobStatus.QUEUED:
        return None
    if job.occupies_backend and job.backend.status != BackendStatus.ONLINE:
        return None
    won = _transition(
        job_id,
        allowed=[JobStatus.QUEUED],
        to=JobStatus.RUNNING,
        started_at=timezone.now(),
        attempts=F("attempts") + 1,
        worker_name=worker_name[:200],
    )
    if not won:
        return None
    job.refresh_from_db()
    return job


def job_record_entry(*, job_id: uuid.UUID, index: int, entry: EntryResult, attempt: int | None = None) -> bool:
    """Store one entry's outcome and move progress; False when the job is no longer RUNNING on
    this ``attempt`` (a late or duplicate writer loses and writes nothing)."""
    where: dict[str, Any] = {"pk": job_id, "status": JobStatus.RUNNING}
    if attempt is not None:
        where["attempts"] = attempt
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(**where).first()
        if job is None or JobResult.objects.filter(job_id=job_id, index=index).exists():
            return False
        JobResult.objects.create(
            job_id=job_id,
            index=index,
            status=entry.status,
            results=entry.results,
            num_qubits=entry.num_qubits,
            metadata=entry.metadata,
            profiling=entry.profiling,
            error=entry.error,
            memory=entry.memory,
            ended_at=timezone.now(),
        )
        ended = JobResult.objects.filter(job_id=job_id).count()
        fields: dict[str, Any] = {"progress": min(100, ended * 100 // max(job.num_entries, 1))}
        if entry.num_qubits is not None and (job.num_qubits or 0) < entry.num_qubits:
            fields["num_qubits"] = entry.num_qubits
        Job.objects.filter(pk=job_id).update(**fields)
        events.publish_on_commit(
            job_id,
            {"event": "progress", "job_status": JobStatus.RUNNING, "progress": fields["progress"], "index": index,
             "entry_status": entry.status},
        )  # fmt: skip
    return True


def job_finish(*, job_id: uuid.UUID, attempt: int | None = None) -> str | None:
    """RUNNING -> COMPLETED when every entry completed, else FAILED. Returns the final status, or
    None when the job had already left RUNNING (or this attempt)."""
    statuses = list(JobResult.objects.filter(job_id=job_id).values_list("status", flat=True))
    job = Job.objects.filter(pk=job_id).only("num_entries").first()
    if job is None:
        return None
    complete = len(statuses) == job.num_entries and all(s == JobStatus.COMPLETED for s in statuses)
    final = JobStatus.COMPLETED if complete else JobStatus.FAILED
    won = _transition(
        job_id, allowed=[JobStatus.RUNNING], to=final, attempt=attempt, ended_at=timezone.now(), progress=100
    )
    return final if won else None


def _fill_missing_entries(job_id: uuid.UUID, num_entries: int, *, status: str, error: dict, now) -> None:
    """Give every entry that has no result yet the job's ending (``status`` with ``error``): a job
    that fails or is stopped keeps the entries that ended and answers for each of the others."""
    done = set(JobResult.objects.filter(job_id=job_id).values_list("index", flat=True))
    metadata = {"results_fetch_mode": "sync", "status": status, "ended_at": now.isoformat()}
    JobResult.objects.bulk_create(
        JobResult(job_id=job_id, index=i, status=status, error=error, metadata=metadata, ended_at=now)
        for i in range(num_entries)
        if i not in done
    )


def job_fail(*, job_id: uuid.UUID, error: dict[str, Any], detail: str = "", attempt: int | None = None) -> bool:
    """Fail a running job whose run broke off: entries without an outcome get ``error``."""
    job = Job.objects.filter(pk=job_id).only("num_entries").first()
    if job is None:
        return False
    now = timezone.now()
    with transaction.atomic():
        won = _transition(
            job_id, allowed=[JobStatus.RUNNING], to=JobStatus.FAILED, attempt=attempt, ended_at=now, progress=100,
            detail=detail,
        )  # fmt: skip
        if won:
            _fill_missing_entries(job_id, job.num_entries, status=JobStatus.FAILED, error=error, now=now)
    return won


def job_set_results(*, user: User, token: ApiToken | None, job_id: uuid.UUID, results: list[dict[str, Any]]) -> Job:
    """Store results that a driver fetched asynchronously; the job ends COMPLETED, or FAILED when
    an entry carries ``error``. A final job answers InvalidState and keeps what it has. For operators
    and ``driver``-scope tokens only; a project-bound token reaches only its project's jobs."""
    if not can_set_results(user, token):
        raise PermissionDenied("set_job_results needs an operator account or a token with the driver scope.")
    job = confined_to_token(user, Job.objects.select_related("backend")).filter(pk=job_id).first()
    if job is None or job.status == JobStatus.DELETED:
        raise NotFound(f"Job {job_id} not found.")
    if job.status in FINAL:
        raise InvalidState(f"Job {job_id} is already {job.status}; its results cannot change.")
    if len(results) != job.num_entries:
        raise InvalidParams.field("results", f"the job has {job.num_entries} entries; got {len(results)} results")
    now = timezone.now()
    failed = any(entry.get("error") for entry in results)
    final = JobStatus.FAILED if failed else JobStatus.COMPLETED
    with transaction.atomic():
        won = _transition(
            job_id,
            allowed=[JobStatus.QUEUED, JobStatus.RUNNING],
            to=final,
            ended_at=now,
            progress=100,
            started_at=job.started_at or now,
            num_qubits=max((e.get("num_qubits") or 0 for e in results), default=0) or None,
            detail="results set",
        )
        if not won:
            raise InvalidState(f"Job {job_id} has already ended; its results cannot change.")
        JobResult.objects.filter(job_id=job_id).delete()
        JobResult.objects.bulk_create(
            [
                JobResult(
                    job_id=job_id,
                    index=i,
                    status=JobStatus.FAILED if entry.get("error") else JobStatus.COMPLETED,
                    results=entry.get("results"),
                    num_qubits=entry.get("num_qubits"),
                    metadata={
                        "results_fetch_mode": job.backend.results_fetch_mode,
                        "status": JobStatus.FAILED if entry.get("error") else JobStatus.COMPLETED,
                        "ended_at": now.isoformat(),
                        **(entry.get("metadata") or {}),
                    },
                    profiling=entry.get("profiling") or {},
                    error=entry.get("error"),
                    memory=entry.get("memory"),
                    ended_at=now,
                )
                for i, entry in enumerate(results)
            ]
        )
        if job.status == JobStatus.QUEUED:
            queues.remove_on_commit(job_id, job.job_priority)
    job.refresh_from_db()
    return job


def _enqueue_missing(jobs: QuerySet[Job]) -> list[Job]:
    """Enqueue those of ``jobs`` that are QUEUED, may run now (backend online, or a dry run or
    estimate) and are not waiting in Redis, in priority and submission order. A duplicate entry is
    harmless: only one worker wins QUEUED -> RUNNING."""
    waiting = queues.waiting_ids()
    restored = []
    for job in jobs.filter(status=JobStatus.QUEUED).select_related("backend").order_by("job_priority", "queued_at"):
        if str(job.job_id) in waiting:
            continue
        if job.occupies_backend and job.backend.status != BackendStatus.ONLINE:
            continue  # held on purpose while its backend is paused or offline
        queues.enqueue(job.job_id, job.job_priority, job.backend.time_limit)
        restored.append(job)
    return restored


def jobs_enqueue_held(*, backend: Backend) -> int:
    """Enqueue the QUEUED jobs of ``backend`` that wait in the database only (it is online again)."""
    return len(_enqueue_missing(Job.objects.filter(backend=backend)))


# --- Operators ----------------------------------------------------------------------------------


def _require_staff(user: User) -> None:
    if not user.is_staff:
        raise PermissionDenied("Only operators (staff) may do this.")


def job_force_stop(*, user: User, job_id: uuid.UUID) -> Job:
    """Operators stop a running job: RUNNING -> CANCELLING -> CANCELLED, its work horse is killed and
    entries without an outcome carry -107. (A QUEUED job is simply cancelled.)"""
    _require_staff(user)
    job = Job.objects.select_related("backend").filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"Job {job_id} not found.")
    if job.status == JobStatus.QUEUED:
        jobs_cancel(user=user, job_ids=[job.job_id])
    elif job.status in (JobStatus.RUNNING, JobStatus.CANCELLING):
        _transition(job.job_id, allowed=[JobStatus.RUNNING], to=JobStatus.CANCELLING, detail=f"stopped by {user}")
        queues.stop_running(job.job_id)
        now = timezone.now()
        with transaction.atomic():
            # The horse may still be writing: its writes need RUNNING (and its attempt), so they lose.
            won = _transition(
                job.job_id, allowed=[JobStatus.CANCELLING], to=JobStatus.CANCELLED, ended_at=now, progress=100
            )
            if won:
                error = error_dict(CANCELLED_WHILE_RUNNING, f"stopped by an operator ({user})")
                _fill_missing_entries(job.job_id, job.num_entries, status=JobStatus.CANCELLED, error=error, now=now)
    else:
        raise InvalidState(f"Job {job_id} is {job.status}: only a queued or running job can be stopped.")
    job.refresh_from_db()
    return job


REQUEUEABLE = frozenset({JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.RUNNING, JobStatus.UNKNOWN})


def jobs_operator_requeue(*, user: User, job_ids: Iterable[uuid.UUID]) -> list[Job]:
    """An operator's "re-queue" button: QUEUED jobs missing from Redis are put back, failed,
    cancelled and stuck RUNNING jobs start over (``jobs_requeue``). Returns the jobs acted on."""
    _require_staff(user)
    ids = list(job_ids)
    # Missing ones first: the jobs jobs_requeue makes QUEUED are enqueued only after commit and
    # must not look missing to the first step.
    restored = _enqueue_missing(Job.objects.filter(pk__in=ids))
    return [*restored, *jobs_requeue(user=user, job_ids=ids)]


def jobs_requeue(*, user: User, job_ids: Iterable[uuid.UUID]) -> list[Job]:
    """Operators run failed, cancelled or stuck (RUNNING) jobs again from scratch: their results are
    discarded and they join the end of their priority's queue. ``attempts`` keeps counting, so a
    stale run of the job that is somehow still alive can never write into the new one."""
    _require_staff(user)
    requeued = []
    for job in Job.objects.filter(pk__in=list(job_ids), status__in=REQUEUEABLE).select_related("backend"):
        with transaction.atomic():
            won = _transition(
                job.job_id, allowed=[job.status], to=JobStatus.QUEUED, attempt=job.attempts,
                detail=f"re-queued by {user}", started_at=None, ended_at=None, progress=0, num_qubits=None,
                queued_at=timezone.now(), worker_name="",
            )  # fmt: skip
            if won:
                JobResult.objects.filter(job_id=job.job_id).delete()
                if job.backend.status == BackendStatus.ONLINE or not job.occupies_backend:
                    queues.enqueue(job.job_id, job.job_priority, job.backend.time_limit)
        if won:
            requeued.append(job)
    return requeued


# --- Recovery -----------------------------------------------------------------------------------

# A job is started at most this many times: a lost run is re-queued once, then the job fails -106.
MAX_ATTEMPTS = 2


def job_recover_lost(*, job_id: uuid.UUID, attempt: int, reason: str) -> str | None:
    """A RUNNING job whose worker is gone: back to QUEUED for one more attempt, else FAILED -106.

    Conditional on ``attempt``, so a recovery racing the job's own (late) finish has one winner.
    """
    job = Job.objects.select_related("backend").filter(pk=job_id, status=JobStatus.RUNNING).first()
    if job is None or job.attempts != attempt:
        return None
    if attempt >= MAX_ATTEMPTS:
        failed = job_fail(
            job_id=job_id, error=error_dict(WORKER_LOST, f"{reason}; the job was tried {attempt} times"),
            detail=f"worker lost: {reason}", attempt=attempt,
        )  # fmt: skip
        return JobStatus.FAILED if failed else None
    with transaction.atomic():
        won = _transition(
            job_id, allowed=[JobStatus.RUNNING], to=JobStatus.QUEUED, attempt=attempt, detail=f"re-queued: {reason}",
            started_at=None, progress=0, num_qubits=None, queued_at=timezone.now(), worker_name="",
        )  # fmt: skip
        if won:
            JobResult.objects.filter(job_id=job_id).delete()
            if job.backend.status == BackendStatus.ONLINE or not job.occupies_backend:
                queues.enqueue(job_id, job.job_priority, job.backend.time_limit)
    return JobStatus.QUEUED if won else None


def jobs_reconcile(*, lost_after: float | None = None, queued_grace: float | None = None) -> dict[str, int]:
    """Make the database and Redis agree again; safe to run any time, from any number of workers.

    - RUNNING jobs whose worker stopped reporting them (killed worker, lost machine) are recovered:
      re-queued once, then FAILED -106. Jobs handed to an async device are left alone.
    - QUEUED jobs that should be waiting in Redis but are not (Redis restarted empty, flushed, or a
      crash between commit and enqueue) are enqueued again.
    - Callback deliveries still pending that nothing in Redis will run any more are enqueued again.
    """
    lost_after = settings.RECONCILE_LOST_AFTER if lost_after is None else lost_after
    queued_grace = settings.RECONCILE_QUEUED_GRACE if queued_grace is None else queued_grace
    now = timezone.now()
    summary = {"requeued_lost": 0, "failed_lost": 0, "enqueued_missing": 0, "callbacks_requeued": 0}

    running = list(
        Job.objects.filter(status=JobStatus.RUNNING, started_at__lte=now - timedelta(seconds=lost_after))
        .select_related("backend")
        .only("job_id", "attempts", "dry_run", "job_type", "backend__driver")
    )
    running = [
        job for job in running
        if not (job.occupies_backend and get_driver(job.backend.driver).results_fetch_mode == "async")
    ]  # fmt: skip
    alive = queues.running_alive([str(job.job_id) for job in running])
    for job in running:
        if str(job.job_id) in alive:
            continue
        outcome = job_recover_lost(job_id=job.job_id, attempt=job.attempts, reason="its worker stopped responding")
        if outcome == JobStatus.QUEUED:
            summary["requeued_lost"] += 1
        elif outcome == JobStatus.FAILED:
            summary["failed_lost"] += 1

    stale = Job.objects.filter(queued_at__lte=now - timedelta(seconds=queued_grace))
    summary["enqueued_missing"] = len(_enqueue_missing(stale))
    summary["callbacks_requeued"] = callbacks.deliveries_reconcile(grace=queued_grace)
    return summary
