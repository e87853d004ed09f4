"""The JSON-RPC methods of seed 000: unpack params, call services and selectors, shape answers."""

from __future__ import annotations

from typing import Any

from core.exceptions import InvalidParams
from core.validation import validate
from jobs import services
from jobs.api.serializers import (
    GetJobsSerializer,
    JobFiltersSerializer,
    JobIdSerializer,
    JobIdsSerializer,
    SetJobResultsSerializer,
    SubmitJobSerializer,
    UpdateJobSerializer,
)
from jobs.choices import JobStatus
from jobs.representation import job_full, job_results_view, job_status_view, job_summary, with_queue_position
from jobs.selectors import job_get_for_user, job_list_for_user
from portal.jsonrpc import RpcContext, rpc_method
from projects.selectors import project_for_submission


def unwrap(params: dict[str, Any], wrapper: str = "body") -> dict[str, Any]:
    """Seed 000 wraps fields as ``params.body``; the same fields directly in ``params`` work too."""
    if wrapper not in params:
        return dict(params)
    inner = params[wrapper]
    if not isinstance(inner, dict):
        raise InvalidParams.field(wrapper, "must be an object")
    outer = {k: v for k, v in params.items() if k != wrapper}
    clash = sorted(set(outer) & set(inner))
    if clash:
        raise InvalidParams(
            errors=[{"field": name, "message": f"given both in {wrapper} and outside"} for name in clash]
        )
    return {**outer, **inner}


@rpc_method(
    "submit_job", summary="Submit a job: circuits or QUBO matrices for one backend.", params=SubmitJobSerializer
)
def submit_job(ctx: RpcContext, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(SubmitJobSerializer, unwrap(params))
    project = project_for_submission(user=ctx.user, token=ctx.token, project_id=data.pop("project_id", None))
    if data.get("transpiler_options") is not None:
        data["transpiler_options"] = dict(data["transpiler_options"])
    data["callbacks"] = [dict(callback) for callback in data["callbacks"]]
    job = services.job_submit(user=ctx.user, project=project, spec=services.JobSpec(**data))
    return job_full(job)


@rpc_method("get_job_status", summary="A job's status, without source and results.", params=JobIdSerializer)
def get_job_status(ctx: RpcContext, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(JobIdSerializer, unwrap(params))
    job = job_get_for_user(user=ctx.user, job_id=data["job_id"])
    return with_queue_position(job_status_view(job), job)


@rpc_method(
    "get_job_results", summary="A job with its results, one entry per source_code entry.", params=JobIdSerializer
)
def get_job_results(ctx: RpcContext, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(JobIdSerializer, unwrap(params))
    job = job_get_for_user(user=ctx.user, job_id=data["job_id"], with_results=True)
    return job_results_view(job)


# get_jobs filter names -> JobFilterSet names (one FilterSet for every API).
_FILTERSET_NAMES = {
    "job_ids": "job_id",
    "job_status": "status",
    "backend": "backend",
    "tags": "tag",
    "code_type": "code_type",
    "created_after": "created_after",
    "created_before": "created_before",
}


@rpc_method("get_jobs", summary="List jobs with filters (AND), newest first.", params=GetJobsSerializer)
def get_jobs(ctx: RpcContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    flat = unwrap(params)
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
        if given.get(name) not in (None, []):
            value = given[name]
            if name in ("created_after", "created_before"):
                value = value.isoformat()
            elif name == "job_ids":
                value = [str(v) for v in value]
            filterset_data[target] = value
    jobs = job_list_for_user(
        user=ctx.user,
        all_projects=given.get("all_projects", False),
        all_users=given.get("all_users", False),
        project_id=given.get("project_id"),
        user_id=given.get("user_id"),
        filters=filterset_data,
    )
    order = data["order"]
    jobs = jobs.order_by(order, "-job_id" if order.startswith("-") else "job_id")
    return [job_summary(job) for job in jobs[data["offset"] : data["offset"] + data["limit"]]]


@rpc_method("cancel_jobs", summary="Cancel QUEUED jobs; answers those cancelled.", params=JobIdsSerializer)
def cancel_jobs(ctx: RpcContext, params: dict[str, Any]) -> list[dict[str, str]]:
    data = validate(JobIdsSerializer, unwrap(params))
    jobs = services.jobs_cancel(user=ctx.user, job_ids=data["job_ids"])
    return [{"job_id": str(job.job_id), "job_status": JobStatus.CANCELLED} for job in jobs]


@rpc_method("delete_jobs", summary="Delete jobs not RUNNING; answers those deleted.", params=JobIdsSerializer)
def delete_jobs(ctx: RpcContext, params: dict[str, Any]) -> list[dict[str, str]]:
    data = validate(JobIdsSerializer, unwrap(params))
    jobs = services.jobs_delete(user=ctx.user, job_ids=data["job_ids"])
    return [{"job_id": str(job.job_id), "job_status": JobStatus.DELETED} for job in jobs]


@rpc_method(
    "set_job_results",
    summary="Store results fetched asynchronously (staff or driver-scope tokens).",
    params=SetJobResultsSerializer,
)
def set_job_results(ctx: RpcContext, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(SetJobResultsSerializer, unwrap(params))
    job = services.job_set_results(
        user=ctx.user, token=ctx.token, job_id=data["job_id"], results=[dict(entry) for entry in data["results"]]
    )
    return {"job_id": str(job.job_id), "backend": job.backend.name, "job_status": job.status}


@rpc_method("update_job", summary="Rename, describe, retag or re-prioritise a job.", params=UpdateJobSerializer)
def update_job(ctx: RpcContext, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(UpdateJobSerializer, unwrap(params))
    job = services.job_update(user=ctx.user, **data)
    return job_full(job)
