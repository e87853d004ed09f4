"""REST views of the tenancy app: the caller's projects, their members, the caller's API tokens."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from core.exceptions import InvalidParams, NotFound, PermissionDenied
from core.validation import parse_uuid, validate
from projects import services
from projects.api.serializers import (
    MemberCreateSerializer,
    MemberRoleSerializer,
    MemberSerializer,
    ProjectPatchSerializer,
    ProjectSerializer,
    TokenCreatedSerializer,
    TokenCreateSerializer,
    TokenSerializer,
)
from projects.models import ApiToken, Membership, Project
from projects.permissions import annotate_caller_role, bound_project_id, is_project_admin
from projects.selectors import project_get_for_user, projects_for_user, tokens_for_user, user_get_by_username

_NOT_FOUND = OpenApiResponse(description="No such project, or not one of the caller's.")
_FORBIDDEN = OpenApiResponse(description="permission_denied: the caller is a member but not an admin.")


@extend_schema_view(
    list=extend_schema(summary="The caller's projects (operators: every project)"),
    retrieve=extend_schema(summary="One of the caller's projects", responses={200: ProjectSerializer, 404: _NOT_FOUND}),
    partial_update=extend_schema(
        summary="Rename a project or change its quotas (project admins)",
        request=ProjectPatchSerializer,
        responses={200: ProjectSerializer, 403: _FORBIDDEN, 404: _NOT_FOUND},
    ),
)
class ProjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Project.objects.none()  # the model, for the schema; get_queryset scopes to the caller
    serializer_class = ProjectSerializer
    lookup_field = "project_id"

    def get_queryset(self):
        user = self.request.user
        return annotate_caller_role(projects_for_user(user), user).prefetch_related(
            Prefetch("memberships", queryset=Membership.objects.select_related("user").order_by("user__username"))
        )

    def partial_update(self, request, project_id):
        project = self.get_object()
        if not is_project_admin(request.user, project):
            raise PermissionDenied("Only the project's admins may change it.")
        services.project_update(project=project, **validate(ProjectPatchSerializer, request.data))
        return Response(ProjectSerializer(self.get_object()).data)


_PROJECT_ID = OpenApiParameter("project_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
_USERNAME = OpenApiParameter("username", OpenApiTypes.STR, OpenApiParameter.PATH)


@extend_schema_view(
    list=extend_schema(summary="A project's members (any member)", parameters=[_PROJECT_ID]),
    retrieve=extend_schema(
        summary="One member", parameters=[_PROJECT_ID, _USERNAME], responses={200: MemberSerializer, 404: _NOT_FOUND}
    ),
    create=extend_schema(
        summary="Add a user (or change a member's role): project admins",
        parameters=[_PROJECT_ID],
        request=MemberCreateSerializer,
        responses={201: MemberSerializer, 200: MemberSerializer, 403: _FORBIDDEN, 404: _NOT_FOUND},
    ),
    partial_update=extend_schema(
        summary="Change a member's role: project admins",
        parameters=[_PROJECT_ID, _USERNAME],
        request=MemberRoleSerializer,
        responses={200: MemberSerializer, 403: _FORBIDDEN, 404: _NOT_FOUND},
    ),
    destroy=extend_schema(
        summary="Take a member out of the project (their jobs stay): project admins",
        parameters=[_PROJECT_ID, _USERNAME],
        responses={204: None, 403: _FORBIDDEN, 404: _NOT_FOUND},
    ),
)
class MemberViewSet(viewsets.GenericViewSet):
    """Members read the list; the project's admins (and operators) manage it. Someone else's project
    is not found, whatever the method."""

    queryset = Membership.objects.none()
    serializer_class = MemberSerializer
    lookup_field = "username"
    lookup_value_regex = "[^/]+"

    def get_serializer_class(self):
        return {"create": MemberCreateSerializer, "partial_update": MemberRoleSerializer}.get(
            self.action, MemberSerializer
        )

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.project = project_get_for_user(request.user, parse_uuid(kwargs["project_id"], "Project"))
        if request.method not in ("GET", "HEAD", "OPTIONS") and not is_project_admin(request.user, self.project):
            raise PermissionDenied("Only the project's admins may manage its members.")

    def get_queryset(self):
        return Membership.objects.filter(project=self.project).select_related("user").order_by("user__username")

    def get_object(self) -> Membership:
        membership = self.get_queryset().filter(user__username=self.kwargs["username"]).first()
        if membership is None:
            raise NotFound(f"{self.kwargs['username']} is not a member of {self.project.slug}.")
        return membership

    def list(self, request, project_id):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(MemberSerializer(page, many=True).data)

    def retrieve(self, request, project_id, username):
        return Response(MemberSerializer(self.get_object()).data)

    def create(self, request, project_id):
        data = validate(MemberCreateSerializer, request.data)
        try:
            user = user_get_by_username(data["username"])
        except NotFound as exc:
            raise InvalidParams.field("username", "no user of that name") from exc
        existed = self.get_queryset().filter(user=user).exists()
        membership = services.membership_set(project=self.project, user=user, role=data["role"])
        answer = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(MemberSerializer(membership).data, status=answer)

    def partial_update(self, request, project_id, username):
        membership = self.get_object()
        data = validate(MemberRoleSerializer, request.data)
        if "role" in data:
            membership = services.membership_set(project=self.project, user=membership.user, role=data["role"])
        return Response(MemberSerializer(membership).data)

    def destroy(self, request, project_id, username):
        services.membership_remove(project=self.project, user=self.get_object().user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="The caller's API tokens, without their secrets"),
    retrieve=extend_schema(summary="One of the caller's API tokens"),
    create=extend_schema(
        summary="Create an API token; the answer is the only time it is shown",
        request=TokenCreateSerializer,
        responses={201: TokenCreatedSerializer},
    ),
    destroy=extend_schema(summary="Revoke a token, effective for the very next request", responses={204: None}),
)
class TokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's own tokens; anyone else's is not found."""

    queryset = ApiToken.objects.none()
    serializer_class = TokenSerializer

    def get_serializer_class(self):
        return TokenCreateSerializer if self.action == "create" else TokenSerializer

    def get_queryset(self):
        return tokens_for_user(self.request.user)

    def create(self, request):
        data = validate(TokenCreateSerializer, request.data)
        if data.get("project_id"):
            project = project_get_for_user(request.user, data["project_id"])
        else:  # a project-bound token makes tokens of its own project (SPEC §7); others, unbound ones
            project = request.auth.project if bound_project_id(request.user) is not None else None
        token, raw = services.token_create(
            user=request.user,
            project=project,
            scope=data["scope"],
            expires_at=data.get("expires_at"),
            name=data["name"],
            requested_by=request.user,
        )
        token.token = raw
        return Response(TokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk):
        services.token_revoke(token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
