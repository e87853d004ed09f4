"""The callback models move from the jobs app to this one: their tables (``jobs_callbackdelivery``,
``jobs_callbackattempt``), rows and index stay as they are; only Django's picture of which app owns
them changes."""

import uuid

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

MODELS = ("callbackdelivery", "callbackattempt")


def move_content_types(apps, schema_editor):
    # Admin permissions and log entries follow the models instead of pointing at vanished ones.
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if not content_type.objects.filter(app_label="webhooks", model=model).exists():
            content_type.objects.filter(app_label="jobs", model=model).update(app_label="webhooks")


def restore_content_types(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="webhooks", model__in=MODELS).update(app_label="jobs")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("jobs", "0004_callbacks_moved_to_webhooks"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CallbackDelivery",
                    fields=[
                        ("delivery_id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ("callback_index", models.PositiveSmallIntegerField()),
                        ("name", models.CharField(max_length=100)),
                        ("type", models.CharField(choices=[("results", "Results"), ("status", "Status")], max_length=16)),
                        ("method", models.CharField(max_length=8)),
                        ("url", models.CharField(max_length=2000)),
                        ("event", models.CharField(max_length=32)),
                        ("job_status", models.CharField(choices=[("UNKNOWN", "Unknown"), ("QUEUED", "Queued"), ("RUNNING", "Running"), ("FAILED", "Failed"), ("COMPLETED", "Completed"), ("CANCELLING", "Cancelling"), ("CANCELLED", "Cancelled"), ("DELETED", "Deleted")], help_text="The status it reports.", max_length=16)),
                        ("body", models.TextField(blank=True, default="")),
                        ("status", models.CharField(choices=[("pending", "Pending"), ("delivered", "Delivered"), ("failed", "Failed"), ("refused", "Refused")], db_index=True, default="pending", max_length=16)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("max_attempts", models.PositiveSmallIntegerField(default=1)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("job", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="callback_deliveries", to="jobs.job")),
                    ],
                    options={
                        "ordering": ["created_at", "callback_index"],
                        "db_table": "jobs_callbackdelivery",
                        "indexes": [models.Index(fields=["job", "created_at"], name="delivery_job_created")],
                    },
                ),
                migrations.CreateModel(
                    name="CallbackAttempt",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("status_code", models.PositiveSmallIntegerField(blank=True, null=True)),
                        ("error", models.TextField(blank=True, default="")),
                        ("duration", models.FloatField(default=0.0, help_text="Seconds.")),
                        ("delivery", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="attempt_log", to="webhooks.callbackdelivery")),
                    ],
                    options={"ordering": ["at", "id"], "db_table": "jobs_callbackattempt"},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, restore_content_types),
    ]
