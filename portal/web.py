"""Web portal views shared by every page: the dashboard, the error pages, how a domain error becomes a
page (NotFound → the 404 page, PermissionDenied → 403), the locked-out
sign-in page, and the Content-Security-Policy of every page."""

from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.handlers.exception import response_for_exception
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils import timezone
from django.views.decorators.http import require_GET

from backends.presenters import backend_view
from backends.selectors import backends_with_queue_length
from core.exceptions import NotFound, PermissionDenied
from jobs.selectors import jobs_visible_to
from portal import jsonrpc
from portal.errors import rest_error
from projects.models import Membership
from projects.selectors import month_start, project_usage


class DomainErrorPageMiddleware:
    """A page's NotFound is the 404 page and its PermissionDenied the 403 page, wherever in the views or
    services it was raised; the views show any other domain error as a message on their own page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotFound):
            return response_for_exception(request, Http404(exception.message))
        if isinstance(exception, PermissionDenied):
            return response_for_exception(request, DjangoPermissionDenied(exception.message))
        return None


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """My projects with my role, my ten latest jobs, every backend with its queue, this month's usage."""
    memberships = list(Membership.objects.filter(user=request.user).select_related("project").order_by("project__slug"))
    slugs = {m.project.slug for m in memberships}
    recent = jobs_visible_to(request.user).filter(user=request.user).select_related("backend", "project")[:10]
    backends = [backend_view(b) for b in backends_with_queue_length()]
    now = timezone.now()
    usage = [row for row in project_usage(since=month_start(now), until=now) if row["project"] in slugs]
    return render(
        request,
        "portal/dashboard.html",
        {"memberships": memberships, "recent_jobs": recent, "backends": backends, "usage": usage},
    )


def permission_denied(request, exception=None):
    return render(request, "403.html", {"message": str(exception or "")}, status=403)


# The APIs answer in JSON even where no view matched (a path parameter that is not a UUID, a path
# that does not exist): the error envelope every API error has, not the 404 page.
_API_PREFIXES = ("/api/", "/v1/")


def page_not_found(request, exception=None):
    if request.path.startswith(_API_PREFIXES):
        return JsonResponse(rest_error(NotFound("No such endpoint.")), status=404)
    return render(request, "404.html", {"message": ""}, status=404)


def server_error(request):
    # No request context: the context processors would load the session's user from the database,
    # which may be what failed.
    return HttpResponseServerError(loader.get_template("500.html").render({}))


# The width of django-axes' username columns (AccessAttempt, AccessLog).
_AXES_USERNAME_MAX = 255


def sign_in_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The username django-axes counts failures under (settings.AXES_USERNAME_CALLABLE): the one tried,
    cut to axes' column width. Django's sign-in form does not enforce the username's max_length, so a
    10,000-character name reaches axes, whose insert would fail on PostgreSQL (a 500)."""
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        username = credentials.get(field)
    else:
        username = getattr(request, "data", request.POST).get(field)
    return username[:_AXES_USERNAME_MAX] if isinstance(username, str) else username


def login_locked_out(request: HttpRequest, *args) -> HttpResponse:
    """django-axes' answer to a sign-in it refused (settings.AXES_LOCKOUT_CALLABLE): the sign-in page
    again, saying why and for how long, with 429 and Retry-After.

    ``*args``: axes passes (original_response, credentials) from its sync middleware but only
    (credentials,) from its async one; neither is needed.
    """
    if request.path.startswith("/v1/"):  # a sign-in over JSON-RPC answers as JSON-RPC
        return jsonrpc.locked_out(request)
    cool_off = settings.AXES_COOLOFF_TIME
    minutes = max(round(cool_off.total_seconds() / 60), 1)
    username = request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username[:150]})
    response = render(
        request,
        "registration/login.html",
        {"form": form, "locked_out": True, "cooloff_minutes": minutes, "next": request.POST.get("next", "")},
        status=429,
    )
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


class PortalCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with the per-prefix relaxations of CONTENT_SECURITY_POLICY_BY_PREFIX
    for the pages the portal serves but did not write (admin, django-rq, DRF, Swagger UI).

    A view's own ``csp_replace`` decorator takes the place of the prefix table; ``csp_update`` adds to either.
    """

    def get_policy_parts(self, request: HttpRequest, response: HttpResponse, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only or parts.replace is not None:
            return parts
        table = getattr(settings, "CONTENT_SECURITY_POLICY_BY_PREFIX", {})
        matching = [prefix for prefix in table if request.path_info.startswith(prefix)]
        if matching:
            parts.replace = table[max(matching, key=len)]
        return parts
