"""The REST API under /api/: v1 (browsable), the OpenAPI schema, its docs page, and DRF's login
for the browsable API."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from backends.api.urls import router as backends_router
from jobs.api.urls import router as jobs_router
from portal.rest import BearerTokenScheme  # noqa: F401 -- registers the Bearer scheme with drf-spectacular
from projects.api.urls import router as projects_router

# One router over every app's routes, so /api/v1/ lists them all.
v1 = DefaultRouter()
for app_router in (jobs_router, projects_router, backends_router):
    v1.registry.extend(app_router.registry)

urlpatterns = [
    path("v1/", include((v1.urls, "api"))),
    path("auth/", include("rest_framework.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
