"""A job's life after submission: what its owner may do to it (cancel, delete, update) and what the
worker and async devices write (start, entries, finish, fail, results set from outside)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import DateTimeField, IntegerField, OuterRef, UUIDField
from django.utils import timezone

from backends.models import Backend
from backends.selectors import timeslot_holder
from backends.services import backend_snapshot_ref
from core.exceptions import (
    InvalidParams,
    InvalidState,
    JobNotSubmittedToQC,
    NotFound,
    PermissionDenied,
)
from core.prepared import Param, Prepared
from core.redis import batched
from drivers.base import EntryResult
from jobs import live, queues
from jobs.choices import CANCELLABLE, CIRCUIT_CODE_TYPES, DELETABLE, FINAL, JobStatus
from jobs.models import Job, JobResult
from jobs.rules import may_be_enqueued, scheduling_mode, status_from_entries
from jobs.selectors import confined_to_token, job_get_for_change, job_get_for_user, jobs_changeable_by
from jobs.services.state import (
    discard_outcome,
    enqueue_missing,
    fill_missing_entries,
    result_insert,
    result_row,
    store_result,
    tags_named,
    transition,
)
from projects.models import ApiToken, User
from projects.permissions import can_set_results

UNSET: Any = object()


def _visible_jobs(user: User, job_ids: Iterable[uuid.UUID]) -> list[Job]:
    return list(jobs_changeable_by(user).filter(pk__in=list(job_ids)).select_related("backend"))


def jobs_cancel(*, user: User, job_ids: Iterable[uuid.UUID]) -> list[Job]:
    """Cancel those of ``job_ids`` that the user may reach and that are still QUEUED; returns them."""
    cancelled = []
    for job in _visible_jobs(user, job_ids):
        if job.status in CANCELLABLE and transition(
            job.job_id, allowed=CANCELLABLE, to=JobStatus.CANCELLED, project_id=job.project_id,
            ended_at=timezone.now(), detail="cancelled",
        ):  # fmt: skip
            queues.remove(job.job_id, job.job_priority)
            job.status = JobStatus.CANCELLED
            cancelled.append(job)
    return cancelled


def _refuse_cancel(job: Job, rule: str) -> None:
    """Why ``job`` could not be cancelled, as IQM says it: ``job_not_submitted_to_qc`` once it has ended."""
    job.refresh_from_db(fields=["status"])
    if job.status in FINAL:
        raise JobNotSubmittedToQC(f"Job {job.job_id} is {job.status}: it has ended, there is nothing to cancel.")
    raise InvalidState(f"Job {job.job_id} is {job.status}: {rule}.")


def job_cancel(*, user: User, job_id: uuid.UUID) -> Job:
    """Cancel one job (REST's and the web's cancel): the job, cancelled; or why not, as IQM's
    CancelJobV1 says it: ``job_not_submitted_to_qc`` once it has ended, ``invalid_state`` while it runs."""
    job = job_get_for_change(user=user, job_id=job_id)
    if not jobs_cancel(user=user, job_ids=[job.job_id]):
        _refuse_cancel(job, "only a QUEUED job can be cancelled")
    return job_get_for_user(user=user, job_id=job_id)


def job_cancel_entries(*, user: User, job_id: uuid.UUID, indexes: Iterable[int]) -> Job:
    """Cancel some entries of a queued job (Superstaq's ``cancel(index=...)``): they never run, and the job,
    when it ends, takes its status from its entries' (``rules.status_from_entries``). Cancelling every
    entry cancels the job. Refused as ``job_cancel`` refuses, and for an index the job does not have."""
    job = job_get_for_change(user=user, job_id=job_id)
    wanted = sorted(set(indexes))
    beyond = [i for i in wanted if not 0 <= i < job.num_entries]
    if beyond:
        raise InvalidParams.field("indexes", f"job {job.job_id} has entries 0 to {job.num_entries - 1}; not {beyond}")
    with transaction.atomic():
        locked = Job.objects.select_for_update().filter(pk=job.job_id, status__in=CANCELLABLE).first()
        if locked is None:
            job.refresh_from_db(fields=["status"])
            if job.status in FINAL:
                raise JobNotSubmittedToQC(
                    f"Job {job.job_id} is {job.status}: it has ended, there is nothing to cancel."
                )
            raise InvalidState(f"Job {job.job_id} is {job.status}: entries can be cancelled while it is queued.")
        stored = set(JobResult.objects.filter(job_id=job.job_id).values_list("index", flat=True))
        now = timezone.now()
        metadata = {"results_fetch_mode": "sync", "status": JobStatus.CANCELLED, "ended_at": now.isoformat()}
        new = [i for i in wanted if i not in stored]
        JobResult.objects.bulk_create(
            result_row(job.job_id, i, EntryResult(status=JobStatus.CANCELLED, metadata=metadata), ended_at=now)
            for i in new
        )
        done = len(stored) + len(new)
        Job.objects.filter(pk=job.job_id).update(progress=min(100, done * 100 // max(job.num_entries, 1)))
        for i in new:
            live.publish_on_commit(
                job.job_id,
                {"event": "progress", "job_status": JobStatus.QUEUED, "progress": done * 100 // job.num_entries,
                 "index": i, "entry_status": JobStatus.CANCELLED},
            )  # fmt: skip
    if done == job.num_entries:
        jobs_cancel(user=user, job_ids=[job.job_id])
    return job_get_for_user(user=user, job_id=job_id, with_results=True)


def job_delete(*, user: User, job_id: uuid.UUID) -> None:
    """Delete one job (REST's DELETE): done when it is deleted already; refused while it runs."""
    job = job_get_for_change(user=user, job_id=job_id)
    if job.status != JobStatus.DELETED and not jobs_delete(user=user, job_ids=[job.job_id]):
        job.refresh_from_db(fields=["status"])
        if job.status != JobStatus.DELETED:
            raise InvalidState(f"Job {job.job_id} is {job.status}: it can be deleted once it has ended.")


def jobs_delete(*, user: User, job_ids: Iterable[uuid.UUID]) -> list[Job]:
    """Delete those of ``job_ids`` not RUNNING or CANCELLING: source and results are purged, the row stays."""
    deleted = []
    for job in _visible_jobs(user, job_ids):
        if job.status not in DELETABLE:
            continue
        with transaction.atomic():
            won = transition(
                job.job_id, allowed=DELETABLE, to=JobStatus.DELETED, project_id=job.project_id, source_blob=None
            )
            if won:
                discard_outcome(job.job_id)
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
    job = job_get_for_change(user=user, job_id=job_id)
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
            # Moved only if it waits in Redis: a job held in the database stays held.
            queues.move_on_commit(job.job_id, job.job_priority, job_priority)
        fields["updated_at"] = timezone.now()
        updated = Job.objects.filter(pk=job.pk).exclude(status=JobStatus.DELETED).update(**fields)
        if not updated:
            raise InvalidState(f"Job {job_id} is deleted.")
        if tags is not UNSET:
            job.tags.set(tags_named(tags))
    return job_get_for_user(user=user, job_id=job_id)


# A worker's reads of every job it runs, compiled once (core.prepared).
_JOB_TO_START = Prepared(
    lambda: (
        Job.objects.select_related("backend")
        .annotate(slot_holder=timeslot_holder(OuterRef("backend_id"), Param("now", DateTimeField())))
        .filter(pk=Param("job_id", UUIDField()))[:1]
    )
)
# What the writers need, not the job's source (read once, at its start); by attempt or not.
_WRITER_FIELDS = ("job_id", "project_id", "code_type", "num_entries", "num_qubits", "attempts", "callbacks")
_RUNNING = {
    on_attempt: Prepared(
        lambda on_attempt=on_attempt: (
            Job.objects.select_for_update()
            .only(*_WRITER_FIELDS)
            .filter(pk=Param("job_id", UUIDField()), status=JobStatus.RUNNING)
            .filter(**({"attempts": Param("attempt", IntegerField())} if on_attempt else {}))
            .order_by()[:1]
        )
    )
    for on_attempt in (True, False)
}
# A finish's one read: the running job's fields its change needs and its stored entries (an entry-less
# job is one row whose entry columns are null).
_FINISHING = {
    on_attempt: Prepared(
        lambda on_attempt=on_attempt: (
            Job.objects.filter(pk=Param("job_id", UUIDField()), status=JobStatus.RUNNING)
            .filter(**({"attempts": Param("attempt", IntegerField())} if on_attempt else {}))
            .order_by()
            .values_list(
                "project_id",
                "callbacks",
                "num_entries",
                "code_type",
                "num_qubits",
                "attempts",
                "entries__index",
                "entries__status",
            )
        )
    )
    for on_attempt in (True, False)
}
_ENTRY_STATUSES = Prepared(
    # Unordered: its ordering (by the job's creation) joined the job's row to sort one job's entries.
    lambda: JobResult.objects.filter(job_id=Param("job_id", UUIDField())).order_by().values_list("index", "status")
)


def job_start(*, job_id: uuid.UUID, worker_name: str = "") -> Job | None:
    """QUEUED -> RUNNING for the worker that dequeued it; None when the job is no longer QUEUED
    (cancelled, deleted, or completed by set_job_results) or may not run now (``rules.may_be_enqueued``:
    its backend is not online, or a timeslot of another project holds it, or the job waits for its
    project's slot). Then the job stays QUEUED, held in the database until it may run."""
    now = timezone.now()
    job = _JOB_TO_START.first(job_id=job_id, now=now)
    if job is None or job.status != JobStatus.QUEUED:
        return None
    if not may_be_enqueued(job, holder=job.slot_holder):
        return None
    attempts = job.attempts + 1
    # On the attempt read above: the row then changes exactly as written here, so it needs no re-read.
    won = transition(
        job_id,
        allowed=[JobStatus.QUEUED],
        to=JobStatus.RUNNING,
        attempt=job.attempts,
        callbacks=job.callbacks,
        started_at=now,
        attempts=attempts,
        worker_name=worker_name[:200],
        backend_snapshot_id=backend_snapshot_ref(backend=job.backend),
        scheduling_mode=scheduling_mode(job, holder=job.slot_holder),
    )
    if not won:
        return None
    job.status, job.started_at, job.updated_at, job.attempts = JobStatus.RUNNING, now, now, attempts
    job.worker_name = worker_name[:200]
    job.scheduling_mode = scheduling_mode(job, holder=job.slot_holder)
    return job


def _entry_moves(
    num_entries: int, num_qubits: int | None, index: int, entry: EntryResult, done: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What one entry's outcome moves in a RUNNING job of ``num_entries`` (and ``num_qubits``) that has
    ``done`` other entries stored: the job fields (progress, num_qubits) and its progress event."""
    fields: dict[str, Any] = {"progress": min(100, (done + 1) * 100 // max(num_entries, 1))}
    if entry.num_qubits is not None and (num_qubits or 0) < entry.num_qubits:
        fields["num_qubits"] = entry.num_qubits
    event = {"event": "progress", "job_status": JobStatus.RUNNING, "progress": fields["progress"], "index": index,
             "entry_status": entry.status}  # fmt: skip
    return fields, event


def _store_entry(job: Job, index: int, entry: EntryResult, done: int) -> dict[str, Any]:
    """Insert one entry's outcome of a locked RUNNING ``job`` that has ``done`` other entries stored,
    and its progress event after commit; answers the job fields it moves (progress, num_qubits)."""
    store_result(job.job_id, index, entry, ended_at=timezone.now())
    fields, event = _entry_moves(job.num_entries, job.num_qubits, index, entry, done)
    live.publish_on_commit(job.job_id, event)
    return fields


def _running(job_id: uuid.UUID, attempt: int | None) -> Job | None:
    """The job, locked, while it is RUNNING on ``attempt``; None when a late or duplicate writer lost."""
    return _RUNNING[attempt is not None].first(job_id=job_id, attempt=attempt)


def job_record_entry(*, job_id: uuid.UUID, index: int, entry: EntryResult, attempt: int | None = None) -> bool:
    """Store one entry's outcome and move progress; False when the job is no longer RUNNING on
    this ``attempt`` (a late or duplicate writer loses and writes nothing)."""
    with transaction.atomic():
        job = _running(job_id, attempt)
        if job is None:
            return False
        stored = {index for index, _ in _ENTRY_STATUSES.all(job_id=job_id)}
        if index in stored:
            return False
        fields = _store_entry(job, index, entry, len(stored))
        Job.objects.filter(pk=job_id).update(**fields)
    return True


def job_finish(
    *, job_id: uuid.UUID, attempt: int | None = None, last: tuple[int, EntryResult] | None = None
) -> str | None:
    """RUNNING -> COMPLETED when every entry completed, else FAILED. ``last``: the final entry's
    (index, outcome), stored with the change, only if it wins: a one-entry job's end is one read and
    one statement on PostgreSQL. Returns the final status, or None when the job had already left
    RUNNING (or this attempt).

    No lock between the read and the change: the change is conditional on RUNNING and the attempt,
    and only this attempt's worker writes its entries meanwhile; whoever took the job from it (a
    recovery, an operator, set_job_results) changed its status, and then this change writes nothing."""
    rows = _FINISHING[attempt is not None].all(job_id=job_id, attempt=attempt)
    if not rows:
        return None
    project_id, callbacks, num_entries, code_type, num_qubits, attempts = rows[0][:6]
    statuses = {index: status for *_, index, status in rows if index is not None}
    now = timezone.now()
    fields: dict[str, Any] = {}
    row = on_win = None
    if last is not None and last[0] not in statuses:
        index, entry = last
        fields, event = _entry_moves(num_entries, num_qubits, index, entry, len(statuses))
        row = result_insert(job_id, index, entry, ended_at=now)
        on_win = partial(live.publish_on_commit, job_id, event)
        statuses[index] = entry.status
    final = status_from_entries(statuses.values(), num_entries)
    with batched():  # its events and its drawings' push: one round trip
        won = transition(
            job_id, allowed=[JobStatus.RUNNING], to=final, attempt=attempts, callbacks=callbacks,
            project_id=project_id, row=row, on_win=on_win, ended_at=now, **{**fields, "progress": 100},
        )  # fmt: skip
        if won and code_type in CIRCUIT_CODE_TYPES:
            queues.enqueue_drawing(job_id)
    return final if won else None


def job_fail(*, job_id: uuid.UUID, error: dict[str, Any], detail: str = "", attempt: int | None = None) -> bool:
    """Fail a running job whose run broke off: entries without an outcome get ``error``."""
    job = Job.objects.filter(pk=job_id).only("num_entries", "project_id", "code_type").first()
    if job is None:
        return False
    now = timezone.now()
    with transaction.atomic():
        won = transition(
            job_id, allowed=[JobStatus.RUNNING], to=JobStatus.FAILED, attempt=attempt, project_id=job.project_id,
            ended_at=now, progress=100, detail=detail,
        )  # fmt: skip
        if won:
            fill_missing_entries(job_id, job.num_entries, status=JobStatus.FAILED, error=error, now=now)
            if job.code_type in CIRCUIT_CODE_TYPES:
                queues.enqueue_drawing(job_id)
    return won


def _reported_entry(entry: dict[str, Any], fetch_mode: str, now: datetime) -> EntryResult:
    """An entry of ``set_job_results`` as the outcome a driver would have reported."""
    status = JobStatus.FAILED if entry.get("error") else JobStatus.COMPLETED
    return EntryResult(
        status=status,
        metadata={
            "results_fetch_mode": fetch_mode,
            "status": status,
            "ended_at": now.isoformat(),
            **(entry.get("metadata") or {}),
        },
        profiling=entry.get("profiling") or {},
        **{name: entry.get(name) for name in ("results", "num_qubits", "error", "memory")},
    )


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
        won = transition(
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
        discard_outcome(job_id)
        fetch_mode = job.backend.results_fetch_mode
        JobResult.objects.bulk_create(
            result_row(job_id, i, _reported_entry(entry, fetch_mode, now), ended_at=now)
            for i, entry in enumerate(results)
        )
        if job.status == JobStatus.QUEUED:
            queues.remove_on_commit(job_id, job.job_priority)
    job.refresh_from_db()
    return job


def jobs_enqueue_held(*, backend: Backend) -> int:
    """Enqueue the QUEUED jobs of ``backend`` that wait in the database only (it is online again)."""
    return len(enqueue_missing(Job.objects.filter(backend=backend)))
