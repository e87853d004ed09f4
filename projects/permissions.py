"""Who may do what in a project (SPEC §7). The one place these rules live."""

from __future__ import annotations

from projects.models import ApiToken, Membership, Project, Role, TokenScope, User


def role_in(user: User, project: Project) -> str | None:
    return Membership.objects.filter(user=user, project=project).values_list("role", flat=True).first()


def is_project_admin(user: User, project: Project) -> bool:
    return user.is_staff or role_in(user, project) == Role.ADMIN


def can_submit(user: User, project: Project) -> bool:
    return user.is_staff or role_in(user, project) is not None


def can_set_results(user: User, token: ApiToken | None) -> bool:
    """Only operators and drivers (tokens with the ``driver`` scope) may store results."""
    return user.is_staff or (token is not None and token.scope == TokenScope.DRIVER)
