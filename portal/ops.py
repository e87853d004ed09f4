"""The operators' queue pages at /ops/ (SPEC §5, §7, §8): backends, queues, workers, jobs that need
an operator, usage per project, timeslots.

Staff only and never cached. GET only shows (an action URL opened with GET shows a confirmation
form); POST acts through the services and redirects with a message. Bad input -- a bad date, an
unknown backend, project, job or timeslot, an invalid status, an overlapping booking -- becomes a
message, never an error page.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from redis import RedisError

from backends.models import BackendStatus, Timeslot
from backends.selectors import backend_get, backend_list, timeslots_for_user
from backends.services import backend_set_status, backend_status_of, timeslot_book, timeslot_cancel
from core.exceptions import InvalidParams, PortalError
from jobs import ops_selectors, queues
from jobs.services import job_force_stop, jobs_operator_requeue
from projects.selectors import project_get_for_user, project_usage, projects_for_user

logger = logging.getLogger(__name__)


def operator_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Staff only (others are sent to the admin login) and never cached."""
    return never_cache(staff_member_required(view))


def _back() -> HttpResponse:
    return redirect("ops:dashboard")


def _back_to_timeslots() -> HttpResponse:
    return redirect(f"{reverse('ops:dashboard')}#timeslots")


# --- The page -----------------------------------------------------------------------------------


def _month_bounds(today: date) -> tuple[date, date]:
    first = today.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, last


def _parse_day(request: HttpRequest, name: str, default: date) -> date:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return default
    try:
        parsed = parse_date(raw)
    except ValueError:  # well formed but not a day, e.g. 2025-02-30
        parsed = None
    if parsed is None:
        messages.error(request, f"{name}: {raw!r} is not a date (YYYY-MM-DD); showing {default.isoformat()}.")
        return default
    return parsed


def usage_range(request: HttpRequest) -> tuple[date, date]:
    """The usage table's days, both included: ``?since=&until=`` (YYYY-MM-DD), default this month."""
    first, last = _month_bounds(timezone.localdate())
    since = _parse_day(request, "since", first)
    until = _parse_day(request, "until", last)
    if since > until:
        messages.error(request, f"since ({since}) is after until ({until}); showing this month.")
        return first, last
    return since, until


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


TIMESLOTS_LISTED = 100


def _bookable_projects(request: HttpRequest):
    return projects_for_user(request.user).only("project_id", "slug")


def _timeslots_to_come(request: HttpRequest, now: datetime) -> dict[str, object]:
    """The first ``TIMESLOTS_LISTED`` slots not yet ended, by start (so the running ones first), and
    the projects the booking form offers: two queries (its backends are the overview's)."""
    slots = list(timeslots_for_user(request.user).filter(end_at__gt=now).order_by("start_at")[: TIMESLOTS_LISTED + 1])
    return {
        "timeslots": slots[:TIMESLOTS_LISTED],
        "timeslots_cut": len(slots) > TIMESLOTS_LISTED,
        "projects": _bookable_projects(request),
    }


