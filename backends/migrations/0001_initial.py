"""The Backend model moves from the drivers app to this one: the table and its rows stay as they are
(``drivers_backend``); only Django's picture of which app owns it changes."""

from django.db import migrations, models


def move_content_type(apps, schema_editor):
    # Admin permissions and log entries follow the model instead of pointing at a vanished one.
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label="backends", model="backend").exists():
        content_type.objects.filter(app_label="drivers", model="backend").update(app_label="backends")


def restore_content_type(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="backends", model="backend").update(app_label="drivers")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("drivers", "0003_all_default_backends"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Backend",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.SlugField(max_length=64, unique=True)),
                        ("driver", models.CharField(help_text="Name of a registered driver.", max_length=64)),
                        ("description", models.TextField(blank=True)),
                        ("code_types", models.JSONField(default=list, help_text='Accepted code types, e.g. ["qasm", "qasm2", "qasm3"].')),
                        ("status", models.CharField(choices=[("online", "Online"), ("paused", "Paused (accepts jobs, holds them queued)"), ("offline", "Offline (refuses new jobs)")], default="online", max_length=16)),
                        ("options", models.JSONField(blank=True, default=dict, help_text="Options for the driver (e.g. simulator method).")),
                        ("max_qubits", models.PositiveIntegerField(blank=True, null=True)),
                        ("max_shots", models.PositiveIntegerField(default=100000)),
                        ("max_circuits", models.PositiveIntegerField(default=300)),
                        ("max_variables", models.PositiveIntegerField(blank=True, help_text="Largest QUBO matrix accepted.", null=True)),
                        ("time_limit", models.PositiveIntegerField(default=600, help_text="Seconds a job may run before it fails (-105).")),
                        ("basis_gates", models.JSONField(blank=True, null=True)),
                        ("coupling_map", models.JSONField(blank=True, help_text="Null when all-to-all.", null=True)),
                    ],
                    options={"ordering": ["name"], "db_table": "drivers_backend"},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, restore_content_type),
    ]
