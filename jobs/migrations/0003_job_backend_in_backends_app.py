"""Job.backend points at the Backend model in its new app; the table, and so the column and its
constraint, are the same, so only the state changes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0002_callbacks"),
        ("backends", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="job",
                    name="backend",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="jobs", to="backends.backend"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
