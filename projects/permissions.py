"""Who may do what in a project (SPEC §7). The one place these rules live."""

from __future__ import annotations

from projects.models import ApiToken, Membership, Project, Role, TokenScope, User


def bound_project_id(user: User) -> int | None:
    """The project a project-bound token confines this caller to (its pk), None when unconfined.

    Such a caller reads, lists, changes and follows only that project's jobs and sees only that
    project, whatever its roles elsewhere, staff included: the selectors apply this, once each."""
    return getattr(user, "token_project_id", None)


def within_reach(user: User, project: Project) -> bool:
    bound = bound_project_id(user)
    return bound is None or bound == project.pk


def role_in(user: User, project: Project) -> str | None:
    if not within_reach(user, project):
        return None
    return Membership.objects.filter(user=user, project=project).values_list("role", flat=True).first()


def is_project_admin(user: User, project: Project) -> bool:
    return within_reach(user, project) and (user.is_staff or role_in(user, project) == Role.ADMIN)


def can_submit(user: User, project: Project) -> bool:
    return within_reach(user, project) and (user.is_staff or role_in(user, project) is not None)


def can_set_results(user: User, token: ApiToken | None) -> bool:
    """Only operators and drivers (tokens with the ``driver`` scope) may store results."""
    return user.is_staff or (token is not None and token.scope == TokenScope.DRIVER)
