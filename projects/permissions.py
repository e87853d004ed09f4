"""Who may do what in a project (SPEC §7). The one place these rules live: the per-object predicates,
and the same rules as querysets and annotations for reads that cover many projects at once."""

from __future__ import annotations

from django.db.models import (
    BooleanField,
    Exists,
    Expression,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)

from core.prepared import Param, Prepared
from projects.models import ApiToken, Membership, Project, Role, TokenScope, User


def bound_project_id(user: User) -> int | None:
    """The project a project-bound token confines this caller to (its pk), None when unconfined.

    Such a caller reads, lists, changes and follows only that project's jobs and sees only that
    project, whatever its roles elsewhere, staff included: the selectors apply this, once each."""
    return getattr(user, "token_project_id", None)


def within_reach(user: User, project: Project) -> bool:
    bound = bound_project_id(user)
    return bound is None or bound == project.pk


# A caller's role in a project not read with it (annotate_caller_role, annotate_token_project_role),
# compiled once (core.prepared): through the ORM it cost 0.9-1.1 ms of CPU, sorting its one row by
# Membership's ordering and joining the project and the user to do so; prepared, 0.17-0.28 ms.
_ROLE = Prepared(
    lambda: (
        Membership.objects.filter(
            user_id=Param("user_id", IntegerField()), project_id=Param("project_id", IntegerField())
        )
        .order_by()
        .values_list("role")[:1]
    )
)


def annotate_token_project_role(tokens: QuerySet[ApiToken]) -> QuerySet[ApiToken]:
    """Tokens with their user's role in the token's project (``project_role``; None when unbound or no
    longer a member), read with the token: ``token_project_with_role`` hands it to ``role_in``, so a
    project-bound token's request reads no membership of its own."""
    mine = Membership.objects.filter(project_id=OuterRef("project_id"), user_id=OuterRef("user_id")).order_by()
    return tokens.annotate(project_role=Subquery(mine.values("role")[:1]))


def token_project_with_role(token: ApiToken) -> None:
    """Mark a token's project (read by ``annotate_token_project_role``) with the caller's role in it."""
    if token.project is not None:
        token.project.caller_role, token.project.caller_role_for = token.project_role, token.user_id


def role_in(user: User, project: Project) -> str | None:
    if not within_reach(user, project):
        return None
    if getattr(project, "caller_role_for", None) == user.pk:  # read with the project (annotate_caller_role)
        return project.caller_role
    row = _ROLE.first(user_id=user.pk, project_id=project.pk)
    return row[0] if row else None


def is_project_admin(user: User, project: Project) -> bool:
    return within_reach(user, project) and (user.is_staff or role_in(user, project) == Role.ADMIN)


def can_submit(user: User, project: Project) -> bool:
    return within_reach(user, project) and (user.is_staff or role_in(user, project) is not None)


def can_issue_driver_tokens(user: User) -> bool:
    """Driver-scope tokens store results for any job they reach: only operators hand them out."""
    return user.is_staff


def can_set_results(user: User, token: ApiToken | None) -> bool:
    """Only operators and drivers (tokens with the ``driver`` scope) may store results."""
    return user.is_staff or (token is not None and token.scope == TokenScope.DRIVER)


# --- The same rules over many projects ----------------------------------------------------------


def _within_reach(user: User, projects: QuerySet[Project]) -> QuerySet[Project]:
    bound = bound_project_id(user)
    return projects if bound is None else projects.filter(pk=bound)


def projects_readable_by(user: User) -> QuerySet[Project]:
    """The projects the user may see: those they belong to, every one for staff."""
    projects = Project.objects.all() if user.is_staff else Project.objects.filter(memberships__user=user)
    return _within_reach(user, projects)


def projects_member_of(user: User, *, user_ref: Expression | None = None) -> QuerySet[Project]:
    """The projects ``role_in`` gives the user a role in, any role: their memberships, staff's too.
    ``user_ref`` as for ``annotate_caller_role``."""
    return _within_reach(user, Project.objects.filter(memberships__user_id=user.pk if user_ref is None else user_ref))


def projects_administered_by(user: User, *, within_token: bool = True) -> QuerySet[Project]:
    """The projects ``is_project_admin`` holds for: those the user is an admin of, every one for staff.

    ``within_token=False`` leaves out a project-bound token's binding, for a caller that confines its
    rows itself yet asks about the user's roles anywhere (get_jobs' all_users check)."""
    if user.is_staff:
        projects = Project.objects.all()
    else:
        projects = Project.objects.filter(memberships__user=user, memberships__role=Role.ADMIN)
    return _within_reach(user, projects) if within_token else projects


def annotate_caller_role(
    projects: QuerySet[Project], user: User, *, user_ref: Expression | None = None
) -> QuerySet[Project]:
    """``role_in`` and ``is_project_admin`` as ``caller_role`` and ``caller_is_admin`` of each project,
    so that a page of projects costs one query; ``role_in`` then reads the role from the row
    (``caller_role_for`` says for whom it was read). ``user_ref``: the user's pk as an expression (a
    prepared read's parameter), the queryset's shape then the same for every user of its kind."""
    ref = Value(user.pk) if user_ref is None else user_ref
    # Without Membership's default ordering, which joins the project and the user to sort one row.
    mine = Membership.objects.filter(project=OuterRef("pk"), user_id=ref).order_by()
    bound = bound_project_id(user)
    if bound is not None:  # out of the token's reach the caller has no role (within_reach)
        mine = mine.filter(project_id=bound)
    if not user.is_staff:
        is_admin = Exists(mine.filter(role=Role.ADMIN))
    elif bound is None:
        is_admin = Value(True)
    else:
        is_admin = ExpressionWrapper(Q(pk=bound), output_field=BooleanField())
    return projects.annotate(
        caller_role=Subquery(mine.values("role")[:1]), caller_is_admin=is_admin, caller_role_for=ref
    )
