"""Fill Project.active_jobs from the jobs as they stand (kept by the state machine from here on)."""

from django.db import migrations
from django.db.models import Count

ACTIVE = ["QUEUED", "RUNNING", "CANCELLING"]


def count_active_jobs(apps, schema_editor):
    Job = apps.get_model("jobs", "Job")
    Project = apps.get_model("projects", "Project")
    counts = Job.objects.filter(status__in=ACTIVE).values("project_id").annotate(n=Count("job_id"))
    for row in counts:
        Project.objects.filter(pk=row["project_id"]).update(active_jobs=row["n"])


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0005_job_user_status_index"),
        ("projects", "0004_project_active_jobs"),
    ]

    operations = [migrations.RunPython(count_active_jobs, migrations.RunPython.noop)]
