"""REST shapes of the tenancy app: explicit fields, strict request bodies."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from core.validation import IsoDateTimeField, StrictCharField, StrictIntegerField, StrictSerializer
from projects.models import ApiToken, Membership, Project, Role, TokenScope

# What a project's admins (and operators) see of it beyond what every member sees.
PROJECT_ADMIN_FIELDS = ("members", "max_queued_jobs", "max_shots_per_job", "max_circuits_per_job", "callback_secret")


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    user_id = serializers.UUIDField(source="user.user_id", read_only=True)
    created_at = IsoDateTimeField(read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "user_id", "role", "created_at"]
        read_only_fields = fields


class MemberCreateSerializer(StrictSerializer):
    """``POST /api/v1/projects/{project_id}/members/``: add a user, or change a member's role."""

    username = StrictCharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class MemberRoleSerializer(StrictSerializer):
    """``PATCH /api/v1/projects/{project_id}/members/{username}/``; without ``role``, nothing changes."""

    role = serializers.ChoiceField(choices=Role.choices, required=False)


class ProjectSerializer(serializers.ModelSerializer):
    """A project. Its members, quotas and callback secret are shown to its admins and operators only."""

    # The view's queryset annotates caller_role and caller_is_admin and prefetches the members, so a
    # list costs no query per project. The admin fields are not required: members do not get them.
    role = serializers.ChoiceField(
        source="caller_role", choices=Role.choices, allow_null=True, read_only=True,
        help_text="The caller's role in the project (null for an operator who is not a member).",
    )  # fmt: skip
    members = MemberSerializer(
        source="memberships", many=True, required=False, help_text="Project admins and operators only."
    )
    created_at = IsoDateTimeField(read_only=True)

    class Meta:
        model = Project
        fields = ["project_id", "slug", "name", "role", "created_at", *PROJECT_ADMIN_FIELDS]
        read_only_fields = ["project_id", "slug", "name", "role", "created_at"]
        extra_kwargs = {
            name: {"required": False, "help_text": "Project admins and operators only."}
            for name in PROJECT_ADMIN_FIELDS
            if name != "members"
        }

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not instance.caller_is_admin:
            for name in PROJECT_ADMIN_FIELDS:
                del data[name]
        return data


class ProjectPatchSerializer(StrictSerializer):
    """``PATCH /api/v1/projects/{project_id}/`` (project admins): name and quotas; null lifts a
    per-job quota."""

    name = StrictCharField(max_length=200, required=False, allow_blank=True)
    max_queued_jobs = StrictIntegerField(min_value=0, required=False, help_text="QUEUED + RUNNING jobs at once.")
    max_shots_per_job = StrictIntegerField(min_value=1, required=False, allow_null=True)
    max_circuits_per_job = StrictIntegerField(min_value=1, required=False, allow_null=True)


class TokenSerializer(serializers.ModelSerializer):
    """An API token without its secret: only its first characters (``prefix``) identify it."""

    project_id = serializers.UUIDField(
        source="project.project_id", read_only=True, allow_null=True, help_text="The project it is bound to, if any."
    )
    created_at = IsoDateTimeField(read_only=True)
    expires_at = IsoDateTimeField(read_only=True, allow_null=True)
    revoked_at = IsoDateTimeField(read_only=True, allow_null=True)
    last_used_at = IsoDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "prefix",
            "name",
            "project_id",
            "scope",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
        ]
        read_only_fields = fields


class TokenCreatedSerializer(TokenSerializer):
    """The answer to creating a token: the only time ``token`` is ever shown."""

    token = serializers.CharField(read_only=True, help_text="Send as 'Authorization: Bearer <token>'. Shown once.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class TokenCreateSerializer(StrictSerializer):
    """``POST /api/v1/tokens/``."""

    name = StrictCharField(max_length=100, required=False, default="", allow_blank=True)
    project_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Bind the token to one of your projects."
    )
    scope = serializers.ChoiceField(
        choices=TokenScope.choices, required=False, default=TokenScope.DEFAULT, allow_blank=True,
        help_text='"driver" (may call set_job_results) is for operators only.',
    )  # fmt: skip
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("must be in the future")
        return value
