"""JSON-RPC methods of QCOS's ``/v1/auth`` and ``/v1/project`` (SPEC §12), in the shapes its client reads;
listed in the method tables of ``portal/methods.py``."""

from __future__ import annotations

from typing import Any

from core.calls import Caller
from core.validation import StrictCharField, StrictSerializer, validate
from projects.models import Project, User
from projects.permissions import bound_project_id
from projects.selectors import projects_for_user
from projects.services import Login, login_end, login_refresh, login_with_password


class LoginParams(StrictSerializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=1000, trim_whitespace=False)


class RefreshParams(StrictSerializer):
    refresh_token = StrictCharField(max_length=200)


class NoParams(StrictSerializer):
    pass


class ProjectFilters(StrictSerializer):
    name = StrictCharField(max_length=200, required=False)


class GetProjectsParams(StrictSerializer):
    filters = ProjectFilters(required=False, allow_null=True)


def _ts(value) -> str | None:
    return value.isoformat() if value else None


def _login_view(login: Login) -> dict[str, Any]:
    return {
        "user_name": login.user.username,
        "access_token": login.access_token,
        "refresh_token": login.refresh_token,
        "token_type": "bearer",
        "expires_in": login.expires_in,
        "refresh_expires_in": login.refresh_expires_in,
    }


def login(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(LoginParams, params)
    return _login_view(
        login_with_password(request=caller.request, username=data["username"], password=data["password"])
    )


def refresh_token(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    data = validate(RefreshParams, params)
    return _login_view(login_refresh(raw=data["refresh_token"]))


def logout(caller: Caller, params: dict[str, Any]) -> dict[str, str]:
    validate(NoParams, params)
    login_end(token=caller.token)
    return {"message": "Successfully logged out"}


def _home_project(user: User) -> Project | None:
    """The project a user works in by default: a bound token's, else the first of their own."""
    projects = projects_for_user(user)
    return projects.first() if bound_project_id(user) is not None or not user.is_staff else None


def me(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    validate(NoParams, params)
    user = caller.user
    home = _home_project(user)
    return {
        "id": str(user.user_id),
        "project_id": str(home.project_id) if home else None,
        "user_name": user.username,
        "roles": ["admin"] if user.is_staff else ["user"],
        "is_enabled": user.is_active,
        "is_locked": False,
        "password_expiry_days": None,
        "last_login": _ts(user.last_login),
        "password_changed_at": None,
        "locked_until": None,
        "description": user.get_full_name() or None,
        "created_at": _ts(user.date_joined),
        "updated_at": _ts(user.date_joined),
    }


def get_projects(caller: Caller, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    data = validate(GetProjectsParams, params)
    projects = projects_for_user(caller.user)
    name = (data.get("filters") or {}).get("name")
    if name is not None:
        projects = projects.filter(name=name) | projects.filter(slug=name)
    return {
        str(project.project_id): {
            "id": str(project.project_id),
            "name": project.name or project.slug,
            "description": None,
            "created_at": _ts(project.created_at),
            "updated_at": _ts(project.created_at),
        }
        for project in projects.order_by("slug")
    }
