"""The web portal's project page: members, API tokens (shown once), callback secret, quotas, usage.

Members see the page, anyone else gets the 404 page; the admin-only forms answer 403 to members.
Admins see and revoke every token bound to the project, members their own.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core.charts import Bar, bar_chart
from core.exceptions import InvalidParams, NotFound, PermissionDenied, PortalError
from core.validation import validate
from projects.api.serializers import ProjectPatchSerializer
from projects.forms import MemberForm, QuotasForm, RoleForm, TokenForm
from projects.models import Membership, Project, Role
from projects.permissions import is_project_admin, role_in
from projects.selectors import (
    month_start,
    project_activity,
    project_tokens_for_user,
    project_usage,
    projects_for_user,
    user_get_by_username,
)
from projects.services import (
    membership_remove,
    membership_set,
    project_rotate_secret,
    project_update,
    token_create,
    token_revoke,
)

NEW_TOKEN_SESSION_KEY = "portal:new-token"
# The project page charts this many days of jobs and shots.
ACTIVITY_DAYS = 30


def _project(request: HttpRequest, slug: str) -> Project:
    project = projects_for_user(request.user).filter(slug=slug).first()
    if project is None:
        raise Http404("Project not found.")
    return project


def _admin_project(request: HttpRequest, slug: str) -> Project:
    project = _project(request, slug)
    if not is_project_admin(request.user, project):
        raise PermissionDenied("Only the project's admins may do this.")
    return project


def _render_detail(request: HttpRequest, project: Project, *, quotas_form: QuotasForm | None = None) -> HttpResponse:
    is_admin = is_project_admin(request.user, project)
    now = timezone.now()
    usage = project_usage(since=month_start(now), until=now, project=project)
    usage = usage[0] if usage else None
    if quotas_form is None and is_admin:
        quotas_form = QuotasForm(
            initial={
                "max_queued_jobs": project.max_queued_jobs,
                "max_shots_per_job": project.max_shots_per_job,
                "max_circuits_per_job": project.max_circuits_per_job,
            }
        )
    return render(
        request,
        "projects/detail.html",
        {
            "project": project,
            "is_admin": is_admin,
            "my_role": role_in(request.user, project),
            "members": Membership.objects.filter(project=project).select_related("user").order_by("user__username"),
            "tokens": project_tokens_for_user(request.user, project),
            "now": now,
            "usage": usage,
            "active_jobs": project.jobs.filter(status__in=["QUEUED", "RUNNING", "CANCELLING"]).count(),
            "member_form": MemberForm(),
            "token_form": TokenForm(),
            "quotas_form": quotas_form,
            "roles": Role.choices,
            **_activity_charts(project, now),
        },
    )


def _activity_charts(project: Project, now) -> dict[str, Any]:
    """The charts of jobs and shots per day over the last 30 days."""
    days = project_activity(project, until=now, days=ACTIVITY_DAYS)

    def chart(column: int, unit: str) -> dict[str, Any]:
        bars = [Bar(f"{row[0]:%m-%d}", row[column], f"{row[0]:%Y-%m-%d}: {row[column]} {unit}") for row in days]
        return bar_chart(bars, bar_width=20, rotate_labels=True, label_every=5)

    return {
        "jobs_per_day": chart(1, "jobs"),
        "shots_per_day": chart(2, "shots"),
        "activity_days": ACTIVITY_DAYS,
    }


@never_cache
@login_required
@require_GET
def project_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return _render_detail(request, _project(request, slug))


@login_required
@require_POST
def quotas_update(request: HttpRequest, slug: str) -> HttpResponse:
    """Change the project's quotas (admins); a refused value is shown next to its field."""
    project = _admin_project(request, slug)
    form = QuotasForm(request.POST)
    if form.is_valid():
        try:
            project_update(project=project, **validate(ProjectPatchSerializer, form.cleaned_data))
        except InvalidParams as exc:
            project.refresh_from_db()  # the service may have set fields before it refused them
            form.add_errors(exc.extra.get("errors") or [], exc.message)
        else:
            messages.success(request, "Quotas saved.")
            return redirect("projects:detail", slug=project.slug)
    return _render_detail(request, project, quotas_form=form)


