from django.contrib import admin
from django.urls import include, path

from portal import jsonrpc, methods
from portal import metrics as prometheus
from portal.sse import job_events, jobs_events

urlpatterns = [
    path("v1/job/<uuid:job_id>/events", job_events, name="job-events"),
    path("v1/jobs/events", jobs_events, name="jobs-events"),
    # QCOS's client posts to /v1/job, the seed's examples to /v1/job/ and /v1/job/<method>.
    path("v1/job", jsonrpc.endpoint),
    path("v1/job/", jsonrpc.endpoint, name="jsonrpc"),
    path("v1/job/<str:method>", jsonrpc.endpoint, name="jsonrpc-method"),
    path("openrpc.json", jsonrpc.openrpc_document, name="openrpc"),
    # The rest of the surface QCOS's client calls (SPEC §12), each URL with its own method table.
    path("version", jsonrpc.endpoint, {"table": methods.VERSION_METHODS}),
    path("v1/auth", jsonrpc.endpoint, {"table": methods.AUTH_METHODS}),
    path("v1/device", jsonrpc.endpoint, {"table": methods.DEVICE_METHODS}),
    path("v1/transpiler", jsonrpc.endpoint, {"table": methods.TRANSPILER_METHODS}),
    path("v1/project", jsonrpc.endpoint, {"table": methods.PROJECT_METHODS}),
    path("v1/metrics", jsonrpc.endpoint, {"table": methods.METRICS_METHODS}),
    path("metrics", prometheus.metrics, name="metrics"),
    path("api/", include("portal.api_urls")),
    path("ops/", include("portal.ops_urls")),
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("portal.web_urls")),
]

# Error pages in the portal's look (templates/404.html, 403.html, 500.html; views in portal/web.py).
handler403 = "portal.web.permission_denied"
handler404 = "portal.web.page_not_found"
handler500 = "portal.web.server_error"
