"""The six backends of SPEC §4, with their limits."""

from django.db import migrations

CIRCUITS = ["qasm", "qasm2", "qasm3"]
# 4 GiB of state: a state vector of up to 28 qubits; Clifford circuits (stabilizer method) of
# any width up to max_qubits.
MEMORY = 4096

BACKENDS = [
    {
        "name": "dummy",
        "driver": "aer",
        "description": "Ideal circuit simulator (qiskit-aer); the backend seed 000's examples use.",
        "code_types": CIRCUITS,
        "options": {"method": "automatic", "max_memory_mb": MEMORY},
        "max_qubits": 64,
        "max_shots": 1_000_000,
        "max_circuits": 300,
        "time_limit": 600,
    },
    {
        "name": "aer_simulator",
        "driver": "aer",
        "description": "qiskit-aer AerSimulator; driver_options: method, seed_simulator, memory.",
        "code_types": CIRCUITS,
        "options": {"method": "automatic", "max_memory_mb": MEMORY},
        "max_qubits": 64,
        "max_shots": 1_000_000,
        "max_circuits": 300,
        "time_limit": 600,
    },
    {
        "name": "aer_noisy",
        "driver": "aer",
        "description": (
            "qiskit-aer with a fixed device-like noise model: basis rz/sx/x/cx, depolarizing error 0.1% on "
            "one-qubit gates and 1% on cx, readout error 2% (0->1) and 3% (1->0). Reproducible with seed_simulator."
        ),
        "code_types": CIRCUITS,
        "options": {"method": "automatic", "noise": "device_like", "max_memory_mb": MEMORY},
        "max_qubits": 32,
        "max_shots": 1_000_000,
        "max_circuits": 300,
        "time_limit": 600,
        "basis_gates": ["cx", "id", "rz", "sx", "x"],
    },
    {
        "name": "qubo_sa",
        "driver": "neal",
        "description": "Simulated annealing (dwave-neal); driver_options: num_reads, num_sweeps, seed, top_k.",
        "code_types": ["qubo"],
        "max_variables": 2000,
        "max_circuits": 16,
        "time_limit": 600,
    },
    {
        "name": "tiangong100",
        "driver": "neal",
        "description": "The QUBO backend of seed 000's example: simulated annealing like qubo_sa.",
        "code_types": ["qubo"],
        "max_variables": 2000,
        "max_circuits": 16,
        "time_limit": 600,
    },
    {
        "name": "qubo_exact",
        "driver": "qubo_exact",
        "description": "Exhaustive search over every assignment (up to 24 variables): exact optima, for checking.",
        "code_types": ["qubo"],
        "max_variables": 24,
        "max_circuits": 16,
        "time_limit": 120,
    },
]


def create(apps, schema_editor):
    Backend = apps.get_model("drivers", "Backend")
    for spec in BACKENDS:
        Backend.objects.update_or_create(name=spec["name"], defaults=spec)


def remove(apps, schema_editor):
    Backend = apps.get_model("drivers", "Backend")
    Backend.objects.filter(name__in=["aer_noisy", "qubo_sa", "tiangong100", "qubo_exact"]).delete()


class Migration(migrations.Migration):
    dependencies = [("drivers", "0002_default_backends")]
    operations = [migrations.RunPython(create, remove)]
