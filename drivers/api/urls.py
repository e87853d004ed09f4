"""REST routes of backends; portal/api_urls.py mounts this router's registry under /api/v1/."""

from rest_framework.routers import SimpleRouter

from drivers.api.views import BackendViewSet

router = SimpleRouter()
router.register("backends", BackendViewSet, basename="backend")
