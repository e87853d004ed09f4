"""Sending one callback delivery: build its body, sign it, send it to the checked addresses, record the
attempt. Never touches the job.

What a receiver gets:

- ``X-Portal-Event: job.results`` when the job reached COMPLETED, FAILED or CANCELLED, with
  ``{project_id, user_id, job_id, job_status, backend, results}`` (``results`` as ``get_job_results``
  renders them); ``X-Portal-Event: job.status`` on every status change (QUEUED at submit included),
  with ``{job_id, job_status, backend, updated_at}``. Status deliveries are separate RQ jobs and a
  retried one can arrive after a later one: receivers order them by ``updated_at``.
- ``X-Portal-Delivery``: the delivery's UUID, the same on every attempt, so a receiver can drop a
  repeat (delivery is at least once: a worker that dies between the receiver's 2xx and recording it
  sends again).
- ``X-Portal-Signature: sha256=<hex HMAC-SHA256 of the body bytes keyed with the project's
  callback_secret>``.

Retries are RQ's own (``Retry(max=retries, interval=CALLBACK_RETRY_DELAYS)``): a non-2xx answer, a
redirect (never followed) or a network error records the attempt and raises, and RQ re-enqueues the
job after the next delay through the worker's scheduler. The delivery row, not RQ, is the truth: each
attempt is claimed with a conditional UPDATE on the attempt count before sending, and a delivery that
is no longer pending is never sent again.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import requests
from django.db.models import F
from django.utils import timezone
from requests.structures import CaseInsensitiveDict

from core.metrics import CALLBACK_ATTEMPTS
from jobs import presenters
from jobs.choices import CALLBACK_RESERVED_HEADERS, CALLBACK_RESERVED_PREFIX
from jobs.models import Job, JobResult
from webhooks.deliveries import body_json, callback_timeout
from webhooks.models import CallbackAttempt, CallbackDelivery, DeliveryStatus
from webhooks.ssrf import DeliveryRefused, PinnedAdapter, resolve_destination

USER_AGENT = "quantum-job-portal-callbacks/1"
MAX_ERROR_LENGTH = 2000


class CallbackFailed(Exception):
    """An attempt failed (non-2xx, redirect, network error); raised so RQ's retry policy sees it."""


def sign(body: bytes, secret: str) -> str:
    """The X-Portal-Signature value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def results_body(job: Job, job_status: str) -> str:
    """The body of a results callback: seed 000's body plus the owner."""
    entries = JobResult.objects.filter(job=job).order_by("index")
    return body_json(
        {
            "project_id": str(job.project.project_id),
            "user_id": str(job.user.user_id),
            "job_id": str(job.job_id),
            "job_status": job_status,
            "backend": job.backend.name,
            "results": [presenters.entry_view(entry) for entry in entries],
        }
    )


def request_headers(delivery: CallbackDelivery, callback: dict[str, Any], body: bytes, secret: str) -> dict:
    """The callback's own headers, then ours, which they cannot override."""
    headers: CaseInsensitiveDict = CaseInsensitiveDict({"User-Agent": USER_AGENT})
    for name, value in (callback.get("headers") or {}).items():
        if name.lower() not in CALLBACK_RESERVED_HEADERS and not name.lower().startswith(CALLBACK_RESERVED_PREFIX):
            headers[name] = value
    headers["Content-Type"] = "application/json"
    headers["X-Portal-Event"] = delivery.event
    headers["X-Portal-Delivery"] = str(delivery.delivery_id)
    headers["X-Portal-Signature"] = sign(body, secret)
    return dict(headers)


def _record(
    delivery: CallbackDelivery, *, at: datetime, started: float, status_code: int | None = None, error: str = ""
) -> None:
    CallbackAttempt.objects.create(
        delivery=delivery,
        at=at,
        status_code=status_code,
        error=error[:MAX_ERROR_LENGTH],
        duration=round(time.monotonic() - started, 6),
    )


def _finish(delivery: CallbackDelivery, status: str) -> bool:
    """pending -> ``status``; False when the delivery had already ended."""
    finished = bool(
        CallbackDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
            status=status, updated_at=timezone.now()
        )
    )
    if finished:
        CALLBACK_ATTEMPTS.labels(outcome=status).inc()
    return finished


