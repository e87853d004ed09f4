"""The web portal's backend pages: every backend, and one backend's page (its device as a picture,
its limits, its queue, what it ran over the last day)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from backends.presenters import backend_view
from backends.selectors import backend_jobs_per_hour, backend_timeslots, backends_with_queue_length
from core.charts import Bar, bar_chart
from core.exceptions import NotFound
from core.graphs import coupling_graph
from drivers.registry import get_driver
from projects.selectors import projects_for_user


def _properties(backend) -> list[tuple[str, str]]:
    """The driver's description of the backend, as rows of text."""
    try:
        described = get_driver(backend.driver).properties(backend)
    except KeyError:  # a driver no longer installed: Backend.clean refuses it, rows made before may not
        return []
    return [(key, ", ".join(map(str, v)) if isinstance(v, list) else str(v)) for key, v in sorted(described.items())]


@login_required
@require_GET
def backend_list(request: HttpRequest) -> HttpResponse:
    backends = [backend_view(b) for b in backends_with_queue_length()]
    return render(request, "backends/list.html", {"backends": backends})


@login_required
@require_GET
def backend_detail(request: HttpRequest, name: str) -> HttpResponse:
    backend = backends_with_queue_length().filter(name=name).first()
    if backend is None:
        raise NotFound(f"Backend {name!r} not found.")
    now = timezone.now()
    per_hour = backend_jobs_per_hour(backend, until=now)
    booked = backend_timeslots(backend, at=now)
    readable = set(
        projects_for_user(request.user).filter(pk__in={slot.project_id for slot in booked}).values_list("pk", flat=True)
    )
    slots = [
        {"start_at": slot.start_at, "end_at": slot.end_at, "running": slot.start_at <= now,
         "project": slot.project.slug if slot.project_id in readable else None}
        for slot in booked
    ]  # fmt: skip
    bars = [Bar(f"{hour:%H}h", n, f"{hour:%Y-%m-%d %H}:00 UTC: {n} job{'s' if n != 1 else ''}") for hour, n in per_hour]
    return render(
        request,
        "backends/detail.html",
        {
            "backend": backend_view(backend),
            "coupling": coupling_graph(backend.coupling_map),
            "properties": _properties(backend),
            "per_hour": bar_chart(bars, bar_width=26, rotate_labels=False, label_every=3),
            "jobs_last_day": sum(n for _, n in per_hour),
            "timeslots": slots,  # another project's slug is not the viewer's to see
        },
    )
