"""``RpcClient``: every JSON-RPC method of the portal (SPEC §3) as a typed Python method, answering
the JSON the portal answers (dicts and lists). ``PortalClient`` (``portal_client.api``) is this plus
the methods that answer ``PortalJob`` objects.

``submit_job`` chooses the ``job_id`` before the first attempt, so a retry after a lost answer can
only meet its own job (-409), which is then fetched instead of creating a second one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from portal_client import errors
from portal_client.transport import EventStream, Transport
from portal_client.version import __version__


def _iso(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def client_versions(**others: str) -> dict[str, str]:
    """What a submit records as its ``client_version``: this client's version, and ``others``."""
    return {"portal_client": __version__, **others}


def _without_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


class RpcClient(Transport):
    """The portal's methods over one ``Transport``: what they answer comes back as it was answered."""

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
        experiment_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        client_version: Mapping[str, str] | None = None,
        share_level: str | None = None,
        header: Mapping[str, Any] | None = None,
        use_timeslot: bool | None = None,
    ) -> dict[str, Any]:
        """Submit a job; answers it as the portal stored it (``job_status`` QUEUED).

        The fields come as keywords, or as seed 000's ``body`` dict (keywords override its fields).
        ``header`` is the client's own object kept with the job (IBM's ``header()``: circuit names and
        metadata, at most 64 KiB of JSON); ``use_timeslot`` (IQM's) runs the job only in a timeslot booked
        for its project on the backend. A backend that runs only in timeslots refuses a submit without
        it (``TimeslotRequired``), and a project with no active or upcoming slot there refuses one with
        it (``NoBookedTimeslots``).
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
                "experiment_id": experiment_id,
                "metadata": dict(metadata) if metadata is not None else None,
                "client_version": dict(client_version) if client_version is not None else None,
                "share_level": share_level,
                "header": dict(header) if header is not None else None,
                "use_timeslot": use_timeslot,
            }
        )
        body = {**dict(body or {}), **fields}
        body.setdefault("client_version", client_versions())
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

    def cancel_job_entries(self, job_id: str | uuid.UUID, indexes: Sequence[int]) -> dict[str, Any]:
        """Cancel entries of a queued job; answers the job with its results (the cancelled entries among them)."""
        return self._call("cancel_job_entries", {"body": {"job_id": str(job_id), "indexes": list(indexes)}})

    def get_job_payload(self, job_id: str | uuid.UUID) -> dict[str, Any]:
        """The job's input: its source as submitted and the options it runs with (IQM's GetJobPayloadV1)."""
        return self._call("get_job_payload", {"body": {"job_id": str(job_id)}})

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
        experiment_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
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
                "experiment_id": experiment_id,
                "metadata": dict(metadata) if metadata is not None else None,
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
