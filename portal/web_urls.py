"""The web portal's addresses. ``/``, ``/jobs/``, ``/jobs/new/``, ``/jobs/<job_id>/`` and
``/projects/<slug>/`` are relied on by scripts and bookmarks."""

from django.urls import include, path

from portal import web

urlpatterns = [
    path("", web.dashboard, name="dashboard"),
    path("jobs/", include("jobs.urls")),
    path("projects/", include("projects.urls")),
]