def _send(
    addresses: Sequence[str], method: str, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> requests.Response:
    with requests.Session() as session:
        # No proxies or .netrc from the environment: a proxy would connect somewhere unchecked.
        session.trust_env = False
        adapter = PinnedAdapter(addresses)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        response = session.request(
            method.upper(),
            url,
            data=body,
            headers=headers,
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,
        )
        response.close()  # the answer's body is never read
        return response


def deliver(delivery_id: str) -> None:
    """Send one delivery (an RQ job on the callbacks queue).

    Returns quietly when there is nothing to send (delivered, failed, refused, or another run of the
    same delivery claimed this attempt); raises CallbackFailed after recording a failed attempt, so
    RQ retries it while the delivery has attempts left. Never touches the job.
    """
    delivery = (
        CallbackDelivery.objects.select_related("job__project", "job__user", "job__backend")
        .defer("job__source_blob")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is not None:
        attempt_delivery(delivery)


def attempt_delivery(delivery: CallbackDelivery) -> None:
    """Make the next attempt of ``delivery`` (as read from the database), unless another run made it."""
    if delivery.status != DeliveryStatus.PENDING:
        return
    if delivery.attempts >= delivery.max_attempts:  # a run beyond RQ's retries (a worker died mid-attempt)
        _finish(delivery, DeliveryStatus.FAILED)
        return
    job = delivery.job
    callbacks = job.callbacks or []
    callback = callbacks[delivery.callback_index] if delivery.callback_index < len(callbacks) else {}
    # Claim attempt n: of two runs of the same delivery, only one sends it.
    now = timezone.now()
    claimed = CallbackDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts
    ).update(attempts=F("attempts") + 1, updated_at=now)
    if not claimed:
        return
    delivery.attempts += 1
    if not delivery.body:
        delivery.body = results_body(job, delivery.job_status)
        CallbackDelivery.objects.filter(pk=delivery.pk, body="").update(body=delivery.body)
    started = time.monotonic()
    try:
        addresses = resolve_destination(delivery.url)
    except DeliveryRefused as exc:
        _record(delivery, at=now, started=started, error=f"refused: {exc}")
        _finish(delivery, DeliveryStatus.REFUSED)
        return
    except OSError as exc:
        raise _failed(delivery, at=now, started=started, error=f"name resolution failed: {exc}") from exc

    body = delivery.body.encode()
    headers = request_headers(delivery, callback, body, job.project.callback_secret)
    timeout = callback_timeout(callback)
    try:
        response = _send(addresses, delivery.method, delivery.url, body, headers, timeout)
    except requests.Timeout as exc:
        raise _failed(delivery, at=now, started=started, error=f"timeout after {timeout:g} s: {exc}") from exc
    except Exception as exc:
        # Network errors, a header requests rejects, RQ's own job timeout: every claimed attempt is recorded.
        raise _failed(delivery, at=now, started=started, error=f"{type(exc).__name__}: {exc}") from exc
    if 200 <= response.status_code < 300:
        _record(delivery, at=now, started=started, status_code=response.status_code)
        _finish(delivery, DeliveryStatus.DELIVERED)
        return
    if 300 <= response.status_code < 400:
        location = response.headers.get("Location")
        error = f"redirect to {location!r} not followed" if location else "redirect not followed"
    else:
        error = f"HTTP {response.status_code} {response.reason or ''}".strip()
    raise _failed(delivery, at=now, started=started, status_code=response.status_code, error=error)


def _failed(
    delivery: CallbackDelivery, *, at: datetime, started: float, status_code: int | None = None, error: str
) -> CallbackFailed:
    """Record a failed attempt (the delivery fails when it was the last) and return what to raise."""
    _record(delivery, at=at, started=started, status_code=status_code, error=error)
    last = delivery.attempts >= delivery.max_attempts
    if last:
        _finish(delivery, DeliveryStatus.FAILED)
    else:
        CALLBACK_ATTEMPTS.labels(outcome="retrying").inc()
    return CallbackFailed(
        f"callback {delivery.name!r} of job {delivery.job_id}, attempt {delivery.attempts} of "
        f"{delivery.max_attempts}: {error}" + (" (no attempts left)" if last else "")
    )
