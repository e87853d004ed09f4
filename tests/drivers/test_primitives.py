"""The Aer driver's primitives called directly (no queue, no worker): PUBs run with Aer's SamplerV2 and
EstimatorV2, checked against qiskit's statevector primitives; dry runs; a PUB that fails fails its entry."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, qasm3
from qiskit.circuit import Parameter
from qiskit.primitives import StatevectorEstimator, StatevectorSampler
from qiskit.quantum_info import SparsePauliOp

from backends.models import Backend
from drivers import primitives
from drivers.base import DriverJob, EntryResult
from drivers.errors import INVALID_PAYLOAD, PARSE_ERROR
from drivers.registry import get_driver

JOB = "5d0c3f4e-8a0b-4c55-9d0e-2f1b8a7c6e01"
THETA = Parameter("theta")
OBSERVABLES = [{"ZZ": 1.0}, {"XX": 0.5, "IZ": 0.5}]
VALUES_31 = [[[0.3]], [[1.1]], [[2.5]]]  # parameter shape (3, 1), one parameter
ALL_STAGES = frozenset({"driver:parse", "driver:transpile", "driver:run"})


def ry_cx() -> QuantumCircuit:
    """RY(theta) on qubit 0, then CX(0, 1): no measurements (the estimator's)."""
    circuit = QuantumCircuit(2)
    circuit.ry(THETA, 0)
    circuit.cx(0, 1)
    return circuit


def two_registers() -> QuantumCircuit:
    """RY(theta), CX, H on qubit 1; measured into ``a`` (qubit 0) and ``b`` (bit j = qubit j)."""
    a, b = ClassicalRegister(1, "a"), ClassicalRegister(2, "b")
    circuit = QuantumCircuit(QuantumRegister(2, "q"), a, b)
    circuit.ry(THETA, 0)
    circuit.cx(0, 1)
    circuit.h(1)
    circuit.measure(0, a[0])
    circuit.measure([0, 1], [b[0], b[1]])
    return circuit


@pytest.fixture
def backend(db) -> Backend:
    return Backend.objects.get(name="dummy")


def run_entries(backend: Backend, job_type: str, pubs: list, **fields: Any) -> list[EntryResult]:
    """Run a primitive job of ``pubs`` on ``backend``; its entries in PUB order, each reported once."""
    fields = {"job_id": JOB, "code_type": "qasm3", "shots": 200, "job_type": job_type, "source_code": pubs, **fields}
    reported: list[tuple[int, EntryResult]] = []
    get_driver("aer").run(backend, DriverJob(**fields), lambda index, entry: reported.append((index, entry)))
    assert sorted(index for index, _ in reported) == list(range(len(pubs)))
    return [entry for _, entry in sorted(reported, key=lambda pair: pair[0])]


def estimator_pub(**fields: Any) -> dict[str, Any]:
    return {"circuit": qasm3.dumps(ry_cx()), "observables": OBSERVABLES, "parameter_values": VALUES_31, **fields}


def sampler_pub(**fields: Any) -> dict[str, Any]:
    return {"circuit": qasm3.dumps(two_registers()), "parameter_values": [[0.4], [2.0]], "shots": 500, **fields}


def exact_evs() -> np.ndarray:
    observables = [SparsePauliOp.from_list(list(o.items())) for o in OBSERVABLES]
    circuit = qasm3.loads(qasm3.dumps(ry_cx()))
    return StatevectorEstimator().run([(circuit, observables, np.array(VALUES_31))]).result()[0].data.evs


# --- Estimator ------------------------------------------------------------------------------------


def test_estimator_matches_the_statevector_estimator(backend):
    """Observables (2,) broadcast against values (3, 1): evs of shape (3, 2) equal to qiskit's exact ones."""
    (entry,) = run_entries(backend, "estimator", [estimator_pub(precision=None)], profiling=ALL_STAGES)
    assert entry.status == "COMPLETED", entry.error
    result = entry.results
    assert result["shape"] == [3, 2] and result["precision"] == 0.0
    assert np.allclose(result["evs"], exact_evs(), atol=1e-6)
    assert np.array(result["stds"]).shape == (3, 2)
    assert entry.metadata["primitive"] == "estimator" and entry.num_qubits == 2
    assert set(entry.profiling) == ALL_STAGES


def test_estimator_precision_is_reproducible_with_seed_simulator(backend):
    """precision > 0 gives stds of that precision, evs near the exact ones, the same for the same seed."""
    pub = estimator_pub(precision=0.01)
    runs = [run_entries(backend, "estimator", [pub], driver_options={"seed_simulator": 7})[0] for _ in range(2)]
    first, second = (entry.results for entry in runs)
    assert first == second
    assert np.allclose(first["stds"], 0.01) and first["precision"] == 0.01
    assert np.allclose(first["evs"], exact_evs(), atol=0.08)


def test_a_zero_dimensional_estimator_pub_answers_plain_numbers(backend):
    """One observable, a flat list of values: shape (), evs and stds plain numbers."""
    pub = {"circuit": qasm3.dumps(ry_cx()), "observables": {"ZZ": 1.0}, "parameter_values": [0.7]}
    (entry,) = run_entries(backend, "estimator", [pub])
    assert entry.results["shape"] == [] and isinstance(entry.results["evs"], float)
    assert entry.results["evs"] == pytest.approx(1.0)


def test_observables_follow_the_transpiled_layout(backend):
    """On a coupling map that routes the circuit onto other qubits, the evs are still qiskit's."""
    options = {"coupling_map": [[2, 1], [1, 0]], "seed_transpiler": 3}
    (entry,) = run_entries(backend, "estimator", [estimator_pub()], transpiler_options=options)
    assert entry.status == "COMPLETED", entry.error
    assert np.allclose(entry.results["evs"], exact_evs(), atol=1e-6)


def test_estimator_runs_with_the_noisy_backend(db):
    """aer_noisy's noise model lowers <ZZ> below its ideal 1 (every value still in [-1, 1])."""
    noisy = Backend.objects.get(name="aer_noisy")
    pub = {"circuit": qasm3.dumps(ry_cx()), "observables": [{"ZZ": 1.0}], "parameter_values": [[0.0]]}
    (entry,) = run_entries(noisy, "estimator", [pub], driver_options={"seed_simulator": 1})
    assert entry.status == "COMPLETED", entry.error
    assert 0.9 < entry.results["evs"][0] < 1.0, entry.results


# --- Sampler --------------------------------------------------------------------------------------


def test_sampler_answers_every_register_within_shot_noise(backend):
    """Two registers, values of shape (2,), 500 shots: samples [2, 500] per register, distributed as
    StatevectorSampler's exact probabilities within 5 sigma."""
    (entry,) = run_entries(backend, "sampler", [sampler_pub()], driver_options={"seed_simulator": 11})
    assert entry.status == "COMPLETED", entry.error
    result = entry.results
    assert (result["shape"], result["shots"]) == ([2], 500)
    assert list(result["registers"]) == ["a", "b"]
    assert [result["registers"][name]["num_bits"] for name in "ab"] == [1, 2]
    circuit = qasm3.loads(sampler_pub()["circuit"])
    reference = StatevectorSampler(seed=5).run([(circuit, np.array([[0.4], [2.0]]), 100_000)]).result()[0].data
    for name in ("a", "b"):
        samples = np.array(result["registers"][name]["samples"])
        assert samples.shape == (2, 500)
        for row in range(2):
            counts = getattr(reference, name)[row].get_int_counts()
            for value in range(2 ** result["registers"][name]["num_bits"]):
                p = counts.get(value, 0) / 100_000
                seen = np.mean([int(text, 16) == value for text in samples[row]])
                assert abs(seen - p) <= 5 * np.sqrt(max(p * (1 - p), 1e-4) / 500) + 0.01, (name, row, value)


def test_sampler_shots_default_to_the_jobs_and_seed_reproduces(backend):
    """A PUB with shots null samples the job's shots; the same seed_simulator, the same samples."""
    pub = sampler_pub(shots=None)
    runs = [run_entries(backend, "sampler", [pub], driver_options={"seed_simulator": 3})[0] for _ in range(2)]
    assert runs[0].results == runs[1].results
    assert runs[0].results["shots"] == 200
    assert np.array(runs[0].results["registers"]["b"]["samples"]).shape == (2, 200)


def test_a_sampler_pub_without_parameters(backend):
    """A fixed circuit (parameter_values null): shape [], samples [shots]; X on both qubits reads 0x3."""
    circuit = QuantumCircuit(2, 2)
    circuit.x([0, 1])
    circuit.measure([0, 1], [0, 1])
    (entry,) = run_entries(backend, "sampler", [{"circuit": qasm3.dumps(circuit), "parameter_values": None}])
    assert entry.results["shape"] == []
    assert set(entry.results["registers"]["c"]["samples"]) == {"0x3"}


# --- Dry runs and failures -------------------------------------------------------------------------


def test_dry_runs_answer_the_contracts_shapes(backend):
    """dry_run: random evs in [-1, 1] with stds 0, random samples; metadata.dry_run; still transpiled."""
    estimate, sample = (
        run_entries(backend, kind, [pub], dry_run=True, profiling=ALL_STAGES)[0]
        for kind, pub in (("estimator", estimator_pub()), ("sampler", sampler_pub()))
    )
    assert estimate.metadata["dry_run"] is True and sample.metadata["dry_run"] is True
    assert np.array(estimate.results["evs"]).shape == (3, 2)
    assert np.all(np.abs(estimate.results["evs"]) <= 1) and not np.any(estimate.results["stds"])
    assert np.array(sample.results["registers"]["b"]["samples"]).shape == (2, 500)
    assert "driver:transpile" in estimate.profiling and estimate.transpiled


def test_a_failing_pub_fails_its_entry_only(backend):
    """An unparsable circuit is -102, a refused include -102, wrong values -101; the good PUB runs."""
    broken = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nfoo q[0];\n'
    hostile = 'OPENQASM 3.0;\ninclude "/etc/passwd";\nqubit[2] q;\n'
    pubs = [
        {"circuit": broken, "observables": {"ZZ": 1.0}},
        {"circuit": hostile, "observables": {"ZZ": 1.0}},
        estimator_pub(parameter_values=[[0.1, 0.2]]),
        estimator_pub(),
    ]
    entries = run_entries(backend, "estimator", pubs)
    assert [entry.status for entry in entries] == ["FAILED"] * 3 + ["COMPLETED"]
    assert [entry.error["code"] for entry in entries[:3]] == [PARSE_ERROR, PARSE_ERROR, INVALID_PAYLOAD]
    assert "parameter_values" in entries[2].error["message"]


def test_the_drawings_read_the_pubs_circuits(backend):
    """draw() finds each PUB's circuit in its object."""
    job = DriverJob(job_id=JOB, code_type="qasm3", source_code=[estimator_pub()], shots=1, job_type="estimator")
    drawings = get_driver("aer").draw(backend, job, [None])
    assert drawings[0].stage == "submitted" and drawings[0].svg


# --- Reading PUBs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pub", "field"),
    [
        ({"circuit": 3, "observables": {"Z": 1}}, "circuit"),
        ({"circuit": "x", "observables": {"Z": 1}, "shots": 5}, "shots"),
        ({"circuit": "x"}, "observables"),
        ({"circuit": "x", "observables": [{"Z": 1}, [{"Z": 1}]]}, "observables"),
        ({"circuit": "x", "observables": {"ZQ": 1}}, "observables"),
        ({"circuit": "x", "observables": {"Z": "1"}}, "observables"),
        ({"circuit": "x", "observables": {"Z": 10**400}}, "observables"),
        ({"circuit": "x", "observables": {"Z": 1, "ZZ": 1}}, "observables"),
        ({"circuit": "x", "observables": [{"Z": 1}, {"ZZ": 1}]}, "observables"),
        ({"circuit": "x", "observables": [{"Z": 1}] * 2, "parameter_values": [[0.1]] * 3}, "observables"),
        ({"circuit": "x", "observables": {"Z": 1}, "parameter_values": [[0.1], [0.2, 0.3]]}, "parameter_values"),
        ({"circuit": "x", "observables": {"Z": 1}, "parameter_values": [True]}, "parameter_values"),
        ({"circuit": "x", "observables": {"Z": 1}, "parameter_values": ["0.1"]}, "parameter_values"),
        ({"circuit": "x", "observables": {"Z": 1}, "precision": -1}, "precision"),
        ({"circuit": "x", "observables": {"Z": 1}, "precision": 10**400}, "precision"),
        ({"circuit": "x", "observables": {"Z": 1}, "parameter_values": [10**400]}, "parameter_values"),
        ({"circuit": "x", "observables": {"Z": 1}, "parameter_values": 0.5}, "parameter_values"),
    ],
)
def test_read_pub_names_the_field(pub, field):
    """Each malformed estimator PUB is refused naming its field."""
    with pytest.raises(primitives.PubError) as caught:
        primitives.read_pub("estimator", pub)
    assert caught.value.field == field


def test_declared_parameters_are_read_from_qiskits_output():
    """qasm3.dumps' ``input float[64]`` declarations (names beyond ASCII too), sorted as qiskit orders them."""
    circuit = QuantumCircuit(1)
    circuit.rx(Parameter("b"), 0)
    circuit.rz(Parameter("a"), 0)
    circuit.ry(Parameter("φ"), 0)
    source = qasm3.dumps(circuit)
    names = [parameter.name for parameter in qasm3.loads(source).parameters]
    assert primitives.declared_parameters(source) == names == ["a", "b", "φ"]
