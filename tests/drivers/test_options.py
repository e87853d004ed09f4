"""Job options end to end through JSON-RPC and a real worker (SPEC §3, §4): noise, dry runs,
estimates, memory, aggregation, seeds, limits and per-entry failures."""

from __future__ import annotations

import pytest

from backends.models import Backend
from backends.selectors import backend_get
from backends.services import backend_set_status
from jobs.models import Job
from tests.conftest import error_of, result_of
from tests.factories import BELL, BELL_QASM3

pytestmark = pytest.mark.django_db

GHZ3 = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\n'
    "measure q -> c;\n"
)
# chi-square critical value for 1 degree of freedom at p = 0.001
CHI2_1DOF_P001 = 10.83


@pytest.fixture
def run(rpc, submit, tenant, run_worker):
    """Submit with the given fields, run a worker, answer get_job_results."""

    def run_job(**fields):
        job = submit(tenant, **fields)
        run_worker()
        return result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))

    return run_job


def test_ghz_counts_match_ideal_distribution(run):
    """GHZ on the ideal simulator: only 000 and 111, with frequencies a chi-square test accepts."""
    counts = run(source_code=[GHZ3], shots=4000, driver_options={"seed_simulator": 11})["results"][0]["results"]
    assert set(counts) == {"000", "111"}
    expected = 4000 / 2
    chi2 = sum((counts[k] - expected) ** 2 / expected for k in ("000", "111"))
    assert chi2 < CHI2_1DOF_P001


def test_noisy_backend_differs_from_ideal(run):
    """aer_noisy's device-like noise puts counts on states the ideal GHZ never shows."""
    noisy = run(source_code=[GHZ3], shots=4000, backend="aer_noisy", driver_options={"seed_simulator": 5})
    counts = noisy["results"][0]["results"]
    wrong = sum(v for k, v in counts.items() if k not in ("000", "111"))
    assert wrong > 4000 * 0.01
    assert counts["000"] + counts["111"] > 4000 * 0.8


def test_noisy_backend_reproducible_with_seed(run):
    """The same seed_simulator gives the same noisy counts."""
    first = run(source_code=[GHZ3], backend="aer_noisy", driver_options={"seed_simulator": 3})["results"][0]
    second = run(source_code=[GHZ3], backend="aer_noisy", driver_options={"seed_simulator": 3})["results"][0]
    assert first["results"] == second["results"]
    assert first["metadata"]["seed_simulator"] == 3


def test_noisy_backend_reports_its_basis(rpc, tenant):
    """get_backends shows aer_noisy's basis gates and every default backend of SPEC §4."""
    backends = {b["name"]: b for b in result_of(rpc("get_backends", {}, who=tenant))}
    assert set(backends) >= {"dummy", "aer_simulator", "aer_noisy", "qubo_sa", "tiangong100", "qubo_exact"}
    assert backends["aer_noisy"]["basis_gates"] == ["cx", "id", "rz", "sx", "x"]
    assert backends["qubo_exact"]["max_variables"] == 24
    assert backends["qubo_sa"]["code_types"] == ["qubo"]


def test_dry_run(run):
    """dry_run: parsed and transpiled for real, counts sampled (not simulated), metadata.dry_run true."""
    job = run(source_code=[GHZ3], shots=500, dry_run=True, profiling=["driver:parse", "driver:transpile"])
    entry = job["results"][0]
    assert entry["metadata"]["dry_run"] is True
    assert sum(entry["results"].values()) == 500
    assert len(set(entry["results"]) - {"000", "111"}) > 0  # not a simulation of GHZ
    assert set(entry["profiling"]) == {"driver:parse", "driver:transpile"}


def test_dry_run_still_reports_parse_errors(run):
    """A dry run parses for real: a broken source fails its entry with -102."""
    job = run(source_code=["OPENQASM 2.0;\nqreg q[2];\nfoo q[0];"], dry_run=True)
    assert job["job_status"] == "FAILED"
    assert job["results"][0]["error"]["code"] == -102


def test_dry_run_runs_while_backend_is_paused(rpc, submit, tenant, run_worker, django_capture_on_commit_callbacks):
    """A dry run never occupies the target backend, so a paused backend does not hold it."""
    with django_capture_on_commit_callbacks(execute=True):
        backend_set_status(backend=backend_get("dummy"), status="paused")
    held = submit(tenant)
    dry = submit(tenant, dry_run=True)
    run_worker()
    assert Job.objects.get(pk=held["job_id"]).status == "QUEUED"
    assert Job.objects.get(pk=dry["job_id"]).status == "COMPLETED"


def test_estimation(run):
    """job_type estimation: no execution; per entry qubits, depth, gate counts, two-qubit gates, seconds."""
    job = run(source_code=[GHZ3, BELL_QASM3], code_type="qasm", job_type="estimation", backend="aer_noisy", shots=1000)
    assert job["job_status"] == "COMPLETED"
    ghz, bell = (entry["results"] for entry in job["results"])
    assert ghz["num_qubits"] == 3 and bell["num_qubits"] == 2
    assert ghz["num_two_qubit_gates"] == 2 and bell["num_two_qubit_gates"] == 1
    assert ghz["gate_counts"]["cx"] == 2
    assert set(ghz["gate_counts"]) <= {"cx", "rz", "sx", "x", "id", "measure", "barrier"}  # transpiled to the basis
    assert ghz["depth"] >= 3
    assert ghz["estimated_seconds"] > bell["estimated_seconds"] > 0
    assert job["results"][0]["metadata"]["job_type"] == "estimation"


