"""Deciding what a job's status change owes its callbacks (SPEC §6), apart from sending it.

``on_status_change`` hears ``jobs.signals.job_status_changed``, sent inside the transaction of every
status change. It stores one ``CallbackDelivery`` per matching callback of the job and enqueues
``webhooks.tasks.deliver_callback(delivery_id)`` on the callbacks queue once the transaction commits
(so a rolled-back change owes nothing, and a worker always finds the row). A Redis failure then is
logged, never raised into the status change: the job's state never depends on its callbacks.
``deliveries_reconcile`` hears ``jobs.signals.jobs_reconciling`` and enqueues again what Redis lost.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from redis import RedisError
from rq import Retry

from core.redis import client as redis_client
from core.validation import dumps
from jobs import queues
from jobs.choices import CallbackType, JobStatus
from jobs.models import Job
from webhooks.models import CallbackDelivery, DeliveryStatus

logger = logging.getLogger(__name__)

DELIVER_CALLBACK = "webhooks.tasks.deliver_callback"
EVENT_RESULTS = "job.results"
EVENT_STATUS = "job.status"
RESULTS_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
DEFAULT_TIMEOUT = 10.0


def body_json(data: dict[str, Any]) -> str:
    # Strict JSON (a non-finite number as null); ASCII, so a lone surrogate of an old row is an escape.
    return dumps(data, separators=(",", ":"))


def _wants(callback: dict[str, Any], status: str) -> bool:
    if callback.get("type") == CallbackType.STATUS:
        return True
    return callback.get("type", CallbackType.RESULTS) == CallbackType.RESULTS and status in RESULTS_STATUSES


def retry_intervals(retries: int) -> list[int]:
    """The delay before each of ``retries`` retries: CALLBACK_RETRY_DELAYS, its last value repeated."""
    delays = [int(delay) for delay in settings.CALLBACK_RETRY_DELAYS] or [0]
    return [delays[min(i, len(delays) - 1)] for i in range(retries)]


def _retries(callback: dict[str, Any]) -> int:
    retries = callback.get("retries")
    return len(settings.CALLBACK_RETRY_DELAYS) if retries is None else int(retries)


def callback_timeout(callback: dict[str, Any]) -> float:
    timeout = callback.get("timeout")
    return DEFAULT_TIMEOUT if timeout is None else float(timeout)


def on_status_change(
    sender: Any = None,
    *,
    job_id: uuid.UUID,
    status: str,
    at: datetime,
    callbacks: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> None:
    """Record the deliveries this status change owes (enqueued once the transaction commits)."""
    if callbacks is not None and not any(_wants(callback, status) for callback in callbacks):
        return  # the common case, a job without callbacks, costs no query
    row = Job.objects.filter(pk=job_id).values_list("callbacks", "backend__name").first()
    if row is None:
        return
    job_callbacks, backend = row
    owed = [(index, callback) for index, callback in enumerate(job_callbacks or []) if _wants(callback, status)]
    if not owed:
        return
    status_body = body_json(
        {"job_id": str(job_id), "job_status": status, "backend": backend, "updated_at": at.isoformat()}
    )
    deliveries = []
    for index, callback in owed:
        is_status = callback.get("type") == CallbackType.STATUS
        deliveries.append(
            CallbackDelivery(
                job_id=job_id,
                callback_index=index,
                name=callback.get("name") or "callback",
                type=CallbackType.STATUS if is_status else CallbackType.RESULTS,
                method=(callback.get("method") or "post").lower(),
                url=callback["url"],
                event=EVENT_STATUS if is_status else EVENT_RESULTS,
                job_status=status,
                # A results body waits for the first attempt: set_job_results writes the results
                # after this hook, in the same transaction.
                body=status_body if is_status else "",
                max_attempts=1 + _retries(callback),
                created_at=at,
                updated_at=at,
            )
        )
    CallbackDelivery.objects.bulk_create(deliveries)
    transaction.on_commit(
        partial(
            _push,
            [
                (str(delivery.delivery_id), callback_timeout(callback), delivery.max_attempts - 1)
                for delivery, (_, callback) in zip(deliveries, owed, strict=True)
            ],
        )
    )


def _push(items: list[tuple[str, float, int]]) -> None:
    """Enqueue deliveries (after commit) by id, the delivery id as RQ job id, with RQ's retry policy."""
    # commit_mode "auto": on_status_change already waits for the commit (as jobs.queues does).
    name = settings.CALLBACK_QUEUE_NAME
    queue = django_rq.get_queue(name, connection=redis_client(name), commit_mode="auto")
    for delivery_id, timeout, retries in items:
        try:
            queue.enqueue(
                DELIVER_CALLBACK,
                delivery_id,
                job_id=delivery_id,
                # requests' timeout holds per connect and per read; RQ's is the backstop for the whole try.
                job_timeout=int(3 * timeout) + 30,
                retry=Retry(max=retries, interval=retry_intervals(retries)) if retries else None,
                result_ttl=queues.RQ_RESULT_TTL,
                failure_ttl=queues.RQ_FAILURE_TTL,
            )
        except RedisError:
            # The status change is committed and must not fail because of a callback: the delivery
            # stays pending in the database.
            logger.warning("could not enqueue callback delivery %s (Redis unavailable)", delivery_id, exc_info=True)


# RQ job states in which a delivery will still be run by someone.
_ALIVE_RQ_STATES = frozenset({"queued", "scheduled", "started", "deferred"})


def deliveries_reconcile(sender: Any = None, *, grace: float, **kwargs: Any) -> dict[str, int]:
    """Enqueue again the pending deliveries nothing in Redis will run any more (Redis was down at
    enqueue or lost its data, or a worker died mid-attempt); part of ``jobs_reconcile``, whose
    summary gets ``callbacks_requeued``."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job as RQJob

    cutoff = timezone.now() - timedelta(seconds=grace)
    stranded = []
    connection = redis_client(settings.CALLBACK_QUEUE_NAME)
    pending = CallbackDelivery.objects.filter(status=DeliveryStatus.PENDING, updated_at__lte=cutoff).select_related(
        "job"
    )
    for delivery in pending.only("delivery_id", "attempts", "max_attempts", "callback_index", "job__callbacks"):
        try:
            state = RQJob.fetch(str(delivery.delivery_id), connection=connection).get_status(refresh=False)
        except NoSuchJobError:
            state = None
        if state in _ALIVE_RQ_STATES:
            continue
        callbacks = delivery.job.callbacks or []
        callback = callbacks[delivery.callback_index] if delivery.callback_index < len(callbacks) else {}
        stranded.append(
            (
                str(delivery.delivery_id),
                callback_timeout(callback),
                max(delivery.max_attempts - delivery.attempts - 1, 0),
            )
        )
    if stranded:
        _push(stranded)
    return {"callbacks_requeued": len(stranded)}
