"""CallbackDelivery and CallbackAttempt now belong to the webhooks app
(webhooks/migrations/0001_initial.py); their tables and rows stay. This removes them from the jobs
app's state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0003_job_backend_in_backends_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="callbackdelivery", name="delivery_job_created"),
                migrations.DeleteModel(name="CallbackAttempt"),
                migrations.DeleteModel(name="CallbackDelivery"),
            ],
            database_operations=[],
        ),
    ]
