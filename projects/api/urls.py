"""REST routes of the tenancy app; portal/api_urls.py mounts this router's registry under /api/v1/."""

from rest_framework.routers import SimpleRouter

from projects.api.views import MemberViewSet, ProjectViewSet, TokenViewSet

router = SimpleRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register(r"projects/(?P<project_id>[^/.]+)/members", MemberViewSet, basename="project-member")
router.register("tokens", TokenViewSet, basename="token")
