"""REST routes of backends; portal/api_urls.py mounts this router's registry under /api/v1/."""

from rest_framework.routers import SimpleRouter

from backends.api.views import BackendViewSet, TimeslotViewSet

router = SimpleRouter()
router.register("backends", BackendViewSet, basename="backend")
router.register("timeslots", TimeslotViewSet, basename="timeslot")
