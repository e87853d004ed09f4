"""State changes of the tenancy app. Keyword-only, validated, called by every face of the portal."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import transaction
from django.db.models import CharField, Q
from django.utils import timezone

from core import ratelimit
from core.exceptions import InvalidParams, PermissionDenied, Unauthenticated
from core.prepared import Param, Prepared
from projects.models import ApiToken, Membership, Project, RefreshToken, Role, TokenScope, User, new_callback_secret
from projects.permissions import (
    annotate_token_project_role,
    bound_project_id,
    can_issue_driver_tokens,
    token_project_with_role,
)

TOKEN_PREFIX = "qp_"
REFRESH_PREFIX = "qr_"
LOGIN_TOKEN_NAME = "login"
# last_used_at is written at most this often per token, so a busy client does not turn every
# read into a write on the token row.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def _validation_error_to_params(exc) -> InvalidParams:
    errors = [
        {"field": field, "message": " ".join(str(m) for m in messages)} for field, messages in exc.message_dict.items()
    ]
    return InvalidParams(errors=errors)


def _full_clean(instance, **kwargs) -> None:
    from django.core.exceptions import ValidationError

    try:
        instance.full_clean(**kwargs)
    except ValidationError as exc:
        raise _validation_error_to_params(exc) from exc


def user_create(*, username: str, password: str | None = None, email: str = "", is_staff: bool = False) -> User:
    """Create a user; without a password the account can sign in only with API tokens."""
    user = User(username=username, email=email, is_staff=is_staff, is_superuser=is_staff)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    _full_clean(user, exclude=["password"])
    user.save()
    return user


def project_create(
    *,
    slug: str,
    name: str = "",
    max_queued_jobs: int | None = None,
    max_shots_per_job: int | None = None,
    max_circuits_per_job: int | None = None,
) -> Project:
    project = Project(
        slug=slug, name=name or slug, max_shots_per_job=max_shots_per_job, max_circuits_per_job=max_circuits_per_job
    )
    if max_queued_jobs is not None:
        project.max_queued_jobs = max_queued_jobs
    _full_clean(project)
    project.save()
    return project


def membership_set(*, project: Project, user: User, role: str = Role.MEMBER) -> Membership:
    """Add ``user`` to ``project`` with ``role``, or change the role of an existing member."""
    if role not in Role.values:
        raise InvalidParams.field("role", f"must be one of {', '.join(Role.values)}")
    membership, created = Membership.objects.get_or_create(project=project, user=user, defaults={"role": role})
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def membership_remove(*, project: Project, user: User) -> bool:
    """Take ``user`` out of ``project``; their jobs stay (owned by them, readable by the admins)."""
    deleted, _ = Membership.objects.filter(project=project, user=user).delete()
    return bool(deleted)


def project_update(
    *,
    project: Project,
    name: str | None = None,
    max_queued_jobs: int | None = None,
    max_shots_per_job: int | None | object = ...,
    max_circuits_per_job: int | None | object = ...,
) -> Project:
    """Change a project's name and quotas (``...`` leaves a nullable quota as it is)."""
    fields = []
    if name is not None:
        project.name, fields = name, [*fields, "name"]
    if max_queued_jobs is not None:
        project.max_queued_jobs, fields = max_queued_jobs, [*fields, "max_queued_jobs"]
    if max_shots_per_job is not ...:
        project.max_shots_per_job, fields = max_shots_per_job, [*fields, "max_shots_per_job"]
    if max_circuits_per_job is not ...:
        project.max_circuits_per_job, fields = max_circuits_per_job, [*fields, "max_circuits_per_job"]
    _full_clean(project)
    if fields:
        project.save(update_fields=fields)
    return project


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(
    *,
    user: User,
    project: Project | None = None,
    scope: str = TokenScope.DEFAULT,
    expires_at: datetime | None = None,
    name: str = "",
    requested_by: User | None = None,
) -> tuple[ApiToken, str]:
    """Create an API token; returns the row and the token itself, which is never stored.

    ``requested_by`` is who asks over the API or the web; None for an operator at the command line,
    who may issue any scope to anyone."""
    if scope not in TokenScope.values:
        raise InvalidParams.field("scope", f"must be one of: {', '.join(v or '(empty)' for v in TokenScope.values)}")
    if scope == TokenScope.DRIVER and requested_by is not None and not can_issue_driver_tokens(requested_by):
        raise PermissionDenied("Only operators may create tokens with the driver scope.")
    if project is not None and not (user.is_staff or Membership.objects.filter(user=user, project=project).exists()):
        raise InvalidParams.field("project", f"{user.username} is not a member of {project.slug}")
    bound = bound_project_id(user)
    if bound is not None and (project is None or project.pk != bound):
        # Else a leaked project token would mint itself a key to every project of its user.
        raise PermissionDenied("A token bound to a project can only create tokens bound to that project.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        project=project,
        scope=scope,
        expires_at=expires_at,
        name=name,
        prefix=raw[:10],
        key_hash=_hash_token(raw),
    )
    return token, raw


