"""Admin for the tenancy app: users, projects with their quotas and members, API tokens.

Changes go through ``projects.services``: memberships (inline or on their own page) through
``membership_set`` / ``membership_remove``, projects through ``project_create`` /
``project_update``, secrets through ``project_rotate_secret``, tokens are only listed and revoked
(``token_revoke`` / ``tokens_revoke``). A token's ``key_hash`` is never shown, nor searchable.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count
from django.utils.html import format_html

from projects.models import ApiToken, Membership, Project, User
from projects.services import (
    membership_remove,
    membership_set,
    project_create,
    project_rotate_secret,
    project_update,
    token_revoke,
    tokens_revoke,
)

# --- Memberships --------------------------------------------------------------------------------


class MembershipServiceMixin:
    """Saves membership inlines through the services instead of the formset's own save."""

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.deleted_forms:
            membership = inline_form.instance
            if membership.pk is not None:
                membership_remove(project=membership.project, user=membership.user)
                formset.deleted_objects.append(membership)
        for inline_form in formset.forms:
            if inline_form in formset.deleted_forms or not inline_form.has_changed():
                continue
            membership = inline_form.instance  # the form's values are set on it
            setattr(membership, formset.fk.name, formset.instance)  # the parent is new on an add page
            previous = None
            if membership.pk is not None:
                previous = Membership.objects.select_related("project", "user").get(pk=membership.pk)
                if (previous.project_id, previous.user_id) != (membership.project_id, membership.user_id):
                    membership_remove(project=previous.project, user=previous.user)
            saved = membership_set(project=membership.project, user=membership.user, role=membership.role)
            if previous is None:
                formset.new_objects.append(saved)
            else:
                formset.changed_objects.append((saved, inline_form.changed_data))
        return None


class _MembershipInline(admin.TabularInline):
    """Memberships seen from one side: each row names the other side (``other``) and the role."""

    model = Membership
    other = ""
    readonly_fields = ["created_at"]
    extra = 0

    def get_fields(self, request, obj=None):
        return [self.other, "role", "created_at"]

    def get_autocomplete_fields(self, request):
        return [self.other]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(self.other)


class ProjectMembershipInline(_MembershipInline):
    fk_name, other, verbose_name_plural = "project", "user", "members"


class UserMembershipInline(_MembershipInline):
    fk_name, other, verbose_name_plural = "user", "project", "projects"


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "project"]
    search_fields = ["user__username", "user__email", "project__slug", "project__name"]
    autocomplete_fields = ["user", "project"]
    fields = ["user", "project", "role", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        # A membership is a (user, project) pair: another pair is another membership.
        return ["created_at"] if obj is None else ["user", "project", "created_at"]

    def save_model(self, request, obj, form, change):
        saved = membership_set(project=obj.project, user=obj.user, role=obj.role)
        obj.pk, obj.created_at = saved.pk, saved.created_at
        obj._state.adding = False

    def delete_model(self, request, obj):
        membership_remove(project=obj.project, user=obj.user)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("project", "user"):
            membership_remove(project=membership.project, user=membership.user)


# --- Users --------------------------------------------------------------------------------------


@admin.register(User)
class UserAdmin(MembershipServiceMixin, DjangoUserAdmin):
    list_display = ["username", "email", "user_id", "is_staff", "is_active", "last_login", "date_joined"]
    search_fields = ["username", "first_name", "last_name", "email", "^user_id"]
    readonly_fields = ["user_id", "last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["username", "user_id", "password"]}),
        *DjangoUserAdmin.fieldsets[1:],
    ]
    inlines = [UserMembershipInline]
    actions = ["revoke_tokens"]

    @admin.action(description="Revoke every API token of the selected users", permissions=["change"])
    def revoke_tokens(self, request, queryset):
        revoked = sum(tokens_revoke(user=user) for user in queryset)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)


# --- Projects -----------------------------------------------------------------------------------


@admin.register(Project)
class ProjectAdmin(MembershipServiceMixin, admin.ModelAdmin):
    list_display = [
        "slug", "name", "project_id", "member_count", "max_queued_jobs", "max_shots_per_job", "max_circuits_per_job",
        "created_at",
    ]  # fmt: skip
    search_fields = ["slug", "name", "^project_id"]
    inlines = [ProjectMembershipInline]
    actions = ["rotate_secret"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_members=Count("memberships"))

    @admin.display(description="members", ordering="_members")
    def member_count(self, obj: Project) -> int:
        return obj._members

    def get_fieldsets(self, request, obj=None):
        quotas = ("Quotas", {"fields": ["max_queued_jobs", "max_shots_per_job", "max_circuits_per_job"]})
        if obj is None:
            return [(None, {"fields": ["slug", "name"]}), quotas]
        return [
            (None, {"fields": ["slug", "name", "project_id", "created_at"]}),
            quotas,
            ("Callbacks", {"fields": ["callback_secret"], "description": "Rotate it with the action on the list."}),
        ]

    def get_readonly_fields(self, request, obj=None):
        # The slug names the project in commands and URLs; the secret changes only by rotation.
        return [] if obj is None else ["slug", "project_id", "created_at", "callback_secret"]

    def save_model(self, request, obj, form, change):
        quotas = {
            "max_queued_jobs": obj.max_queued_jobs,
            "max_shots_per_job": obj.max_shots_per_job,
            "max_circuits_per_job": obj.max_circuits_per_job,
        }
        if change:
            project_update(project=obj, name=obj.name, **quotas)
            return
        created = project_create(slug=obj.slug, name=obj.name, **quotas)
        for field in Project._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False

    @admin.action(description="Rotate the callback signing secret of the selected projects", permissions=["change"])
    def rotate_secret(self, request, queryset):
        slugs = []
        for project in queryset:
            project_rotate_secret(project=project)
            slugs.append(project.slug)
        self.message_user(
            request, f"New callback secret for {', '.join(slugs)}; receivers need the new one.", messages.SUCCESS
        )


# --- API tokens ---------------------------------------------------------------------------------


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Listed and revoked only: a token is created (and shown once) by its user or create_token."""

    list_display = [
        "token_prefix", "name", "user", "project", "scope", "created_at", "expires_at", "last_used_at", "revoked_at",
        "active",
    ]  # fmt: skip
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter), ("expires_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user", "project"]
    search_fields = ["prefix", "name", "user__username", "project__slug"]
    fields = [
        "token_prefix", "name", "user", "project", "scope", "created_at", "expires_at", "last_used_at", "revoked_at",
    ]  # fmt: skip
    readonly_fields = fields
    actions = ["revoke"]

    @admin.display(description="token", ordering="prefix")
    def token_prefix(self, obj: ApiToken) -> str:
        return format_html("<code>{}…</code>", obj.prefix)

    @admin.display(boolean=True)
    def active(self, obj: ApiToken) -> bool:
        return obj.is_active()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the page is a read-only view; revoking is the one change

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("projects.change_apitoken")

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke(self, request, queryset):
        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            token_revoke(token=token)
        self.message_user(request, f"Revoked {len(tokens)} token(s).", messages.SUCCESS)