@operator_view
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Backends, timeslots, queue depths, workers, failed and stuck jobs, running jobs, usage per project."""
    now = timezone.now()
    since, until = usage_range(request)
    redis_ok = True
    try:
        waiting = queues.waiting_ids()
        depths = queues.depths()
        workers = ops_selectors.workers_overview(now=now)
    except RedisError:
        logger.warning("ops page: Redis unavailable", exc_info=True)
        messages.error(request, "Redis is unavailable: queue depths, workers and missing queue entries are not shown.")
        redis_ok, waiting, depths, workers = False, set(), {}, []

    running = ops_selectors.jobs_running(now=now)
    problems = ops_selectors.jobs_needing_attention(now=now, running=running, waiting=waiting if redis_ok else None)
    usage = project_usage(since=_day_start(since), until=_day_start(until + timedelta(days=1)))
    context = {
        "now": now,
        "backends": ops_selectors.backends_overview(),
        "statuses": BackendStatus.choices,
        "redis_ok": redis_ok,
        "depths": sorted(depths.items()),
        "depth_total": sum(depths.values()),
        "workers": workers,
        "alive_window": int(ops_selectors.worker_alive_window().total_seconds()),
        "problems": problems,
        "running": running,
        "usage": usage,
        "usage_totals": {
            "jobs": sum(row["jobs"] for row in usage),
            "shots": sum(row["shots"] for row in usage),
            "execution_seconds": round(sum(row["execution_seconds"] for row in usage), 3),
        },
        "since": since,
        "until": until,
        "booking": {},
        **_timeslots_to_come(request, now),
    }
    return render(request, "ops/dashboard.html", context)


# --- Actions ------------------------------------------------------------------------------------


def _confirm(request: HttpRequest, *, title: str, text: str, action: str, fields: list[tuple[str, str]], items=()):
    context = {"title": title, "text": text, "action": action, "fields": fields, "items": items}
    return render(request, "ops/confirm.html", context)


@operator_view
@require_http_methods(["GET", "POST"])
def backend_status(request: HttpRequest, name: str) -> HttpResponse:
    """Pause, resume (online) or take a backend offline (``status`` in the form)."""
    data = request.POST if request.method == "POST" else request.GET
    try:
        backend = backend_get(name)
        status = backend_status_of(data.get("status", ""))
    except PortalError as exc:
        messages.error(request, exc.message)
        return _back()
    if request.method == "GET":
        return _confirm(
            request,
            title=f"Set backend {backend.name} {status}",
            text=f"Backend {backend.name} is {backend.status}. {status.label}.",
            action=request.path,
            fields=[("status", status)],
        )
    try:
        backend_set_status(backend=backend, status=status)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Backend {backend.name} is {status}.")
    return _back()


def _job_ids(request: HttpRequest, values: list[str]) -> list[uuid.UUID]:
    ids, bad = [], []
    for value in values:
        try:
            ids.append(uuid.UUID(value.strip()))
        except ValueError:
            bad.append(value)
    if bad:
        messages.error(request, f"Not job ids, left out: {', '.join(repr(v[:40]) for v in bad[:5])}.")
    return list(dict.fromkeys(ids))


@operator_view
@require_http_methods(["GET", "POST"])
def jobs_requeue(request: HttpRequest) -> HttpResponse:
    """Re-queue the checked jobs: failed, cancelled and stuck RUNNING ones start over, QUEUED ones
    missing from Redis go back in their queue."""
    data = request.POST if request.method == "POST" else request.GET
    ids = _job_ids(request, data.getlist("job_ids"))
    if not ids:
        messages.error(request, "Select at least one job to re-queue.")
        return _back()
    if request.method == "GET":
        return _confirm(
            request,
            title=f"Re-queue {len(ids)} job(s)",
            text="Failed, cancelled and stuck jobs start over (their results are discarded); queued jobs "
            "missing from Redis go back in their queue.",
            action=request.path,
            fields=[("job_ids", str(job_id)) for job_id in ids],
            items=[str(job_id) for job_id in ids],
        )
    try:
        done = jobs_operator_requeue(user=request.user, job_ids=ids)
    except PortalError as exc:
        messages.error(request, exc.message)
        return _back()
    level = messages.SUCCESS if len(done) == len(ids) else messages.WARNING
    skipped = "" if len(done) == len(ids) else " The others are completed, deleted, or already waiting in their queue."
    messages.add_message(request, level, f"Re-queued {len(done)} of {len(ids)} job(s).{skipped}")
    return _back()


@operator_view
@require_http_methods(["GET", "POST"])
def job_force_stop_view(request: HttpRequest, job_id: str) -> HttpResponse:
    """Force-stop a running job: CANCELLING then CANCELLED, entries without an outcome -107."""
    ids = _job_ids(request, [job_id])
    if not ids:
        return _back()
    if request.method == "GET":
        return _confirm(
            request,
            title=f"Force-stop job {ids[0]}",
            text="Its work horse is killed; entries without an outcome end with -107.",
            action=reverse("ops:job-force-stop", args=[ids[0]]),
            fields=[],
        )
    try:
        job = job_force_stop(user=request.user, job_id=ids[0])
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Job {job.job_id} is {job.status}.")
    return _back()


# --- Timeslots ----------------------------------------------------------------------------------


def _utc(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _datetime_field(data, name: str) -> datetime:
    """A ``datetime-local`` input (``YYYY-MM-DDTHH:MM``) read as UTC; an offset given with it is kept."""
    raw = data.get(name, "").strip()
    try:
        parsed = parse_datetime(raw)
    except ValueError:  # well formed but not a time, e.g. 2025-02-30T10:00
        parsed = None
    if parsed is None:
        raise InvalidParams.field(name, f"{raw[:40]!r} is not a date and time (YYYY-MM-DDTHH:MM, UTC)")
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


@operator_view
@require_http_methods(["GET", "POST"])
def timeslot_book_view(request: HttpRequest) -> HttpResponse:
    """Book a backend for a project: ``backend`` (name), ``project`` (project id), ``start_at`` and
    ``end_at`` (UTC), ``note``. GET shows the form, filled in from the query string."""
    if request.method == "GET":
        context = {"backends": backend_list(), "projects": _bookable_projects(request), "booking": request.GET}
        return render(request, "ops/timeslot_book.html", context)
    data = request.POST
    try:
        slot = timeslot_book(
            user=request.user,
            backend=backend_get(data.get("backend", "")),
            project=project_get_for_user(request.user, data.get("project", "").strip()),
            start_at=_datetime_field(data, "start_at"),
            end_at=_datetime_field(data, "end_at"),
            note=data.get("note", "").strip(),
        )
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Booked backend {slot.backend.name} for project {slot.project.slug} from {_utc(slot.start_at)} "
            f"to {_utc(slot.end_at)}.",
        )
    return _back_to_timeslots()


@operator_view
@require_http_methods(["GET", "POST"])
def timeslot_cancel_view(request: HttpRequest, timeslot_id: uuid.UUID) -> HttpResponse:
    """Cancel a timeslot: the backend is shared again in its window, its project's use_timeslot jobs
    wait for the next one."""
    try:
        slot = timeslots_for_user(request.user).get(timeslot_id=timeslot_id)
    except Timeslot.DoesNotExist:
        messages.error(request, f"Timeslot {timeslot_id} not found.")
        return _back_to_timeslots()
    described = (
        f"backend {slot.backend.name} for project {slot.project.slug} from {_utc(slot.start_at)} to {_utc(slot.end_at)}"
    )
    if request.method == "GET":
        return _confirm(
            request,
            title=f"Cancel the timeslot of {slot.project.slug} on {slot.backend.name}",
            text=f"The booking of {described}{f' ({slot.note})' if slot.note else ''} is removed: the backend "
            "runs every project's jobs in that window, and the project's use_timeslot jobs wait for its next slot.",
            action=request.path,
            fields=[],
        )
    try:
        timeslot_cancel(user=request.user, timeslot=slot)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Cancelled the timeslot of {described}.")
    return _back_to_timeslots()
