"""Callbacks (SPEC §6): record what a status change owes, then build, sign and send one delivery.

``on_status_change`` is the one hook the state machine calls, inside the transaction of every status
change. It stores one ``CallbackDelivery`` per matching callback of the job and enqueues
``jobs.tasks.deliver_callback(delivery_id)`` on the callbacks queue once the transaction commits (so a
rolled-back change owes nothing, and a worker always finds the row). A Redis failure then is logged,
never raised into the status change: the job's state never depends on its callbacks.

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

SSRF: the destination host is resolved when sending and the delivery is refused (recorded, never
sent, not retried) if any address it resolves to is not a public unicast address, unless it lies in
``CALLBACK_ALLOWED_NETWORKS`` (DEBUG adds loopback). The connection then goes to the checked
addresses only (``PinnedAdapter``), so a DNS answer that changes between check and connect cannot
redirect it; the Host header, TLS SNI and certificate checks still use the URL's host name.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import socket
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import django_rq
import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Prefetch
from django.utils import timezone
from redis import RedisError
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from rq import Retry
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from core.validation import dumps
from jobs import presenters, queues
from jobs.choices import CallbackType, JobStatus
from jobs.models import CallbackAttempt, CallbackDelivery, DeliveryStatus, Job, JobResult

logger = logging.getLogger(__name__)

DELIVER_CALLBACK = "jobs.tasks.deliver_callback"
EVENT_RESULTS = "job.results"
EVENT_STATUS = "job.status"
RESULTS_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
DEFAULT_TIMEOUT = 10.0
USER_AGENT = "quantum-job-portal-callbacks/1"
# Headers a callback's own ``headers`` cannot set: ours, and those that describe the message itself.
RESERVED_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding", "host", "connection"})
RESERVED_PREFIX = "x-portal-"
MAX_ERROR_LENGTH = 2000
DEBUG_NETWORKS = ("127.0.0.0/8", "::1/128")
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64, RFC 6052 / RFC 8215).
NAT64_NETWORKS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class DeliveryRefused(Exception):
    """The destination is not allowed: the delivery is recorded refused and never sent."""


class CallbackFailed(Exception):
    """An attempt failed (non-2xx, redirect, network error); raised so RQ's retry policy sees it."""


# --- Recording what a status change owes ----------------------------------------------------------


def _dumps(data: dict[str, Any]) -> str:
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


def _timeout(callback: dict[str, Any]) -> float:
    timeout = callback.get("timeout")
    return DEFAULT_TIMEOUT if timeout is None else float(timeout)


def on_status_change(*, job_id: uuid.UUID, status: str, at: datetime) -> None:
    """Record the deliveries this status change owes (enqueued once the transaction commits)."""
    row = Job.objects.filter(pk=job_id).values_list("callbacks", "backend__name").first()
    if row is None:
        return
    job_callbacks, backend = row
    owed = [(index, callback) for index, callback in enumerate(job_callbacks or []) if _wants(callback, status)]
    if not owed:
        return
    status_body = _dumps(
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
                (str(delivery.delivery_id), _timeout(callback), delivery.max_attempts - 1)
                for delivery, (_, callback) in zip(deliveries, owed, strict=True)
            ],
        )
    )


def _push(items: list[tuple[str, float, int]]) -> None:
    """Enqueue deliveries (after commit) by id, the delivery id as RQ job id, with RQ's retry policy."""
    # commit_mode "auto": on_status_change already waits for the commit (as jobs.queues does).
    queue = django_rq.get_queue(settings.CALLBACK_QUEUE_NAME, commit_mode="auto")
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


def deliveries_reconcile(*, grace: float) -> int:
    """Enqueue again the pending deliveries nothing in Redis will run any more (Redis was down at
    enqueue or lost its data, or a worker died mid-attempt); part of ``jobs_reconcile``."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job as RQJob

    cutoff = timezone.now() - timedelta(seconds=grace)
    stranded = []
    connection = django_rq.get_connection(settings.CALLBACK_QUEUE_NAME)
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
            (str(delivery.delivery_id), _timeout(callback), max(delivery.max_attempts - delivery.attempts - 1, 0))
        )
    if stranded:
        _push(stranded)
    return len(stranded)


# --- Destinations (SSRF) --------------------------------------------------------------------------


def allowed_networks() -> list[IPNetwork]:
    """CALLBACK_ALLOWED_NETWORKS, plus loopback when DEBUG is on (seed 000 posts to 127.0.0.1)."""
    names = list(settings.CALLBACK_ALLOWED_NETWORKS or [])
    if settings.DEBUG:
        names.extend(DEBUG_NETWORKS)
    return [ipaddress.ip_network(name, strict=False) for name in names]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address leads to (6to4, Teredo, NAT64)."""
    embedded = []
    if address.sixtofour is not None:
        embedded.append(address.sixtofour)
    if address.teredo is not None:
        embedded.extend(address.teredo)
    if any(address in network for network in NAT64_NETWORKS):
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return embedded


