"""The web portal's job pages: list (with bulk cancel/delete), job page, actions, downloads, submit.

Thin views: reads through ``jobs.selectors``, changes through ``jobs.services``, shapes through
``jobs.presenters`` (so the page shows what the APIs answer), submissions through ``jobs.inputs``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from typing import Any
from urllib.parse import urlencode

from csp.constants import NONE, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backends.presenters import backend_view
from backends.selectors import backends_with_queue_length
from core.exceptions import InvalidParams, InvalidState, NotFound, PermissionDenied, PortalError
from drivers.primitives import JOB_TYPES as PRIMITIVE_JOB_TYPES
from jobs.choices import CANCELLABLE, CIRCUIT_CODE_TYPES, DELETABLE, FINAL, RAN, CodeType, JobStatus
from jobs.filtersets import JobFilterSet
from jobs.forms import EXAMPLES, JobUpdateForm, SubmitJobForm, source_as_text
from jobs.inputs import submit_from_input
from jobs.presenters import (
    job_payload_stream,
    job_results_stream,
    job_results_view,
    job_status_view,
    with_queue_position,
)
from jobs.selectors import job_drawing_svg, job_get_for_user, jobs_visible_to
from jobs.services import job_cancel as job_cancel_service
from jobs.services import job_update, jobs_cancel, jobs_delete
from jobs.web_entries import page_entries
from projects.permissions import projects_member_of

PAGE_SIZE = 25
# A drawing opened on its own is a document of its own: it may style itself (matplotlib writes style
# attributes), and nothing else, not even a script of this site.
DRAWING_CSP = {name: [NONE] for name in ("default-src", "script-src", "img-src", "connect-src", "form-action")} | {
    "style-src": [UNSAFE_INLINE]
}
BULK_ACTIONS = {"cancel": "Cancel", "delete": "Delete"}


# --- List and bulk actions ----------------------------------------------------------------------


def _filter_data(request: HttpRequest):
    """The GET query for JobFilterSet; the tag box takes comma-separated tags."""
    data = request.GET.copy()
    tags = [t.strip() for value in data.getlist("tag") for t in value.split(",") if t.strip()]
    data.setlist("tag", tags)
    for key in [k for k, v in data.items() if v == "" and k != "tag"]:
        data.pop(key)  # an empty select means "any"
    return data


@login_required
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    """Jobs the user may read, through the one JobFilterSet; DELETED only when a status asks for them."""
    data = _filter_data(request)
    filterset = JobFilterSet(data, queryset=jobs_visible_to(request.user))
    if filterset.is_valid():
        qs = filterset.qs.select_related("backend", "project", "user").prefetch_related("tags")
    else:
        qs = jobs_visible_to(request.user).none()
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    # The page's jobs that may still change, followed live by one event stream (static/portal/jobs.js).
    moving = [str(job.job_id) for job in page.object_list if job.status not in FINAL]
    events_url = f"{reverse('jobs-events')}?{urlencode({'job_ids': ','.join(moving)})}" if moving else ""
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "jobs/list.html",
        {
            "filterset": filterset,
            "page": page,
            "query": query.urlencode(),
            "statuses": JobStatus.values,
            "selected_statuses": data.getlist("status"),
            "tag_text": ", ".join(data.getlist("tag")),
            "backends": backends_with_queue_length(),
            "events_url": events_url,
        },
    )


def _job_ids(values: list[str]) -> list[uuid.UUID]:
    ids = []
    for value in values:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    return ids


@login_required
@require_POST
def job_bulk(request: HttpRequest) -> HttpResponse:
    """Bulk cancel or delete: the first POST shows what would change, ``confirm`` acts."""
    action = request.POST.get("action")
    if action not in BULK_ACTIONS:
        messages.error(request, "Choose cancel or delete.")
        return redirect("jobs:list")
    ids = _job_ids(request.POST.getlist("job_ids"))
    jobs = list(jobs_visible_to(request.user).filter(pk__in=ids).select_related("backend"))
    if not jobs:
        messages.warning(request, "No jobs selected.")
        return redirect("jobs:list")
    if request.POST.get("confirm") != "yes":
        allowed = CANCELLABLE if action == "cancel" else DELETABLE
        return render(
            request,
            "jobs/bulk_confirm.html",
            {"action": action, "verb": BULK_ACTIONS[action], "jobs": jobs, "allowed": list(allowed)},
        )
    service = jobs_cancel if action == "cancel" else jobs_delete
    done = service(user=request.user, job_ids=[job.job_id for job in jobs])
    skipped = len(jobs) - len(done)
    past = "cancelled" if action == "cancel" else "deleted"
    messages.success(request, f"{len(done)} job(s) {past}." + (f" {skipped} left as they were." if skipped else ""))
    return redirect("jobs:list")


# --- Job page -----------------------------------------------------------------------------------


@login_required
@require_GET
def job_detail(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """Status (badge + word, live with JS), timeline, source, results per entry, deliveries, actions."""
    job = job_get_for_user(user=request.user, job_id=job_id, with_results=True)
    view = with_queue_position(job_results_view(job), job)
    tags = ", ".join(view["tags"])
    entries = page_entries(job, view)
    return render(
        request,
        "jobs/detail.html",
        {
            "job": job,
            "view": view,
            "entries": entries,
            "drawings_pending": settings.CIRCUIT_DRAWINGS
            and job.code_type in CIRCUIT_CODE_TYPES
            and job.status in RAN
            and not any(entry.get("drawings") for entry in entries),
            "events": job.events.all(),
            "is_final": job.status in FINAL,
            "can_cancel": job.status in CANCELLABLE,
            "can_delete": job.status in DELETABLE,
            "update_form": JobUpdateForm(
                initial={"job_name": job.job_name or "", "tags": tags, "job_priority": job.job_priority}
            ),
        },
    )


def _act_on_job(request: HttpRequest, job, service, *, done: str, refused: str) -> HttpResponse:
    """Run a bulk job service on this one job and say what came of it on the job's page."""
    if service(user=request.user, job_ids=[job.job_id]):
        messages.success(request, done)
    else:
        messages.error(request, refused)
    return redirect("jobs:detail", job_id=job.job_id)


