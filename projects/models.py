"""Tenancy: users, projects (the tenants), memberships and API tokens."""

from __future__ import annotations

import secrets
import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """A person or program. ``user_id`` is the public id; ``is_staff`` users are operators."""

    user_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Not a column: set on the request's user when it authenticated with a project-bound token
    # (projects.services.token_authenticate), so every selector and permission confines it (SPEC §7).
    token_project_id: int | None = None

    class Meta:
        ordering = ["username"]


def new_callback_secret() -> str:
    return secrets.token_hex(32)


class Project(models.Model):
    """The tenant: jobs belong to a project; it holds quotas and the callback signing secret."""

    project_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    max_queued_jobs = models.PositiveIntegerField(
        default=1000, help_text="Maximum number of QUEUED + RUNNING jobs of the project at once."
    )
    # The project's jobs in an active status, kept by the job state machine in the same transaction
    # as each change (jobs/services/state.py), so the quota check counts no rows.
    active_jobs = models.PositiveIntegerField(default=0, editable=False)
    max_shots_per_job = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most shots one job may ask for (empty: the backend's limit only)."
    )
    max_circuits_per_job = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most source_code entries one job may hold (empty: the backend's limit only)."
    )
    callback_secret = models.CharField(max_length=128, default=new_callback_secret)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    members = models.ManyToManyField(User, through="Membership", related_name="projects")

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "project"], name="unique_membership")]
        ordering = ["project", "user"]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


class TokenScope(models.TextChoices):
    DEFAULT = "", "Default"
    DRIVER = "driver", "Driver (may call set_job_results)"


class ApiToken(models.Model):
    """An API token. Only its SHA-256 is stored; the token itself is shown once, at creation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    project = models.ForeignKey(
        Project,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text="When set, the token acts only within this project.",
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, help_text="The token's first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=16, choices=TokenScope.choices, default=TokenScope.DEFAULT, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class RefreshToken(models.Model):
    """The refresh half of a password login (QCOS's ``/v1/auth``), paired with the short-lived access
    token it was issued with. It is spent by its first use, which revokes that access token and issues a
    new pair, so a stolen refresh token works at most once. Only its SHA-256 is stored."""

    access_token = models.OneToOneField(ApiToken, on_delete=models.CASCADE, related_name="refresh_token")
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… (refresh of {self.access_token})"