@login_required
@require_POST
def member_add(request: HttpRequest, slug: str) -> HttpResponse:
    project = _admin_project(request, slug)
    form = MemberForm(request.POST)
    if form.is_valid():
        try:
            user = user_get_by_username(form.cleaned_data["username"])
            membership_set(project=project, user=user, role=form.cleaned_data["role"])
        except PortalError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{user.username} is now {form.cleaned_data['role']} of {project.slug}.")
    else:
        messages.error(request, "Give a username and a role.")
    return redirect("projects:detail", slug=project.slug)


@login_required
@require_POST
def member_role(request: HttpRequest, slug: str, username: str) -> HttpResponse:
    project = _admin_project(request, slug)
    form = RoleForm(request.POST)
    membership = Membership.objects.filter(project=project, user__username=username).select_related("user").first()
    if membership is None:
        raise Http404("Member not found.")
    if form.is_valid():
        membership_set(project=project, user=membership.user, role=form.cleaned_data["role"])
        messages.success(request, f"{username} is now {form.cleaned_data['role']}.")
    return redirect("projects:detail", slug=project.slug)


@login_required
@require_POST
def member_remove(request: HttpRequest, slug: str, username: str) -> HttpResponse:
    project = _admin_project(request, slug)
    membership = Membership.objects.filter(project=project, user__username=username).select_related("user").first()
    if membership is None:
        raise Http404("Member not found.")
    membership_remove(project=project, user=membership.user)
    messages.success(request, f"{username} removed from {project.slug}; their jobs stay.")
    return redirect("projects:detail", slug=project.slug)


@login_required
@require_POST
def token_new(request: HttpRequest, slug: str) -> HttpResponse:
    """Create a token, then show it once on the next page (POST-redirect-GET keeps it out of history)."""
    project = _project(request, slug)
    form = TokenForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        messages.error(request, f"Invalid token settings: {problems}")
        return redirect("projects:detail", slug=project.slug)
    days = form.cleaned_data.get("expires_days")
    try:
        token, raw = token_create(
            user=request.user,
            project=project,
            name=form.cleaned_data.get("name") or "",
            expires_at=timezone.now() + timedelta(days=days) if days else None,
            requested_by=request.user,
        )
    except (NotFound, PermissionDenied):
        raise  # their own pages (portal.web.DomainErrorPageMiddleware)
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("projects:detail", slug=project.slug)
    request.session[NEW_TOKEN_SESSION_KEY] = {"raw": raw, "id": token.pk, "project": project.slug}
    return redirect("projects:token-created", slug=project.slug)


@never_cache
@login_required
@require_GET
def token_created(request: HttpRequest, slug: str) -> HttpResponse:
    """The new token, once: it leaves the session as it is shown."""
    project = _project(request, slug)
    shown = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
    if shown is not None and shown.get("project") != project.slug:
        shown = None
    return render(request, "projects/token_created.html", {"project": project, "raw": shown and shown["raw"]})


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, slug: str, token_id: int) -> HttpResponse:
    """Revoke a token bound to the project: one's own, or (admins) any member's. Others are not found."""
    project = _project(request, slug)
    token = project_tokens_for_user(request.user, project).filter(pk=token_id).first()
    if token is None:
        raise Http404("Token not found.")
    token_revoke(token=token)
    whose = "" if token.user_id == request.user.pk else f" of {token.user.username}"
    messages.success(request, f"Token {token.prefix}…{whose} revoked.")
    return redirect("projects:detail", slug=project.slug)


@login_required
@require_POST
def secret_rotate(request: HttpRequest, slug: str) -> HttpResponse:
    project = _admin_project(request, slug)
    project_rotate_secret(project=project)
    messages.success(request, "Callback secret rotated: update your receivers.")
    return redirect("projects:detail", slug=project.slug)
