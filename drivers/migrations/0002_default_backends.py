"""The backends a fresh install has (SPEC §4)."""

from django.db import migrations

CIRCUITS = ["qasm", "qasm2", "qasm3"]

BACKENDS = [
    {
        "name": "dummy",
        "driver": "aer",
        "description": "Ideal circuit simulator (qiskit-aer); the backend seed 000's examples use.",
        "code_types": CIRCUITS,
        "options": {"method": "automatic"},
        "max_qubits": 30,
    },
    {
        "name": "aer_simulator",
        "driver": "aer",
        "description": "qiskit-aer AerSimulator; driver_options: method, seed_simulator, memory.",
        "code_types": CIRCUITS,
        "options": {"method": "automatic"},
        "max_qubits": 30,
    },
]


def create(apps, schema_editor):
    Backend = apps.get_model("drivers", "Backend")
    for spec in BACKENDS:
        Backend.objects.update_or_create(name=spec["name"], defaults=spec)


def remove(apps, schema_editor):
    Backend = apps.get_model("drivers", "Backend")
    Backend.objects.filter(name__in=[spec["name"] for spec in BACKENDS]).delete()


class Migration(migrations.Migration):
    dependencies = [("drivers", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