def address_refusal(address: str | IPAddress, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why ``address`` may not receive a callback, or None when it may.

    Anything but a public unicast address is refused, unless it lies in one of ``allowed``. An
    IPv4-mapped IPv6 address (``::ffff:127.0.0.1``) is judged as the IPv4 address it is.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    allowed = list(allowed)
    if any(ip.version == network.version and ip in network for network in allowed):
        return None
    for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return f"{ip} is {kind.replace('_', '-')}"
    if not ip.is_global:
        return f"{ip} is not a public address"
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in _embedded_ipv4(ip):
            reason = address_refusal(inner, allowed)
            if reason:
                return f"{ip} leads to {reason}"
    return None


def resolve_destination(url: str) -> list[str]:
    """The addresses ``url``'s host resolves to now, all of them allowed; DeliveryRefused otherwise.

    Raises ``socket.gaierror`` when the name does not resolve (a network error: retried).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryRefused("only http:// and https:// URLs are allowed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise DeliveryRefused(f"bad port in URL: {exc}") from exc
    infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
    if not addresses:
        raise socket.gaierror(f"{parts.hostname} resolves to no address")
    allowed = allowed_networks()
    for address in addresses:
        reason = address_refusal(address, allowed)
        if reason:
            raise DeliveryRefused(f"{parts.hostname} resolves to {address}: {reason}")
    return addresses


class _PinnedConnectionMixin:
    """Connect to the checked addresses instead of resolving the host again.

    urllib3 resolves the host inside ``_new_conn``; this is the one method replaced, so the Host
    header, TLS SNI and certificate verification keep using the URL's host name.
    """

    pinned_addresses: Sequence[str] = ()

    def _new_conn(self) -> socket.socket:
        error: OSError | None = None
        for address in self.pinned_addresses:
            try:
                return urllib3_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} ({address}) timed out. (connect timeout={self.timeout})"
                ) from exc
            except OSError as exc:
                error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


class PinnedAdapter(HTTPAdapter):
    """A requests adapter whose connections go only to ``addresses`` (checked by resolve_destination).

    requests and urllib3 offer no option to connect to a given address while keeping the host name
    for Host and TLS; this subclasses their documented extension points (``ConnectionCls``,
    ``pool_classes_by_scheme``) for one delivery attempt.
    """

    def __init__(self, addresses: Sequence[str]):
        self.addresses = tuple(addresses)
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        pinned = {"pinned_addresses": self.addresses}
        http = type("PinnedHTTPConnection", (_PinnedConnectionMixin, HTTPConnection), pinned)
        https = type("PinnedHTTPSConnection", (_PinnedConnectionMixin, HTTPSConnection), pinned)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("PinnedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("PinnedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }


# --- Sending one delivery -------------------------------------------------------------------------


def sign(body: bytes, secret: str) -> str:
    """The X-Portal-Signature value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def results_body(job: Job, job_status: str) -> str:
    """The body of a results callback: seed 000's body plus the owner."""
    entries = JobResult.objects.filter(job=job).order_by("index")
    return _dumps(
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
        if name.lower() not in RESERVED_HEADERS and not name.lower().startswith(RESERVED_PREFIX):
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
    return bool(
        CallbackDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
            status=status, updated_at=timezone.now()
        )
    )


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
    timeout = _timeout(callback)
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
    return CallbackFailed(
        f"callback {delivery.name!r} of job {delivery.job_id}, attempt {delivery.attempts} of "
        f"{delivery.max_attempts}: {error}" + (" (no attempts left)" if last else "")
    )


# --- What clients see -----------------------------------------------------------------------------


def deliveries_view(job: Job) -> list[dict[str, Any]]:
    """A job's deliveries and their attempts, for whoever may read the job: two queries at most."""
    if not job.callbacks:
        return []
    deliveries = CallbackDelivery.objects.filter(job_id=job.pk).prefetch_related(
        Prefetch("attempt_log", queryset=CallbackAttempt.objects.order_by("at", "id"))
    )
    return [
        {
            "delivery_id": str(delivery.delivery_id),
            "name": delivery.name,
            "type": delivery.type,
            "event": delivery.event,
            "job_status": delivery.job_status,
            "url": delivery.url,
            "status": delivery.status,
            "attempts": delivery.attempts,
            "attempt_log": [
                {
                    "at": attempt.at.isoformat(),
                    "status_code": attempt.status_code,
                    "error": attempt.error or None,
                    "duration": attempt.duration,
                }
                for attempt in delivery.attempt_log.all()
            ],
            "created_at": delivery.created_at.isoformat(),
            "updated_at": delivery.updated_at.isoformat(),
        }
        for delivery in deliveries
    ]