def test_memory_gives_one_bitstring_per_shot(run):
    """driver_options.memory adds each shot's bitstring, in shot order, consistent with the counts."""
    entry = run(source_code=[BELL], shots=50, driver_options={"memory": True})["results"][0]
    assert len(entry["memory"]) == 50
    assert {bits: entry["memory"].count(bits) for bits in set(entry["memory"])} == entry["results"]


def test_aggregation_gives_the_same_shape(run):
    """enable_circuit_aggregation runs every entry in one simulator call, results still per entry."""
    from tests.factories import XX

    job = run(source_code=[XX, GHZ3, XX], enable_circuit_aggregation=True, profiling=["driver:run"])
    assert [entry["results"] for entry in job["results"]][0::2] == [{"11": 100}, {"11": 100}]
    assert set(job["results"][1]["results"]) <= {"000", "111"}
    assert all("driver:run" in entry["profiling"] for entry in job["results"])


def test_method_option(run):
    """driver_options.method picks the simulation method, which metadata reports."""
    entry = run(source_code=[BELL], driver_options={"method": "matrix_product_state"})["results"][0]
    assert entry["metadata"]["method"] == "matrix_product_state"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"method": "quantum_magic"}, "driver_options.method"),
        ({"seed_simulator": -1}, "driver_options.seed_simulator"),
        ({"memory": "yes"}, "driver_options.memory"),
        ({"shots_per_second": 3}, "driver_options.shots_per_second"),
    ],
)
def test_bad_driver_options(rpc, tenant, options, field):
    """Driver options are checked at submit: -32602 naming the option."""
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "driver_options": options}
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -32602
    assert error["data"]["errors"][0]["field"] == field


def test_transpiler_options(run):
    """transpiler_options reach the pass manager: a basis and a coupling map the circuit must respect."""
    job = run(
        source_code=[GHZ3],
        transpiler="qiskit",
        transpiler_options={"optimization_level": 3, "seed_transpiler": 1, "basis_gates": ["rz", "sx", "x", "cx"],
                            "coupling_map": [[0, 1], [1, 2]]},
        job_type="estimation",
    )  # fmt: skip
    counts = job["results"][0]["results"]["gate_counts"]
    assert set(counts) <= {"rz", "sx", "x", "cx", "measure", "barrier"}


def test_too_wide_for_statevector_fails_fast(run):
    """A circuit whose state vector exceeds the backend's memory fails its entry -101, naming the limit."""
    wide = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[40];\ncreg c[40];\nh q;\nt q[0];\nmeasure q -> c;\n'
    job = run(source_code=[wide, BELL])
    failed, ok = job["results"]
    assert job["job_status"] == "FAILED"
    assert failed["error"]["code"] == -101
    assert "16.0 TiB" in failed["error"]["message"] and "4.0 GiB" in failed["error"]["message"]
    assert set(ok["results"]) <= {"00", "11"}


def test_wide_clifford_circuit_runs(run):
    """A wide Clifford circuit needs no state vector: the automatic method simulates it."""
    wide = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[40];\ncreg c[40];\nx q;\nmeasure q -> c;\n'
    entry = run(source_code=[wide], shots=10)["results"][0]
    assert entry["results"] == {"1" * 40: 10}
    assert entry["metadata"]["method"] == "stabilizer"


def test_more_qubits_than_backend_takes(run):
    """A circuit wider than the backend's max_qubits fails its entry -101."""
    Backend.objects.filter(name="dummy").update(max_qubits=2)
    job = run(source_code=[GHZ3])
    assert job["results"][0]["error"]["code"] == -101
    assert "at most 2" in job["results"][0]["error"]["message"]


def test_one_failing_entry_keeps_the_others(run):
    """A multi-entry job where one entry fails: the others keep their counts, each entry its own status."""
    from tests.factories import XX

    job = run(source_code=[XX, "OPENQASM 3.0;\nqubit q;\nfoo q;", BELL_QASM3], code_type="qasm")
    assert job["job_status"] == "FAILED"
    first, broken, last = job["results"]
    assert first["results"] == {"11": 100} and first["metadata"]["status"] == "COMPLETED"
    assert broken["error"]["code"] == -102 and broken["metadata"]["status"] == "FAILED"
    assert set(last["results"]) <= {"00", "11"} and last["metadata"]["status"] == "COMPLETED"
    assert job["progress"] == 100


def test_qubo_on_circuit_backend_refused(rpc, tenant):
    """A QUBO for a circuit backend (and a circuit for a QUBO backend) is -400 at submit."""
    qubo = {"code_type": "qubo", "source_code": [[[1, 0], [0, 1]]], "backend": "aer_noisy"}
    circuit = {"code_type": "qasm2", "source_code": [BELL], "backend": "qubo_sa"}
    assert error_of(rpc("submit_job", {"body": qubo}, who=tenant))["code"] == -400
    assert error_of(rpc("submit_job", {"body": circuit}, who=tenant))["code"] == -400
