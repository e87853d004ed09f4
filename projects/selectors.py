"""Reads of the tenancy app."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import BigIntegerField, Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from core.exceptions import InvalidParams, NotFound
from core.prepared import Param, Prepared
from projects.models import ApiToken, Project, User
from projects.permissions import (
    annotate_caller_role,
    bound_project_id,
    is_project_admin,
    projects_member_of,
    projects_readable_by,
)


def projects_for_user(user: User) -> QuerySet[Project]:
    """Projects the user belongs to (all for staff); only its own for a project-bound token."""
    return projects_readable_by(user)


def project_get_for_user(user: User, project_id: uuid.UUID | str) -> Project:
    """A project the user belongs to (any project for staff); anything else is not found. Read with
    the caller's role, which a permission check then needs no query for."""
    try:
        return annotate_caller_role(projects_for_user(user), user).get(project_id=project_id)
    except (Project.DoesNotExist, ValueError, ValidationError) as exc:  # ValidationError: not a UUID
        raise NotFound(f"Project {project_id} not found.") from exc


def _member_projects(*, staff: bool) -> QuerySet[Project]:
    """Two of the projects of an unconfined caller, staff or not, with the caller's role; the caller's
    pk a parameter: what a submit naming no project reads, compiled once (core.prepared)."""
    caller = User(is_staff=staff)  # the rules below read only is_staff and a token's binding (none)
    user_ref = Param("user_id", BigIntegerField())
    return annotate_caller_role(projects_member_of(caller, user_ref=user_ref), caller, user_ref=user_ref)[:2]


_MEMBER_PROJECTS = {staff: Prepared(lambda staff=staff: _member_projects(staff=staff)) for staff in (False, True)}


def project_for_submission(*, user: User, token: ApiToken | None, project_id: uuid.UUID | None) -> Project:
    """Which project a submission goes to: the one named, else the token's, else the user's only one."""
    if token is not None and token.project_id is not None:
        if project_id is not None and project_id != token.project.project_id:
            raise NotFound(f"Project {project_id} not found.")
        return token.project
    if project_id is not None:
        return project_get_for_user(user, project_id)
    if bound_project_id(user) is None:
        projects = _MEMBER_PROJECTS[user.is_staff].all(user_id=user.pk)
    else:
        projects = list(annotate_caller_role(projects_member_of(user), user)[:2])
    if len(projects) == 1:
        return projects[0]
    if not projects:
        raise InvalidParams.field("project_id", "you are not a member of any project")
    raise InvalidParams.field("project_id", "you belong to several projects: name one with project_id")


def user_get_by_username(username: str) -> User:
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist as exc:
        raise NotFound(f"User {username!r} not found.") from exc


def project_get_by_slug(slug: str) -> Project:
    try:
        return Project.objects.get(slug=slug)
    except Project.DoesNotExist as exc:
        raise NotFound(f"Project {slug!r} not found.") from exc


def tokens_for_user(user: User) -> QuerySet[ApiToken]:
    """The caller's own tokens; a project-bound token sees (and revokes) only its project's."""
    tokens = ApiToken.objects.filter(user=user)
    bound = bound_project_id(user)
    if bound is not None:
        tokens = tokens.filter(project_id=bound)
    return tokens.select_related("project").order_by("-created_at", "-id")


def project_tokens_for_user(user: User, project: Project) -> QuerySet[ApiToken]:
    """The tokens bound to ``project`` that ``user`` sees and may revoke: every member's for the project's
    admins (SPEC §7: they manage project tokens), only their own for members. Tokens bound to no project
    act in all of a user's projects, so no single project's admin manages them."""
    tokens = ApiToken.objects.filter(project=project).select_related("user")
    if not is_project_admin(user, project):
        tokens = tokens.filter(user=user)
    return tokens.order_by("-created_at", "-pk")


def month_start(now: datetime) -> datetime:
    """The first instant of ``now``'s month: where the usage figures of the web pages begin."""
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def project_usage(*, since: datetime, until: datetime, project: Project | None = None) -> list[dict[str, Any]]:
    """Per project (or of one), the jobs created in [since, until): how many, shots, and execution
    seconds (started to ended) -- one aggregate query. (The filter comes before the annotation, so
    the aggregates count only the jobs it kept.)"""
    projects = Project.objects.all() if project is None else Project.objects.filter(pk=project.pk)
    rows = (
        projects.filter(jobs__created_at__gte=since, jobs__created_at__lt=until)
        .values("project_id", "slug")
        .annotate(
            jobs_count=Count("jobs"),
            shots=Sum("jobs__shots"),
            execution=Sum(
                ExpressionWrapper(F("jobs__ended_at") - F("jobs__started_at"), output_field=DurationField()),
                filter=Q(jobs__started_at__isnull=False, jobs__ended_at__isnull=False),
            ),
        )
        .order_by("slug")
    )
    return [
        {
            "project_id": str(row["project_id"]),
            "project": row["slug"],
            "jobs": row["jobs_count"],
            "shots": row["shots"] or 0,
            "execution_seconds": round(row["execution"].total_seconds(), 3) if row["execution"] else 0.0,
        }
        for row in rows
    ]


def project_activity(project: Project, *, until: datetime, days: int = 30) -> list[tuple[date, int, int]]:
    """(day, jobs, shots) of the jobs created in each of the last ``days`` days up to ``until``, oldest
    first, days without jobs included: one grouped query on the (project, created_at) index."""
    first = (until - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = (
        project.jobs.filter(created_at__gte=first, created_at__lte=until)
        .annotate(day=TruncDate("created_at"))
        .values_list("day")
        .annotate(jobs=Count("pk"), shots=Sum("shots"))
        .order_by()
    )
    by_day = {day: (jobs, shots or 0) for day, jobs, shots in rows}
    span = [first.date() + timedelta(days=i) for i in range(days)]
    return [(day, *by_day.get(day, (0, 0))) for day in span]
