"""The JSON-RPC method tables: every method the portal answers, in one place. ``METHODS`` is seed 000's
``/v1/job``; the others are the rest of the surface QCOS's client calls (SPEC §12), one table per URL.

A method is ``func(caller, params) -> result``: ``caller`` has ``user`` and ``token`` (core.calls.Caller),
``params`` is the request's named params with seed 000's ``params.body`` wrapper already unwrapped.
The functions live beside their services (``jobs/rpc.py``, ``backends/rpc.py``); they know nothing
of the protocol, which ``portal/jsonrpc.py`` speaks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from backends import rpc as backend_rpc
from backends.presenters import BACKEND
from jobs import inputs as job_params
from jobs import presenters as job_shapes
from jobs import rpc as job_rpc
from portal import about, metrics, openrpc
from projects import rpc as project_rpc


@dataclass(frozen=True)
class RpcMethod:
    name: str
    func: Callable[[Any, dict[str, Any]], Any]
    summary: str
    params: Any = None  # a serializer class, for the OpenRPC document
    result: Any = None  # what it answers, for the same: a Shape, [Shape] or a JSON Schema
    auth: bool = True


def discover(caller: Any, params: dict[str, Any]) -> dict[str, Any]:
    return openrpc.document(METHODS, caller.request.build_absolute_uri(reverse("jsonrpc")))


METHODS: dict[str, RpcMethod] = {
    method.name: method
    for method in (
        RpcMethod(
            "submit_job",
            job_rpc.submit_job,
            "Submit a job: circuits or QUBO matrices for one backend.",
            job_params.SubmitJobSerializer,
            job_shapes.FULL,
        ),
        RpcMethod(
            "get_job_status",
            job_rpc.get_job_status,
            "A job's status, without source and results.",
            job_params.JobIdSerializer,
            job_shapes.STATUS,
        ),
        RpcMethod(
            "get_job_results",
            job_rpc.get_job_results,
            "A job with its results, one entry per source_code entry.",
            job_params.JobIdSerializer,
            job_shapes.RESULTS,
        ),
        RpcMethod(
            "cancel_job_entries",
            job_rpc.cancel_job_entries,
            "Cancel entries of a queued job (Superstaq's cancel(index=...)); every entry cancels the job.",
            job_params.CancelEntriesSerializer,
            job_shapes.RESULTS,
        ),
        RpcMethod(
            "get_job_payload",
            job_rpc.get_job_payload,
            "A job's input: its source as submitted and the options it runs with (IQM's GetJobPayloadV1).",
            job_params.JobIdSerializer,
            job_shapes.PAYLOAD,
        ),
        RpcMethod(
            "get_jobs",
            job_rpc.get_jobs,
            "List jobs with filters (AND), newest first.",
            job_params.GetJobsSerializer,
            [job_shapes.SUMMARY],
        ),
        RpcMethod(
            "cancel_jobs",
            job_rpc.cancel_jobs,
            "Cancel QUEUED jobs; answers those cancelled.",
            job_params.JobIdsSerializer,
            [job_shapes.CHANGED],
        ),
        RpcMethod(
            "delete_jobs",
            job_rpc.delete_jobs,
            "Delete jobs not RUNNING (with force, operators: running ones too); answers those deleted.",
            job_params.DeleteJobsSerializer,
            [job_shapes.CHANGED],
        ),
        RpcMethod(
            "set_job_results",
            job_rpc.set_job_results,
            "Store results fetched asynchronously (staff or driver-scope tokens).",
            job_params.SetJobResultsSerializer,
            job_shapes.STORED,
        ),
        RpcMethod(
            "update_job",
            job_rpc.update_job,
            "Rename, describe, retag or re-prioritise a job.",
            job_params.UpdateJobSerializer,
            job_shapes.FULL,
        ),
        RpcMethod(
            "get_backends",
            backend_rpc.get_backends,
            "Every backend with its status, limits and queue length.",
            backend_rpc.NoParams,
            [BACKEND],
        ),
        RpcMethod(
            "rpc.discover",
            discover,
            "This API as an OpenRPC document.",
            result={"type": "object", "description": "An OpenRPC 1.3 document (https://spec.open-rpc.org)."},
            auth=False,
        ),
    )
}


def table(*methods: RpcMethod) -> dict[str, RpcMethod]:
    return {method.name: method for method in methods}


VERSION_METHODS = table(RpcMethod("version", about.version, "This portal's versions and capabilities.", auth=False))

AUTH_METHODS = table(
    RpcMethod(
        "login",
        project_rpc.login,
        "Sign in with a username and password: an access and a refresh token.",
        project_rpc.LoginParams,
        auth=False,
    ),
    RpcMethod(
        "refresh_token",
        project_rpc.refresh_token,
        "Spend a refresh token for a new pair.",
        project_rpc.RefreshParams,
        auth=False,
    ),
    RpcMethod("logout", project_rpc.logout, "Revoke the access token the call came with."),
    RpcMethod("me", project_rpc.me, "The caller's account."),
)

DEVICE_METHODS = table(
    RpcMethod(
        "get_devices", backend_rpc.get_devices, "The backends, as QCOS devices, by name.", backend_rpc.DevicesParams
    ),
    RpcMethod("get_device", backend_rpc.get_device, "One backend, as a QCOS device.", backend_rpc.DeviceParams),
)

TRANSPILER_METHODS = table(
    RpcMethod("get_transpilers", backend_rpc.get_transpilers, "The transpilers, by name."),
    RpcMethod("get_transpiler", backend_rpc.get_transpiler, "One transpiler.", backend_rpc.NameParams),
)

METRICS_METHODS = table(
    RpcMethod(
        "get_system_health", metrics.get_system_health,
        "Each part of the portal, checked now (staff).", metrics.NoParams,
    ),
    RpcMethod("get_api_stats", metrics.get_api_stats, "Requests answered (staff).", metrics.NoParams),
    RpcMethod("get_job_stats", metrics.get_job_stats, "Jobs by status (staff).", metrics.NoParams),
)  # fmt: skip

PROJECT_METHODS = table(
    RpcMethod("get_projects", project_rpc.get_projects, "The caller's projects, by id.", project_rpc.GetProjectsParams),
)
