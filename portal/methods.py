"""The JSON-RPC method table of ``/v1/job/`` (seed 000): every method the portal answers, in one place.

A method is ``func(caller, params) -> result``: ``caller`` has ``user`` and ``token`` (core.calls.Caller),
``params`` is the request's named params with seed 000's ``params.body`` wrapper already unwrapped.
The functions live beside their services (``jobs/rpc.py``, ``backends/rpc.py``); they know nothing
of the protocol, which ``portal/jsonrpc.py`` speaks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backends import rpc as backend_rpc
from jobs import inputs as job_params
from jobs import rpc as job_rpc
from portal import openrpc


@dataclass(frozen=True)
class RpcMethod:
    name: str
    func: Callable[[Any, dict[str, Any]], Any]
    summary: str
    params: Any = None  # a serializer class, for the OpenRPC document
    auth: bool = True


def discover(caller: Any, params: dict[str, Any]) -> dict[str, Any]:
    return openrpc.document(METHODS)


METHODS: dict[str, RpcMethod] = {
    method.name: method
    for method in (
        RpcMethod(
            "submit_job",
            job_rpc.submit_job,
            "Submit a job: circuits or QUBO matrices for one backend.",
            job_params.SubmitJobSerializer,
        ),
        RpcMethod(
            "get_job_status",
            job_rpc.get_job_status,
            "A job's status, without source and results.",
            job_params.JobIdSerializer,
        ),
        RpcMethod(
            "get_job_results",
            job_rpc.get_job_results,
            "A job with its results, one entry per source_code entry.",
            job_params.JobIdSerializer,
        ),
        RpcMethod(
            "get_jobs", job_rpc.get_jobs, "List jobs with filters (AND), newest first.", job_params.GetJobsSerializer
        ),
        RpcMethod(
            "cancel_jobs",
            job_rpc.cancel_jobs,
            "Cancel QUEUED jobs; answers those cancelled.",
            job_params.JobIdsSerializer,
        ),
        RpcMethod(
            "delete_jobs",
            job_rpc.delete_jobs,
            "Delete jobs not RUNNING; answers those deleted.",
            job_params.JobIdsSerializer,
        ),
        RpcMethod(
            "set_job_results",
            job_rpc.set_job_results,
            "Store results fetched asynchronously (staff or driver-scope tokens).",
            job_params.SetJobResultsSerializer,
        ),
        RpcMethod(
            "update_job",
            job_rpc.update_job,
            "Rename, describe, retag or re-prioritise a job.",
            job_params.UpdateJobSerializer,
        ),
        RpcMethod(
            "get_backends",
            backend_rpc.get_backends,
            "Every backend with its status, limits and queue length.",
            backend_rpc.NoParams,
        ),
        RpcMethod("rpc.discover", discover, "This API as an OpenRPC document.", auth=False),
    )
}
