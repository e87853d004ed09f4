"""The operators' pages under /ops/ (staff only): see portal/ops.py."""

from django.urls import path

from portal import ops

app_name = "ops"

urlpatterns = [
    path("", ops.dashboard, name="dashboard"),
    path("backends/<str:name>/status/", ops.backend_status, name="backend-status"),
    path("jobs/requeue/", ops.jobs_requeue, name="jobs-requeue"),
    path("jobs/<str:job_id>/force-stop/", ops.job_force_stop_view, name="job-force-stop"),
    path("timeslots/book/", ops.timeslot_book_view, name="timeslot-book"),
    path("timeslots/<uuid:timeslot_id>/cancel/", ops.timeslot_cancel_view, name="timeslot-cancel"),
]
