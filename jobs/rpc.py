"""The JSON-RPC methods of seed 000 about jobs: validate params, call services and selectors, shape answers.

Listed, with their summaries, in the method table (``portal/methods.py``)."""

from __future__ import annotations

from typing import Any

from core.calls import Caller
from core.exceptions import InvalidParams
from core.validation import validate
from jobs import services
from jobs.inputs import (
    CancelEntriesSerializer,
    DeleteJobsSerializer,
    GetJobsSerializer,
    JobFiltersSerializer,
    JobIdSerializer,
    JobIdsSerializer,
    SetJobResultsSerializer,
    UpdateJobSerializer,
    submit_from_input,
)
from jobs.presenters import (
    job_changed,
    job_full,
    job_payload,
    job_results_view,
    job_status,
    job_stored,
    job_summary,
)
from jobs.selectors import job_get_for_user, job_list_for_user


def submit_job(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    return job_full(submit_from_input(user=caller.user, token=caller.token, data=params))


def get_job_status(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(JobIdSerializer, params)
    job = job_get_for_user(user=caller.user, job_id=data["job_id"])
    return job_status(job)


def get_job_results(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(JobIdSerializer, params)
    job = job_get_for_user(user=caller.user, job_id=data["job_id"], with_results=True)
    return job_results_view(job)


def get_job_payload(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(JobIdSerializer, params)
    return job_payload(job_get_for_user(user=caller.user, job_id=data["job_id"]))


# get_jobs filter names -> JobFilterSet names (one FilterSet for every API).
_FILTERSET_NAMES = {
    "job_ids": "job_id",
    "job_status": "status",
    "backend": "backend",
    "tags": "tag",
    "code_type": "code_type",
    "created_after": "created_after",
    "created_before": "created_before",
    "experiment_id": "experiment_id",
    "metadata": "metadata",
}


def get_jobs(caller: Caller, params: dict[str, Any]) -> list[dict[str, Any]]:
    flat = params
    filters = flat.pop("filters", None)
    if filters is not None and not isinstance(filters, dict):
        raise InvalidParams.field("filters", "must be an object")
    filters = dict(filters or {})
    for name in JobFiltersSerializer().fields:
        if name in flat:
            if name in filters:
                raise InvalidParams.field(name, "given both in filters and outside")
            filters[name] = flat.pop(name)
    data = validate(GetJobsSerializer, {**flat, "filters": filters})
    given = dict(data.get("filters") or {})
    filterset_data: dict[str, Any] = {}
    for name, target in _FILTERSET_NAMES.items():
        if given.get(name) not in (None, [], {}):
            value = given[name]
            if name in ("created_after", "created_before"):
                value = value.isoformat()
            elif name == "job_ids":
                value = [str(v) for v in value]
            filterset_data[target] = value
    filterset_data["ordering"] = data["order"]  # ordered as the REST list is: ties by job_id, no ended_at last
    jobs = job_list_for_user(
        user=caller.user,
        all_projects=given.get("all_projects", False),
        all_users=given.get("all_users", False),
        project_id=given.get("project_id"),
        user_id=given.get("user_id"),
        filters=filterset_data,
    )
    return [job_summary(job) for job in jobs[data["offset"] : data["offset"] + data["limit"]]]


def cancel_job_entries(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(CancelEntriesSerializer, params)
    job = services.job_cancel_entries(user=caller.user, job_id=data["job_id"], indexes=data["indexes"])
    return job_results_view(job)


def cancel_jobs(caller: Caller, params: dict[str, Any]) -> list[dict[str, str]]:
    data = validate(JobIdsSerializer, params)
    return [job_changed(job) for job in services.jobs_cancel(user=caller.user, job_ids=data["job_ids"])]


def delete_jobs(caller: Caller, params: dict[str, Any]) -> list[dict[str, str]]:
    data = validate(DeleteJobsSerializer, params)
    delete = services.jobs_force_delete if data["force"] else services.jobs_delete
    return [job_changed(job) for job in delete(user=caller.user, job_ids=data["job_ids"])]


def set_job_results(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(SetJobResultsSerializer, params)
    job = services.job_set_results(
        user=caller.user, token=caller.token, job_id=data["job_id"], results=[dict(entry) for entry in data["results"]]
    )
    return job_stored(job)


def update_job(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(UpdateJobSerializer, params)
    job = services.job_update(user=caller.user, **data)
    return job_full(job)
