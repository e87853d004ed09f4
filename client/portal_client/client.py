"""``PortalClient``: every JSON-RPC method of the portal (SPEC §3) as a typed Python method.

Transport rules, in one place (``_call``):

- connection errors, timeouts, HTTP 5xx and ``rate_limited`` answers are retried with exponential
  backoff and full jitter, waiting at least the ``retry_after`` the portal asks for; every other error
  is raised at once as its exception from ``portal_client.errors``;
- ``submit_job`` chooses the ``job_id`` before the first attempt, so a retry after a lost answer can
  only meet its own job (-409), which is then fetched instead of creating a second one.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import requests

from portal_client import errors

if TYPE_CHECKING:
    from portal_client.job import PortalJob

log = logging.getLogger("portal_client")

# Keep-alives come at least every 15 s, so a stream silent for this long is dead.
EVENTS_READ_TIMEOUT = 45.0


def _iso(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _without_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


class PortalClient:
    """A connection to one portal as one caller (an API token).

    ``url`` is the portal's base address (``http://127.0.0.1:8000``); ``url`` and ``token`` default
    to the environment's ``PORTAL_URL`` and ``PORTAL_TOKEN``. ``max_retries`` bounds the
    retries of one call; the waits between them grow from ``backoff`` seconds, doubling, up to
    ``max_backoff``, each drawn at random below that bound (full jitter) so that many clients
    retrying together spread out.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        session: requests.Session | None = None,
    ):
        url = url or os.environ.get("PORTAL_URL")
        if not url:
            raise TypeError("PortalClient needs the portal's url: pass it, or set PORTAL_URL")
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("PORTAL_TOKEN")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.session = session or requests.Session()
        self._sleep: Callable[[float], None] = time.sleep

    def __repr__(self) -> str:
        return f"PortalClient({self.url!r})"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    # --- transport ------------------------------------------------------------------------------

    def _delay(self, attempt: int, failure: errors.PortalError) -> float:
        bound = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        delay = random.uniform(0, bound)
        if isinstance(failure, errors.RateLimited) and failure.retry_after is not None:
            delay = max(delay, failure.retry_after)
        return delay

    def _post_once(self, url: str, payload: dict[str, Any]) -> Any:
        """One HTTP round trip: the ``result``, or raises the error (``retryable`` set on those worth retrying)."""
        try:
            response = self.session.post(url, json=payload, headers=self.headers, timeout=self.timeout)
        except requests.RequestException as exc:
            failure = errors.ConnectionFailed(f"Could not reach the portal at {url}: {exc}")
            failure.retryable = True
            raise failure from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            failure = errors.from_rpc_error(body["error"])
            failure.retryable = isinstance(failure, errors.RateLimited) or response.status_code >= 500
            raise failure
        if response.status_code >= 500 or not isinstance(body, dict) or "result" not in body:
            failure = errors.ServiceError(
                f"The portal answered HTTP {response.status_code} without a JSON-RPC response.",
                data={"http_status": response.status_code, "body": response.text[:500]},
            )
            failure.retryable = response.status_code >= 500
            raise failure
        return body["result"]

    def _call(self, method: str, params: dict[str, Any] | None = None, *, on_replayed_conflict=None) -> Any:
        """Call ``method`` with retries. ``on_replayed_conflict()`` answers instead of raising when a
        retry meets -409: the earlier attempt did go through, only its answer was lost."""
        url = f"{self.url}/v1/job/{method}" if method != "rpc.discover" else f"{self.url}/v1/job/"
        payload = {"jsonrpc": "2.0", "id": str(uuid.uuid4()), "method": method, "params": params or {}}
        attempt = 0
        while True:
            try:
                return self._post_once(url, payload)
            except errors.Conflict:
                if attempt and on_replayed_conflict is not None:
                    return on_replayed_conflict()
                raise
            except errors.PortalError as failure:
                if not failure.retryable or attempt >= self.max_retries:
                    raise
                attempt += 1
                delay = self._delay(attempt, failure)
                log.info("%s failed (%s); retry %d of %d in %.2fs", method, failure, attempt, self.max_retries, delay)
                self._sleep(delay)

    # --- jobs -----------------------------------------------------------------------------------

    def submit_job(
        self,
        body: Mapping[str, Any] | None = None,
        /,
        *,
        code_type: str | None = None,
        source_code: Sequence[Any] | None = None,
        backend: str | None = None,
        job_id: str | uuid.UUID | None = None,
        job_name: str | None = None,
        description: str | None = None,
        shots: int | None = None,
        job_priority: int | None = None,
        tags: Sequence[str] | None = None,
        dry_run: bool | None = None,
        transpiler: str | None = None,
        transpiler_options: dict[str, Any] | None = None,
        driver_options: dict[str, Any] | None = None,
        profiling: Sequence[str] | None = None,
        code_compress_level: int | None = None,
        callbacks: Sequence[dict[str, Any]] | None = None,
        enable_circuit_aggregation: bool | None = None,
        job_type: str | None = None,
        project_id: str | uuid.UUID | None = None,
    ) -> dict[str, Any]:
        """Submit a job; answers it as the portal stored it (``job_status`` QUEUED).

        The fields come as keywords, or as seed 000's ``body`` dict (keywords override its fields).
        Safe to retry: the ``job_id`` is fixed before the first attempt (a new UUID unless given).
        """
        fields = _without_none(
            {
                "job_id": str(job_id) if job_id else None,
                "code_type": code_type,
                "source_code": list(source_code) if source_code is not None else None,
                "backend": backend,
                "job_name": job_name,
                "description": description,
                "shots": shots,
                "job_priority": job_priority,
                "tags": list(tags) if tags is not None else None,
                "dry_run": dry_run,
                "transpiler": transpiler,
                "transpiler_options": transpiler_options,
                "driver_options": driver_options,
                "profiling": list(profiling) if profiling is not None else None,
                "code_compress_level": code_compress_level,
                "callbacks": list(callbacks) if callbacks is not None else None,
                "enable_circuit_aggregation": enable_circuit_aggregation,
                "job_type": job_type,
                "project_id": str(project_id) if project_id else None,
            }
        )
        body = {**dict(body or {}), **fields}
        body["job_id"] = job_id = str(body.get("job_id") or uuid.uuid4())

        def already_submitted() -> dict[str, Any]:
            job = self.get_job_results(job_id)
            job.pop("results", None)
            return job

        return self._call("submit_job", {"body": body}, on_replayed_conflict=already_submitted)

    def get_job_status(self, job_id: str | uuid.UUID) -> dict[str, Any]:
        """The job without source and results, plus ``progress`` and, while queued, ``queue_position``."""
        return self._call("get_job_status", {"body": {"job_id": str(job_id)}})

    def get_job_results(self, job_id: str | uuid.UUID) -> dict[str, Any]:
        """The full job plus ``results``: one entry per source, empty while nothing has ended."""
        return self._call("get_job_results", {"body": {"job_id": str(job_id)}})

    def get_jobs(
        self,
        filters: Mapping[str, Any] | None = None,
        /,
        *,
        job_status: str | Sequence[str] | None = None,
        backend: str | None = None,
        tags: Sequence[str] | None = None,
        code_type: str | None = None,
        job_ids: Sequence[str | uuid.UUID] | None = None,
        project_id: str | uuid.UUID | None = None,
        user_id: str | uuid.UUID | None = None,
        all_users: bool | None = None,
        all_projects: bool | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        order: str | None = None,
    ) -> list[dict[str, Any]]:
        """Job summaries matching every given filter (own jobs unless ``all_users``), newest first.
        The filters come as keywords, or as seed 000's ``filters`` dict (keywords override it)."""
        given = _without_none(
            {
                "job_status": job_status if isinstance(job_status, str) or job_status is None else list(job_status),
                "backend": backend,
                "tags": list(tags) if tags is not None else None,
                "code_type": code_type,
                "job_ids": [str(job_id) for job_id in job_ids] if job_ids is not None else None,
                "project_id": str(project_id) if project_id else None,
                "user_id": str(user_id) if user_id else None,
                "all_users": all_users,
                "all_projects": all_projects,
                "created_after": _iso(created_after),
                "created_before": _iso(created_before),
            }
        )
        paging = _without_none({"limit": limit, "offset": offset, "order": order})
        return self._call("get_jobs", {"filters": {**dict(filters or {}), **given}, **paging})

    def iter_jobs(self, *, page_size: int = 200, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every job matching ``filters`` (those of ``get_jobs``), fetched a page at a time."""
        offset = 0
        while True:
            page = self.get_jobs(**filters, limit=page_size, offset=offset)
            yield from page
            if len(page) < page_size:
                return
            offset += page_size

    def cancel_jobs(self, job_ids: Sequence[str | uuid.UUID]) -> list[dict[str, Any]]:
        """Cancels those of ``job_ids`` that are still queued; answers ``[{job_id, job_status}]`` for those."""
        return self._call("cancel_jobs", {"body": {"job_ids": [str(job_id) for job_id in job_ids]}})

    def delete_jobs(self, job_ids: Sequence[str | uuid.UUID]) -> list[dict[str, Any]]:
        """Deletes those of ``job_ids`` not running; answers ``[{job_id, job_status}]`` for those."""
        return self._call("delete_jobs", {"body": {"job_ids": [str(job_id) for job_id in job_ids]}})

    def update_job(
        self,
        job_id: str | uuid.UUID,
        *,
        job_name: str | None = None,
        description: str | None = None,
        tags: Sequence[str] | None = None,
        job_priority: int | None = None,
    ) -> dict[str, Any]:
        """Renames, re-describes, re-tags a job, or (while queued) moves it to another priority."""
        body = _without_none(
            {
                "job_id": str(job_id),
                "job_name": job_name,
                "description": description,
                "tags": list(tags) if tags is not None else None,
                "job_priority": job_priority,
            }
        )
        return self._call("update_job", {"body": body})

    def set_job_results(self, job_id: str | uuid.UUID, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """For drivers that fetch results later (staff or a ``driver`` token): store them and end the job."""
        return self._call("set_job_results", {"body": {"job_id": str(job_id), "results": list(results)}})

    # --- backends and the API itself ------------------------------------------------------------

    def get_backends(self) -> list[dict[str, Any]]:
        """Every backend: status, code types, limits, basis gates, coupling map, queue length."""
        return self._call("get_backends")

    def get_backend(self, name: str) -> dict[str, Any]:
        for backend in self.get_backends():
            if backend["name"] == name:
                return backend
        raise errors.NotFound(f"Backend {name!r} not found.", data={"error_code": "not_found", "backend": name})

    def discover(self) -> dict[str, Any]:
        """The portal's OpenRPC document (``rpc.discover``)."""
        return self._call("rpc.discover")

    # --- live updates ---------------------------------------------------------------------------

    def events(self, job_id: str | uuid.UUID) -> EventStream:
        """The job's server-sent events (SPEC §9): iterate for ``(event, data)`` pairs, ``status`` at
        once and on each change, ``progress`` per finished entry, ``end`` after the final status.
        Raises ``NotFound`` at once for a job the caller may not read."""
        return EventStream(self, str(job_id))

    # --- job objects ----------------------------------------------------------------------------

    def job(self, job_id: str | uuid.UUID) -> PortalJob:
        """A ``PortalJob`` for an existing job (raises ``NotFound`` if the caller may not read it)."""
        from portal_client.job import PortalJob

        job = PortalJob(client=self, job_id=str(job_id))
        job.refresh()
        return job

    def submit(self, **fields: Any) -> PortalJob:
        """``submit_job`` with the same fields, answering a ``PortalJob``."""
        from portal_client.job import PortalJob

        return PortalJob.from_submitted(self, self.submit_job(**fields))

    def submit_qubo(self, qubo: Any, *, backend: str = "qubo_sa", **fields: Any) -> PortalJob:
        """Submit one QUBO, given as a square matrix, a ``{(i, j): value}`` dict, a ``dimod.BQM``, a
        compiled pyqubo model, or the path of a ``.json`` / ``.csv`` matrix file; the job's
        ``result()`` is a ``dimod.SampleSet`` over the model's own variable names."""
        from portal_client.job import PortalJob
        from portal_client.qubo import QuboProblem

        problem = QuboProblem.from_any(qubo)
        submitted = self.submit_job(code_type="qubo", source_code=[problem.matrix], backend=backend, **fields)
        return PortalJob.from_submitted(self, submitted, qubo=problem)


class EventStream:
    """An open events stream of one job; ``close()`` ends it from any thread."""

    def __init__(self, client: PortalClient, job_id: str):
        url = f"{client.url}/v1/job/{job_id}/events"
        try:
            self._response = client.session.get(
                url, headers=client.headers, stream=True, timeout=(10, EVENTS_READ_TIMEOUT)
            )
        except requests.RequestException as exc:
            raise errors.ConnectionFailed(f"Could not reach the portal at {url}: {exc}") from exc
        if self._response.status_code != 200:
            self._response.close()
            try:
                error = self._response.json()["error"]
            except (ValueError, KeyError, TypeError):
                raise errors.ServiceError(f"The events stream answered HTTP {self._response.status_code}.") from None
            raise errors.from_rpc_error(error)
        self.job_id = job_id

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        event = "message"
        try:
            for line in self._response.iter_lines(decode_unicode=True):
                if line.startswith("event:"):
                    event = line[len("event:") :].strip()
                elif line.startswith("data:"):
                    yield event, json.loads(line[len("data:") :])
                    event = "message"
        except (requests.RequestException, AttributeError, ValueError) as exc:
            # AttributeError/ValueError: the response was closed under the reader by close().
            raise errors.ConnectionFailed(f"The events stream of job {self.job_id} broke: {exc}") from exc

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
