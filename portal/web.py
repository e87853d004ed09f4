"""Web portal views shared by every page: the dashboard, the error pages, and how a domain error
becomes a page (NotFound → the 404 page, PermissionDenied → 403, anything else → its message)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.utils import timezone
from django.views.decorators.http import require_GET

from drivers.rpc import backend_view, backends_with_queue_length
from jobs.selectors import jobs_visible_to, project_usage
from portal.errors import NotFound, PermissionDenied, PortalError
from projects.models import Membership


def raise_for_http(exc: PortalError) -> None:
    """Re-raise the domain errors that have pages of their own; others are shown as a message."""
    if isinstance(exc, NotFound):
        raise Http404(exc.message) from exc
    if isinstance(exc, PermissionDenied):
        raise DjangoPermissionDenied(exc.message) from exc


def month_start():
    return timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """My projects with my role, my ten latest jobs, every backend with its queue, this month's usage."""
    memberships = list(Membership.objects.filter(user=request.user).select_related("project").order_by("project__slug"))
    slugs = {m.project.slug for m in memberships}
    recent = jobs_visible_to(request.user).filter(user=request.user).select_related("backend", "project")[:10]
    backends = [backend_view(b, b.queued) for b in backends_with_queue_length()]
    usage = [row for row in project_usage(since=month_start(), until=timezone.now()) if row["project"] in slugs]
    return render(
        request,
        "portal/dashboard.html",
        {"memberships": memberships, "recent_jobs": recent, "backends": backends, "usage": usage},
    )


def permission_denied(request, exception=None):
    return render(request, "403.html", {"message": str(exception or "")}, status=403)


def page_not_found(request, exception=None):
    return render(request, "404.html", {"message": ""}, status=404)


def server_error(request):
    # No request context: the context processors would load the session's user from the database,
    # which may be what failed.
    return HttpResponseServerError(loader.get_template("500.html").render({}))