@login_required
@require_POST
def job_cancel(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    try:
        job_cancel_service(user=request.user, job_id=job_id)
    except InvalidState as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Job cancelled.")
    return redirect("jobs:detail", job_id=job_id)


@login_required
@require_http_methods(["GET", "POST"])
def job_delete(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """GET asks for confirmation; POST deletes (source and results are purged)."""
    job = job_get_for_user(user=request.user, job_id=job_id)
    if request.method == "GET":
        return render(request, "jobs/delete_confirm.html", {"job": job, "can_delete": job.status in DELETABLE})
    refused = f"The job is {job.status} and cannot be deleted now."
    return _act_on_job(request, job, jobs_delete, done="Job deleted: its source and results are gone.", refused=refused)


@login_required
@require_POST
def job_edit(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """Rename, retag, change priority through ``job_update``."""
    job = job_get_for_user(user=request.user, job_id=job_id)
    form = JobUpdateForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect("jobs:detail", job_id=job.job_id)
    changes: dict[str, Any] = {"job_name": form.cleaned_data["job_name"] or None, "tags": form.tag_list()}
    if form.cleaned_data["job_priority"] != job.job_priority:
        changes["job_priority"] = form.cleaned_data["job_priority"]
    try:
        job_update(user=request.user, job_id=job.job_id, **changes)
    except (NotFound, PermissionDenied):
        raise  # their own pages (portal.web.DomainErrorPageMiddleware)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Job updated.")
    return redirect("jobs:detail", job_id=job.job_id)


@login_required
@require_GET
@csp_replace(DRAWING_CSP)
def job_drawing(request: HttpRequest, job_id: uuid.UUID, index: int, stage: str) -> HttpResponse:
    """One stored circuit drawing, as an SVG image (the job page shows it in an <img>)."""
    job = job_get_for_user(user=request.user, job_id=job_id)
    response = HttpResponse(job_drawing_svg(job, index=index, stage=stage), content_type="image/svg+xml")
    response["X-Content-Type-Options"] = "nosniff"
    # A drawing never changes once made (a re-run discards it, and its page then links no drawing).
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
@require_GET
def job_payload_json(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """The job's input (``get_job_payload``) as a file, streamed."""
    job = job_get_for_user(user=request.user, job_id=job_id)
    response = StreamingHttpResponse(job_payload_stream(job), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="job-{job.job_id}-payload.json"'
    return response


@login_required
@require_GET
def job_results_json(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """The ``get_job_results`` answer as a file, streamed an entry at a time (strict JSON: a non-finite
    number a driver reported is null, not a bare NaN no parser reads)."""
    job = job_get_for_user(user=request.user, job_id=job_id)
    response = StreamingHttpResponse(job_results_stream(job), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="job-{job.job_id}.json"'
    return response


def _csv_rows(job, view: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    if job.job_type == "estimation" or job.job_type in PRIMITIVE_JOB_TYPES:
        header = ["entry", "key", "value"]
        rows = [
            [entry["index"], key, json.dumps(value) if isinstance(value, dict | list) else value]
            for entry in view["results"]
            for key, value in sorted((entry.get("results") or {}).items())
        ]
    elif job.code_type == CodeType.QUBO:
        header = ["entry", "rank", "solution", "quboValue", "maxcutValue"]
        rows = [
            [entry["index"], sol.get("result"), "".join(str(b) for b in sol.get("solutionVector", [])),
             sol.get("quboValue"), sol.get("maxcutValue")]
            for entry in view["results"]
            for sol in (entry.get("results") or [])
        ]  # fmt: skip
    else:
        header = ["entry", "bitstring", "count"]
        rows = [
            [entry["index"], bitstring, count]
            for entry in view["results"]
            for bitstring, count in sorted((entry.get("results") or {}).items())
        ]
    return header, rows


@login_required
@require_GET
def job_results_csv(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """One row per outcome: ``entry,bitstring,count`` (circuits) or ``entry,rank,solution,quboValue,maxcutValue``."""
    job = job_get_for_user(user=request.user, job_id=job_id, with_results=True)
    header, rows = _csv_rows(job, job_results_view(job))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="job-{job.job_id}.csv"'
    return response


# --- Submit -------------------------------------------------------------------------------------

_FIELD_ALIASES = {"transpiler_options": "optimization_level", "callbacks": "callback_url", "project_id": "project"}


def _add_errors(form: SubmitJobForm, errors: list[dict[str, str]], fallback: str) -> None:
    """Put InvalidParams' ``data.errors`` next to the form fields of the same name."""
    if not errors:
        form.add_error(None, fallback)
    for error in errors:
        name = re.split(r"[.\[]", error["field"], maxsplit=1)[0]
        name = _FIELD_ALIASES.get(name, name)
        if name == "source_code" and form.cleaned_data.get("file") is not None:
            name = "file"
        if name in form.fields:
            form.add_error(
                name, f"{error['field']}: {error['message']}" if error["field"] != name else error["message"]
            )
        else:
            form.add_error(None, f"{error['field']}: {error['message']}")


def _initial(request: HttpRequest) -> dict[str, Any]:
    """Pre-filled values: an example (?example=bell), or another job's settings (?from=<job_id>)."""
    example = EXAMPLES.get(request.GET.get("example", ""))
    if example:
        return {k: v for k, v in example.items() if k != "label"}
    source_id = request.GET.get("from")
    if not source_id:
        return {}
    job = job_get_for_user(user=request.user, job_id=source_id)
    status = job_status_view(job)
    options = status["transpiler_options"] or {}
    callbacks = status["callbacks"] or []
    return {
        "code_type": job.code_type,
        "backend": status["backend"],
        "source_code": source_as_text(job.code_type, job.source_code or []),
        "shots": job.shots,
        "job_priority": job.job_priority,
        "job_name": job.job_name or "",
        "tags": ", ".join(status["tags"]),
        "transpiler": job.transpiler or "",
        "optimization_level": options.get("optimization_level", ""),
        "profiling": job.profiling or [],
        "callback_url": callbacks[0]["url"] if callbacks else "",
        "dry_run": job.dry_run,
        "job_type": job.job_type,
        "project": str(job.project.project_id),
    }


@login_required
@require_http_methods(["GET", "POST"])
def job_new(request: HttpRequest) -> HttpResponse:
    """The submit page; a successful submit lands on the new job's page."""
    projects = list(projects_member_of(request.user).order_by("slug"))
    backends = [backend_view(b) for b in backends_with_queue_length()]
    if request.method == "POST":
        form = SubmitJobForm(request.POST, request.FILES, projects=projects, backends=backends)
        if form.is_valid():
            job = _submit(request, form)
            if job is not None:
                messages.success(request, "Job submitted.")
                return redirect(reverse("jobs:detail", kwargs={"job_id": job.job_id}))
    else:
        form = SubmitJobForm(initial=_initial(request), projects=projects, backends=backends)
    return render(
        request,
        "jobs/new.html",
        {"form": form, "backends": backends, "examples": EXAMPLES, "circuit_types": sorted(CIRCUIT_CODE_TYPES)},
    )


def _submit(request: HttpRequest, form: SubmitJobForm):
    try:
        data = form.payload(request.POST.get("action", "submit"))
        data["project_id"] = form.cleaned_data.get("project") or None  # no picker: the user's only project
        return submit_from_input(user=request.user, token=None, data=data)
    except InvalidParams as exc:
        _add_errors(form, exc.extra.get("errors") or [], exc.message)
    except PortalError as exc:
        field = exc.extra.get("field")  # a quota names the field it limits
        form.add_error(field if field in form.fields else None, exc.message)
    return None
