"""The web pages of jobs, mounted at /jobs/ (portal/web_urls.py)."""

from django.urls import path

from jobs import web

app_name = "jobs"

urlpatterns = [
    path("", web.job_list, name="list"),
    path("new/", web.job_new, name="new"),
    path("bulk/", web.job_bulk, name="bulk"),
    path("<uuid:job_id>/", web.job_detail, name="detail"),
    path("<uuid:job_id>/cancel/", web.job_cancel, name="cancel"),
    path("<uuid:job_id>/delete/", web.job_delete, name="delete"),
    path("<uuid:job_id>/edit/", web.job_edit, name="edit"),
    path("<uuid:job_id>/results.json", web.job_results_json, name="results-json"),
    path("<uuid:job_id>/results.csv", web.job_results_csv, name="results-csv"),
]
