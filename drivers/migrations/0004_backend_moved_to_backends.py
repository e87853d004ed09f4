"""The Backend model now belongs to the backends app (backends/migrations/0001_initial.py); its table
stays. This removes it from the drivers app's state only, once nothing points at it any more."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("drivers", "0003_all_default_backends"),
        ("jobs", "0003_job_backend_in_backends_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="Backend")], database_operations=[]),
    ]
