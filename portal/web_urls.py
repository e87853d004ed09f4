"""The web portal's addresses. ``/``, ``/jobs/``, ``/jobs/new/``, ``/jobs/<job_id>/`` and
``/projects/<slug>/`` (and ``/backends/<name>/``) are relied on by scripts and bookmarks."""

from django.urls import include, path, register_converter

from backends import web as backends_web
from jobs import web as jobs_web
from portal import web
from projects import web as projects_web


class DrawingStageConverter:
    regex = "submitted|transpiled"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return str(value)


register_converter(DrawingStageConverter, "drawing_stage")

jobs_patterns = (
    [
        path("", jobs_web.job_list, name="list"),
        path("new/", jobs_web.job_new, name="new"),
        path("bulk/", jobs_web.job_bulk, name="bulk"),
        path("<uuid:job_id>/", jobs_web.job_detail, name="detail"),
        path("<uuid:job_id>/cancel/", jobs_web.job_cancel, name="cancel"),
        path("<uuid:job_id>/delete/", jobs_web.job_delete, name="delete"),
        path("<uuid:job_id>/edit/", jobs_web.job_edit, name="edit"),
        path("<uuid:job_id>/circuits/<int:index>/<drawing_stage:stage>.svg", jobs_web.job_drawing, name="drawing"),
        path("<uuid:job_id>/payload.json", jobs_web.job_payload_json, name="payload-json"),
        path("<uuid:job_id>/results.json", jobs_web.job_results_json, name="results-json"),
        path("<uuid:job_id>/results.csv", jobs_web.job_results_csv, name="results-csv"),
    ],
    "jobs",
)

projects_patterns = (
    [
        path("<slug:slug>/", projects_web.project_detail, name="detail"),
        path("<slug:slug>/members/", projects_web.member_add, name="member-add"),
        path("<slug:slug>/members/<str:username>/role/", projects_web.member_role, name="member-role"),
        path("<slug:slug>/members/<str:username>/remove/", projects_web.member_remove, name="member-remove"),
        path("<slug:slug>/tokens/", projects_web.token_new, name="token-new"),
        path("<slug:slug>/tokens/created/", projects_web.token_created, name="token-created"),
        path("<slug:slug>/tokens/<int:token_id>/revoke/", projects_web.token_revoke_view, name="token-revoke"),
        path("<slug:slug>/secret/rotate/", projects_web.secret_rotate, name="secret-rotate"),
        path("<slug:slug>/quotas/", projects_web.quotas_update, name="quotas"),
    ],
    "projects",
)

backends_patterns = (
    [
        path("", backends_web.backend_list, name="list"),
        path("<slug:name>/", backends_web.backend_detail, name="detail"),
    ],
    "backends",
)

urlpatterns = [
    path("", web.dashboard, name="dashboard"),
    path("backends/", include(backends_patterns)),
    path("jobs/", include(jobs_patterns)),
    path("projects/", include(projects_patterns)),
]
