"""Reads of jobs. Tenant scoping lives here, once: every read of a job goes through
``jobs_visible_to``, and a job outside the caller's reach is the same not-found as a missing one."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet

from core.exceptions import NotFound, PermissionDenied
from jobs.choices import JobStatus, ShareLevel
from jobs.models import CircuitDrawing, Job, JobResult
from projects.models import User
from projects.permissions import bound_project_id, is_project_admin, projects_administered_by, projects_member_of
from projects.selectors import project_get_for_user


def confined_to_token(user: User, qs: QuerySet[Job]) -> QuerySet[Job]:
    """Only the token's project, for a caller on a project-bound token (SPEC §7); every read of jobs
    passes through here, the driver-scope path of ``job_set_results`` included."""
    bound = bound_project_id(user)
    return qs if bound is None else qs.filter(project_id=bound)


def jobs_changeable_by(user: User) -> QuerySet[Job]:
    """Jobs the user may change (cancel, delete, update): own jobs, every job of projects they
    administer; staff all."""
    if user.is_staff:
        return confined_to_token(user, Job.objects.all())
    admin_of = projects_administered_by(user)
    return confined_to_token(user, Job.objects.filter(Q(user=user) | Q(project__in=admin_of)))


def jobs_visible_to(user: User) -> QuerySet[Job]:
    """Jobs the user may read: those they may change, and the jobs their owners shared with the project
    (IBM's ``share_level`` "project") in projects the user is a member of."""
    if user.is_staff:
        return confined_to_token(user, Job.objects.all())
    admin_of = projects_administered_by(user)
    shared = Q(share_level=ShareLevel.PROJECT, project__in=projects_member_of(user))
    return confined_to_token(user, Job.objects.filter(Q(user=user) | Q(project__in=admin_of) | shared))


def job_get_for_change(*, user: User, job_id: uuid.UUID | str) -> Job:
    """A job the user may change; one they may only read (shared with them) is PermissionDenied, one
    they may not read the same NotFound as a missing one."""
    job = job_get_for_user(user=user, job_id=job_id)
    if not jobs_changeable_by(user).filter(pk=job.pk).exists():
        raise PermissionDenied(
            f"Job {job.job_id} is shared with you to read; its owner, its project's admins and operators change it."
        )
    return job


def _with_relations(qs: QuerySet[Job]) -> QuerySet[Job]:
    return qs.select_related("backend", "project", "user").prefetch_related("tags")


def job_get_for_user(*, user: User, job_id: uuid.UUID | str, with_results: bool = False) -> Job:
    try:
        job_uuid = job_id if isinstance(job_id, uuid.UUID) else uuid.UUID(str(job_id))
    except ValueError as exc:
        raise NotFound(f"Job {job_id} not found.") from exc
    qs = _with_relations(jobs_visible_to(user))
    if with_results:
        qs = qs.prefetch_related("entries").select_related("backend_snapshot")
    job = qs.filter(pk=job_uuid).first()
    if job is None:
        raise NotFound(f"Job {job_id} not found.")
    return job


def cancelled_entries(job: Job) -> frozenset[int]:
    """The entries of a job about to run that were cancelled while it was queued. Only such a job has
    stored entries before its run, and its progress says so: any other start costs no query here."""
    if not job.progress:
        return frozenset()
    rows = JobResult.objects.filter(job_id=job.job_id, status=JobStatus.CANCELLED).values_list("index", flat=True)
    return frozenset(rows)


def job_drawing_notes(job: Job) -> dict[tuple[int, str], str]:
    """The job's circuit drawings that exist, by (entry index, stage): "" for a picture, else the note
    saying why there is none. The pictures themselves are not read."""
    rows = CircuitDrawing.objects.filter(job_id=job.job_id).values_list("index", "stage", "note")
    return {(index, stage): note for index, stage, note in rows}


def job_drawing_svg(job: Job, *, index: int, stage: str) -> str:
    """One drawing of a job the caller has read (``job_get_for_user``), as SVG."""
    drawing = CircuitDrawing.objects.filter(job_id=job.job_id, index=index, stage=stage, svg_blob__isnull=False).first()
    if drawing is None:
        raise NotFound(f"Job {job.job_id} has no {stage} drawing of entry {index}.")
    return drawing.svg


def job_list_for_user(
    *,
    user: User,
    all_projects: bool = False,
    all_users: bool = False,
    project_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    filters: dict[str, Any] | None = None,
) -> QuerySet[Job]:
    """The jobs ``get_jobs`` answers (SPEC §3): the caller's own unless ``all_users``, in the
    caller's projects unless ``all_projects``; ``filters`` go through the one JobFilterSet."""
    from jobs.filtersets import JobFilterSet

    qs = confined_to_token(user, Job.objects.all())
    project = None
    if all_projects:
        if not user.is_staff:
            raise PermissionDenied("all_projects is for operators (staff) only.")
    elif project_id is not None:
        project = project_get_for_user(user, project_id)
        qs = qs.filter(project=project)
    elif not user.is_staff:
        qs = qs.filter(Q(project__in=projects_member_of(user)) | Q(user=user))

    wants_others = all_users or (user_id is not None and user_id != user.user_id)
    if wants_others and not user.is_staff:
        if project is not None:
            if not is_project_admin(user, project):
                raise PermissionDenied("Only the project's admins may list other users' jobs.")
        else:
            # Roles in any project, the token's binding aside: qs is confined already, so a token bound to
            # p2 of a p1 admin gets its own p2 jobs here rather than a refusal (test_bound_tokens).
            admin_of = projects_administered_by(user, within_token=False)
            if not admin_of.exists():
                raise PermissionDenied("Only project admins may list other users' jobs.")
            qs = qs.filter(Q(project__in=admin_of) | Q(user=user))
    if user_id is not None:
        qs = qs.filter(user__user_id=user_id)
    elif not all_users:
        qs = qs.filter(user=user)

    filters = dict(filters or {})
    if not filters.get("status"):
        qs = qs.exclude(status=JobStatus.DELETED)
    filterset = JobFilterSet(filters, queryset=qs)
    if not filterset.is_valid():
        from core.exceptions import InvalidParams

        raise InvalidParams(
            errors=[
                {"field": field, "message": " ".join(str(m) for m in messages)}
                for field, messages in filterset.errors.items()
            ]
        )
    return _with_relations(filterset.qs)
