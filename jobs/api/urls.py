"""REST routes of jobs; portal/api_urls.py mounts this router's registry under /api/v1/."""

from rest_framework.routers import SimpleRouter

from jobs.api.views import JobViewSet

router = SimpleRouter()
router.register("jobs", JobViewSet, basename="job")