def tokens_revoke(*, user: User) -> int:
    """Revoke every active token of ``user``; effective for the very next request."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


# Every API request's first query, so compiled once (core.prepared).
_TOKEN_BY_HASH = Prepared(
    lambda: annotate_token_project_role(
        ApiToken.objects.select_related("user", "project").filter(key_hash=Param("digest", CharField()))
    )[:1]
)


def token_authenticate(raw: str) -> ApiToken:
    """The active token ``raw`` names, or Unauthenticated. Touches ``last_used_at`` now and then."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        raise Unauthenticated("Invalid API token.")
    digest = _hash_token(raw)
    token = _TOKEN_BY_HASH.first(digest=digest)
    # The lookup is by hash, so timing reveals nothing of the token; compare_digest keeps it so.
    if token is None or not hmac.compare_digest(token.key_hash, digest):
        raise Unauthenticated("Invalid API token.")
    now = timezone.now()
    if token.revoked_at is not None:
        raise Unauthenticated("This API token has been revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthenticated("This API token has expired.")
    if not token.user.is_active:
        raise Unauthenticated("This account is disabled.")
    token.user.token_project_id = token.project_id
    token_project_with_role(token)
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


@transaction.atomic
def project_rotate_secret(*, project: Project) -> str:
    project.callback_secret = new_callback_secret()
    project.save(update_fields=["callback_secret"])
    return project.callback_secret


# --- Password logins (QCOS's /v1/auth) ----------------------------------------------------------


@dataclass(frozen=True)
class Login:
    """What a login or a refresh hands out: both tokens (shown this once) and their lifetimes."""

    user: User
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int


def _login_issue(user: User) -> Login:
    now = timezone.now()
    # Logins and refreshes count against the user's request rate, and the user's spent ones go: logging
    # in again and again neither outruns the API's limit nor piles up token rows.
    ratelimit.hit(ratelimit.caller_key(user, None))
    dead_access = Q(expires_at__lte=now) | Q(revoked_at__isnull=False)
    dead_refresh = Q(refresh_token__used_at__isnull=False) | Q(refresh_token__expires_at__lte=now)
    ApiToken.objects.filter(dead_access, dead_refresh, user=user, name=LOGIN_TOKEN_NAME).delete()
    access, raw_access = token_create(
        user=user, name=LOGIN_TOKEN_NAME, expires_at=now + timedelta(seconds=settings.LOGIN_ACCESS_SECONDS)
    )
    raw_refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
    RefreshToken.objects.create(
        access_token=access,
        prefix=raw_refresh[:10],
        key_hash=_hash_token(raw_refresh),
        expires_at=now + timedelta(seconds=settings.LOGIN_REFRESH_SECONDS),
    )
    return Login(user, raw_access, raw_refresh, settings.LOGIN_ACCESS_SECONDS, settings.LOGIN_REFRESH_SECONDS)


def login_with_password(*, request, username: str, password: str) -> Login:
    """Sign in with a username and password: a short-lived access token (an API token with an expiry,
    good on every face) and its refresh token. Failures count toward the sign-in lockout (django-axes)."""
    try:
        user = authenticate(request=request, username=username, password=password)
    except DjangoPermissionDenied as exc:  # django-axes: too many failures for this name and address
        raise PermissionDenied("Too many failed sign-ins; try again later.") from exc
    if user is None or not user.is_active:
        raise Unauthenticated("Invalid username or password.")
    with transaction.atomic():
        return _login_issue(user)


def login_refresh(*, raw: str) -> Login:
    """Spend a refresh token for a new pair. The old access token is revoked, and the refresh token stops
    working, whoever presents it next."""
    if not raw or not raw.startswith(REFRESH_PREFIX) or len(raw) > 200:
        raise Unauthenticated("Invalid refresh token.")
    now = timezone.now()
    with transaction.atomic():
        refresh = (
            RefreshToken.objects.select_for_update()
            .select_related("access_token__user")
            .filter(key_hash=_hash_token(raw))
            .first()
        )
        if refresh is None:
            raise Unauthenticated("Invalid refresh token.")
        if refresh.used_at is not None:
            raise Unauthenticated("This refresh token has been used.")
        if refresh.expires_at <= now:
            raise Unauthenticated("This refresh token has expired.")
        user = refresh.access_token.user
        if not user.is_active:
            raise Unauthenticated("This account is disabled.")
        RefreshToken.objects.filter(pk=refresh.pk).update(used_at=now)
        token_revoke(token=refresh.access_token)
        return _login_issue(user)


def login_end(*, token: ApiToken | None) -> None:
    """Sign out: the access token the call came with is revoked, and its refresh token spent."""
    if token is None:
        raise Unauthenticated("Sign out with the access token to end.")
    with transaction.atomic():
        token_revoke(token=token)
        RefreshToken.objects.filter(access_token=token, used_at__isnull=True).update(used_at=timezone.now())
