"""The job state machine's kernel, shared by every service module.

Each status change is one conditional UPDATE (``... WHERE status IN (allowed)``) whose row count
says whether this caller won, so a cancel racing a worker's start has exactly one winner; the
winner records a JobEvent in the same transaction and announces the change (callbacks, live events).
On PostgreSQL the UPDATE, the event and the project's counter are one statement (core.prepared's
PreparedChain).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, IntegerField, Q, QuerySet, Subquery, UUIDField, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from backends.selectors import timeslot_holder_id
from core.metrics import JOB_STATUS_CHANGES
from core.prepared import Bound, Param, PreparedChain, PreparedInsert, PreparedUpdate
from drivers.base import EntryResult
from jobs import live, queues
from jobs.choices import ACTIVE, JobStatus
from jobs.models import CircuitDrawing, Job, JobEvent, JobResult, Tag
from jobs.rules import may_be_enqueued, may_be_enqueued_q
from jobs.signals import job_status_changed
from projects.models import Project


def transition(
    job_id: uuid.UUID,
    *,
    allowed: Iterable[str],
    to: str,
    detail: str = "",
    attempt: int | None = None,
    callbacks: list[dict[str, Any]] | None = None,
    project_id: int | None = None,
    row: tuple[PreparedInsert, dict[str, Any]] | None = None,
    on_win: Callable[[], None] | None = None,
    **fields: Any,
) -> bool:
    """Move the job to ``to`` if its status is in ``allowed`` (and, for a worker's write, the job is
    still on that worker's ``attempt``); True when this call won. ``callbacks`` and ``project_id``: the
    job's, when the caller has read the row already (saves the webhooks a query, the counter a subquery).
    ``row``: an insert and its values written with the change, only if it wins (a run's final entry);
    ``on_win``: called when it wins, before the change is announced (that entry's progress event).

    A change into or out of an active status moves the project's ``active_jobs`` in the same
    transaction. When ``allowed`` mixes active and ended statuses, the active ones are tried first,
    so the winner knows which side the job came from."""
    now = timezone.now()
    allowed = set(allowed)
    values = {"status": to, "updated_at": now, **fields}
    # A change is one statement on PostgreSQL (_change). It needs a transaction of its own only when a
    # receiver may write beside it: a job with callbacks owes deliveries (jobs.signals).
    alone = callbacks is not None and not callbacks
    # Inside a caller's transaction no savepoint: nobody goes on after a failed change (which dooms
    # the whole transaction), and the caller's writes after commit stay one batch (core.redis).
    with nullcontext() if alone else transaction.atomic(savepoint=False):
        for group in (allowed & ACTIVE, allowed - ACTIVE):
            was_active = bool(group & ACTIVE)
            delta = 0 if was_active == (to in ACTIVE) else 1 if to in ACTIVE else -1
            if group and _change(job_id, group, attempt, values, row, (to, now, detail), delta, project_id):
                if on_win is not None:
                    on_win()
                status_changed(job_id, to, now, progress=fields.get("progress"), callbacks=callbacks)
                return True
    return False


def _change(
    job_id: uuid.UUID,
    statuses: set[str],
    attempt: int | None,
    values: dict[str, Any],
    row: tuple[PreparedInsert, dict[str, Any]] | None,
    event: tuple[str, datetime, str],
    delta: int,
    project_id: int | None,
) -> bool:
    """The job's UPDATE (``values``, if its status is one of ``statuses`` and it is on ``attempt``),
    then ``row``, its event and, by ``delta``, its project's count of active jobs; True when the job
    changed. As one PreparedChain (one statement on PostgreSQL), unless a value is an expression of
    its own or the counter's project is not known: then in turn."""
    status, at, detail = event
    if (delta and project_id is None) or any(hasattr(value, "resolve_expression") for value in values.values()):
        with transaction.atomic(savepoint=False):
            if not _update_job(job_id, statuses, attempt, values):
                return False
            if row is not None:
                row[0].run(**row[1])
            record_event(job_id, status, at, detail)
            if delta:
                count_active(job_id, delta, project_id=project_id)
        return True
    update, params = _prepared_update(statuses, attempt, values)
    writes = [update, *([row[0]] if row else []), EVENT, *([_COUNT_ACTIVE] if delta else [])]
    key = tuple(id(write) for write in writes)
    chain = _CHAINS.get(key) or _CHAINS.setdefault(key, PreparedChain(*writes))
    steps = [{"where_job_id": job_id, **params}, *([row[1]] if row else [])]
    steps.append({"job_id": job_id, "status": status, "at": at, "detail": detail[:500]})
    if delta:
        steps.append({"project_id": project_id, "delta": delta})
    return bool(chain.run(*steps))


# The state machine's own statements, compiled once per shape (core.prepared): a status change's
# UPDATE by the statuses it may leave, whether it is a worker's (on an attempt) and the fields it
# writes; its event; the counter.
_JOB_UPDATES: dict[tuple, PreparedUpdate] = {}
_CHAINS: dict[tuple, PreparedChain] = {}  # by their writes
EVENT = PreparedInsert(JobEvent, ("job_id", "status", "at", "detail"))  # a change's timeline entry
# Never below zero, even for rows written around the state machine; jobs_reconcile recounts.
_COUNT_ACTIVE = PreparedUpdate(
    lambda: Project.objects.filter(pk=Param("project_id", IntegerField())),
    lambda: {"active_jobs": Greatest(F("active_jobs") + Param("delta", IntegerField()), 0)},
)


def record_event(job_id: uuid.UUID, status: str, at: datetime, detail: str = "") -> None:
    """The job's timeline entry of a status change (in the change's transaction)."""
    EVENT.run(job_id=job_id, status=status, at=at, detail=detail[:500])


def _job_update(statuses: set[str], on_attempt: bool, templates: dict[str, Any]) -> PreparedUpdate:
    """The UPDATE of one shape: ``templates`` by field, None for a plain value."""

    def rows() -> QuerySet[Job]:
        jobs = Job.objects.filter(pk=Param("where_job_id", UUIDField()), status__in=sorted(statuses))
        return jobs.filter(attempts=Param("where_attempt", IntegerField())) if on_attempt else jobs

    def written() -> dict[str, Any]:
        field = Job._meta.get_field
        return {name: Param(name, field(name)) if t is None else t for name, t in templates.items()}

    return PreparedUpdate(rows, written)


def _prepared_update(
    statuses: set[str], attempt: int | None, values: dict[str, Any]
) -> tuple[PreparedUpdate, dict[str, Any]]:
    """The prepared UPDATE writing ``values`` (plain values or ``Bound`` expressions) if the job's status
    is one of ``statuses`` (and it is on ``attempt``), and its parameters but the job's id."""
    templates = {name: value.template if isinstance(value, Bound) else None for name, value in values.items()}
    key = (frozenset(statuses), attempt is not None, tuple(sorted((n, id(t)) for n, t in templates.items())))
    update = _JOB_UPDATES.get(key) or _JOB_UPDATES.setdefault(
        key, _job_update(statuses, attempt is not None, templates)
    )
    params: dict[str, Any] = {"where_attempt": attempt}
    for name, value in values.items():
        params.update(value.params if isinstance(value, Bound) else {name: value})
    return update, params


def _update_job(job_id: uuid.UUID, statuses: set[str], attempt: int | None, values: dict[str, Any]) -> int:
    """``values`` written if the job's status is one of ``statuses`` (and it is on ``attempt``); the rows
    written, 0 or 1."""
    if any(hasattr(value, "resolve_expression") for value in values.values()):
        # An expression of its own is a shape of its own: through the ORM.
        where = {"pk": job_id} if attempt is None else {"pk": job_id, "attempts": attempt}
        return Job.objects.filter(status__in=sorted(statuses), **where).update(**values)
    update, params = _prepared_update(statuses, attempt, values)
    return update.run(where_job_id=job_id, **params)


def count_active(job_id: uuid.UUID, delta: int, *, project_id: int | None = None) -> None:
    """Move the job's project's count of active jobs. Last in its transaction: the project's row
    stays locked only until the commit that follows."""
    if project_id is not None:
        _COUNT_ACTIVE.run(project_id=project_id, delta=delta)
        return
    project = Subquery(Job.objects.filter(pk=job_id).values("project_id")[:1])
    Project.objects.filter(pk=project).update(active_jobs=Greatest(F("active_jobs") + delta, 0))


def status_changed(
    job_id: uuid.UUID, status: str, at, *, progress: int | None = None, callbacks: list | None = None
) -> None:
    """What every status change owes, inside its transaction: its announcement (callbacks hear it), and a
    live event after commit."""
    job_status_changed.send(sender=Job, job_id=job_id, status=status, at=at, callbacks=callbacks)
    JOB_STATUS_CHANGES.labels(status=status).inc()
    event = {"event": "status", "job_status": status, "updated_at": at.isoformat()}
    if isinstance(progress, int):
        event["progress"] = progress
    live.publish_on_commit(job_id, event)


@transaction.atomic
def tags_named(names: Iterable[str]) -> list[Tag]:
    names = list(dict.fromkeys(names))
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    missing = [Tag(name=name) for name in names if name not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    return [existing[name] for name in names]


def result_row(job_id: uuid.UUID, index: int, entry: EntryResult, *, ended_at: datetime) -> JobResult:
    """The stored row of one entry's outcome, however it arrived (the worker's driver, set_job_results)."""
    outcome = {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry)}  # no deep copy of results
    return JobResult(job_id=job_id, index=index, ended_at=ended_at, **outcome)


# Every entry a worker runs is one of these: 0.33 ms of CPU through Model.save, 0.1 ms prepared.
_INSERT_ENTRY = PreparedInsert(
    JobResult, tuple(f.attname for f in JobResult._meta.concrete_fields if not f.primary_key)
)


def store_result(job_id: uuid.UUID, index: int, entry: EntryResult, *, ended_at: datetime) -> None:
    """Insert one entry's outcome (``result_row``'s row), in the caller's transaction."""
    _INSERT_ENTRY.save_new(result_row(job_id, index, entry, ended_at=ended_at))


def result_insert(
    job_id: uuid.UUID, index: int, entry: EntryResult, *, ended_at: datetime
) -> tuple[PreparedInsert, dict[str, Any]]:
    """``store_result``'s insert and its values, for a ``transition`` to write with its change."""
    return _INSERT_ENTRY, _INSERT_ENTRY.row(result_row(job_id, index, entry, ended_at=ended_at))


def discard_outcome(job_id: uuid.UUID, *, rerun: bool = False) -> None:
    """Forget what a run of the job produced (its entries' results and its drawings), when it is
    deleted or set from outside. A job that runs again (``rerun``) keeps the entries its owner
    cancelled before it ran (Superstaq's ``cancel(index=...)``): they stay cancelled, never run."""
    results = JobResult.objects.filter(job_id=job_id)
    if rerun:
        cancelled = Q(status=JobStatus.CANCELLED, error__isnull=True)
        kept = results.filter(cancelled).count()
        if kept:  # the run's start looks for them (selectors.cancelled_entries) when progress says so
            progress = Greatest(Value(1), Value(kept * 100) / F("num_entries"))
            Job.objects.filter(pk=job_id).update(progress=progress)
        results = results.exclude(cancelled)
    results.delete()
    CircuitDrawing.objects.filter(job_id=job_id).delete()


def fill_missing_entries(job_id: uuid.UUID, num_entries: int, *, status: str, error: dict, now) -> None:
    """Give every entry that has no result yet the job's ending (``status`` with ``error``): a job
    that fails or is stopped keeps the entries that ended and answers for each of the others."""
    done = set(JobResult.objects.filter(job_id=job_id).values_list("index", flat=True))
    metadata = {"results_fetch_mode": "sync", "status": status, "ended_at": now.isoformat()}
    JobResult.objects.bulk_create(
        result_row(job_id, i, EntryResult(status=status, error=error, metadata=metadata), ended_at=now)
        for i in range(num_entries)
        if i not in done
    )


UNSET: Any = object()


def enqueue_if_allowed(job: Job, *, holder: int | None = UNSET) -> bool:
    """Put a QUEUED job in its priority's Redis queue (after commit) when it may wait there now
    (``rules.may_be_enqueued``); False when it stays held in the database. ``holder``: the project
    holding the job's backend by a timeslot now, when the caller knows it (else one query)."""
    if holder is UNSET:
        holder = timeslot_holder_id(backend_id=job.backend_id, at=timezone.now())
    if not may_be_enqueued(job, holder=holder):
        return False
    queues.enqueue(job.job_id, job.job_priority)
    return True


def enqueue_missing(jobs: QuerySet[Job]) -> list[Job]:
    """Enqueue those of ``jobs`` that are QUEUED, may run now (``rules.may_be_enqueued_q``: backend
    online and the timeslots allowing it, or a dry run or estimate) and are not waiting in Redis, in
    priority and submission order. The others stay held on purpose. A duplicate entry is harmless:
    only one worker wins QUEUED -> RUNNING."""
    waiting = queues.waiting_ids()
    restored = []
    allowed = jobs.filter(may_be_enqueued_q(timezone.now()), status=JobStatus.QUEUED)
    for job in allowed.order_by("job_priority", "queued_at"):
        if str(job.job_id) not in waiting:
            queues.enqueue(job.job_id, job.job_priority)
            restored.append(job)
    return restored
