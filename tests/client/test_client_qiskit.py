"""The qiskit provider against a live portal: backends with their Targets, transpile, run, and
qiskit's own BackendSamplerV2."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import ClassicalRegister, Parameter
from qiskit.primitives import BackendSamplerV2
from qiskit.providers import BackendV2, JobStatus, QiskitBackendNotFoundError

from portal_client import PortalJob, PortalProvider
from portal_client.provider import build_target, circuits_as_qasm


@pytest.fixture
def provider(portal) -> PortalProvider:
    return PortalProvider(portal.url, portal.alice.token)


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def ghz(n: int) -> QuantumCircuit:
    circuit = QuantumCircuit(n, n, name=f"ghz{n}")
    circuit.h(0)
    for qubit in range(n - 1):
        circuit.cx(qubit, qubit + 1)
    circuit.measure(range(n), range(n))
    return circuit


def test_backends_are_the_circuit_backends_with_targets_from_get_backends(provider):
    names = {backend.name for backend in provider.backends()}
    assert {"aer_simulator", "aer_noisy", "dummy"} <= names and "qubo_sa" not in names
    noisy = provider.get_backend("aer_noisy")
    assert isinstance(noisy, BackendV2)
    assert noisy.num_qubits == 32
    assert set(noisy.operation_names) >= {"cx", "id", "rz", "sx", "x", "measure"}
    assert "h" not in noisy.operation_names
    assert noisy.max_circuits == provider.client.get_backend("aer_noisy")["max_circuits"]
    assert provider.backends(status="online")
    with pytest.raises(QiskitBackendNotFoundError):
        provider.get_backend("qubo_sa")


def test_target_follows_a_coupling_map():
    target = build_target({"name": "line", "max_qubits": 3, "basis_gates": ["cx", "rz", "sx", "x"],
                           "coupling_map": [[0, 1], [1, 2]], "code_types": ["qasm2"]})  # fmt: skip
    assert set(target.build_coupling_map().get_edges()) == {(0, 1), (1, 2)}
    circuit = QuantumCircuit(3)
    circuit.cx(0, 2)
    mapped = transpile(circuit, target=target, seed_transpiler=1)
    assert all(
        (mapped.find_bit(i.qubits[0]).index, mapped.find_bit(i.qubits[1]).index) in {(0, 1), (1, 2)}
        for i in mapped.data
        if i.operation.num_qubits == 2
    )


def test_transpile_and_run_bell_on_the_noisy_backend(provider):
    backend = provider.get_backend("aer_noisy")
    circuit = transpile(bell(), backend, seed_transpiler=1)
    assert set(circuit.count_ops()) <= {"cx", "id", "rz", "sx", "x", "measure", "barrier"}
    job = backend.run(circuit, shots=2000, seed_simulator=11)
    assert isinstance(job, PortalJob) and job.backend() is backend
    counts = job.result(timeout=60).get_counts()
    assert counts["00"] + counts["11"] > 1800  # noise leaves a few 01 and 10
    assert job.status() is JobStatus.DONE


def test_run_several_circuits_answers_counts_per_circuit_by_name(provider):
    backend = provider.get_backend("aer_simulator")
    circuits = [bell(), ghz(3)]
    result = backend.run(circuits, shots=300).result(timeout=60)
    assert set(result.get_counts("bell")) == {"00", "11"}
    assert set(result.get_counts(circuits[1])) == {"000", "111"}
    assert result.results[1].header["name"] == "ghz3"


def test_registers_come_back_as_qiskit_prints_them(provider):
    low, high = ClassicalRegister(1, "low"), ClassicalRegister(2, "high")
    circuit = QuantumCircuit(2, name="two-registers")
    circuit.add_register(low)
    circuit.add_register(high)
    circuit.x(1)
    circuit.measure(0, low[0])
    circuit.measure(1, high[1])
    counts = provider.get_backend("aer_simulator").run(circuit, shots=10).result(timeout=60).get_counts()
    assert counts == {"10 0": 10}


def test_seed_simulator_makes_runs_repeatable(provider):
    backend = provider.get_backend("aer_simulator")
    first = backend.run(ghz(4), shots=200, seed_simulator=5).result(timeout=60).get_counts()
    again = backend.run(ghz(4), shots=200, seed_simulator=5).result(timeout=60).get_counts()
    assert first == again


def test_memory_on_request(provider):
    result = provider.get_backend("aer_simulator").run(bell(), shots=20, memory=True).result(timeout=60)
    memory = result.get_memory()
    assert len(memory) == 20 and set(memory) <= {"00", "11"}


def test_run_options_reach_the_job(provider):
    backend = provider.get_backend("dummy")
    job = backend.run(bell(), shots=10, job_priority=2, tags=["qiskit"], job_name="from qiskit", dry_run=True)
    job.wait_for_final_state(timeout=60)
    data = job.refresh()
    assert (data["job_priority"], data["tags"]) == (2, ["qiskit"])
    assert (data["job_name"], data["dry_run"]) == ("from qiskit", True)
    with pytest.raises(TypeError):
        backend.run(bell(), not_an_option=1)


def test_classical_control_goes_as_openqasm_3(provider):
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)):
        circuit.x(1)
    circuit.measure(1, 1)
    assert circuits_as_qasm([circuit])[0] == "qasm3"
    backend = provider.get_backend("aer_simulator")
    job = backend.run(transpile(circuit, backend), shots=400)
    assert job.refresh()["code_type"] == "qasm3"
    assert set(job.result(timeout=60).get_counts()) == {"00", "11"}


def test_backend_sampler_v2_gives_the_right_distributions(provider):
    backend = provider.get_backend("aer_simulator")
    theta = Parameter("θ")
    rotation = QuantumCircuit(1)
    rotation.ry(theta, 0)
    rotation.measure_all()
    sampler = BackendSamplerV2(backend=backend, options={"default_shots": 4000, "seed_simulator": 3})
    pubs = [transpile(bell(), backend), (transpile(rotation, backend), [[0.0], [3.141592653589793], [1.5707963]])]
    bell_result, rotation_result = sampler.run(pubs).result()
    bell_counts = bell_result.data.meas.get_counts()
    assert set(bell_counts) == {"00", "11"} and abs(bell_counts["00"] - 2000) < 200
    zero, pi, half = (rotation_result.data.meas[i].get_counts() for i in range(3))
    assert zero == {"0": 4000} and pi == {"1": 4000}
    assert abs(half.get("1", 0) - 2000) < 200


def test_circuit_without_classical_bits_counts_every_qubit(provider):
    circuit = QuantumCircuit(2, name="unmeasured")
    circuit.h(0)
    circuit.cx(0, 1)
    counts = provider.get_backend("aer_simulator").run(circuit, shots=100).result(timeout=60).get_counts("unmeasured")
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 100


def test_unbound_parameters_are_refused_before_sending(provider):
    circuit = QuantumCircuit(1, 1)
    circuit.rx(Parameter("t"), 0)
    circuit.measure(0, 0)
    with pytest.raises(ValueError, match="assign_parameters"):
        provider.get_backend("aer_simulator").run(circuit)
    assert provider.client.get_jobs() == []


def test_qiskit_experiments_runs_on_a_backend_as_it_is(provider):
    """qiskit-experiments' default path, ``exp.run(backend)``, sends meas_level=2 (classified counts,
    what the portal answers): a readout-error experiment runs and its analysis succeeds."""
    from qiskit_experiments.library import LocalReadoutError

    ideal, noisy = provider.get_backend("aer_simulator"), provider.get_backend("aer_noisy")
    matrices = {}
    for backend in (ideal, noisy):
        data = LocalReadoutError(physical_qubits=[0, 1]).run(backend, shots=512, seed_simulator=7).block_for_results()
        assert data.analysis_status().name == "DONE", data.analysis_errors()
        mitigator = data.analysis_results("Local Readout Mitigator", dataframe=False).value
        matrices[backend.name] = mitigator.assignment_matrix()
    assert np.array_equal(matrices["aer_simulator"], np.eye(4))  # an ideal readout
    assert 0 < 1 - np.diag(matrices["aer_noisy"]).min() < 0.2  # the device-like model's readout error


@pytest.mark.parametrize("level", [0, 1])
def test_kerneled_and_raw_measurement_levels_are_refused_clearly(provider, level):
    """Levels 0 (raw) and 1 (kerneled IQ) need a device's measurement signal; the portal answers
    classified counts only, and says so before sending anything."""
    with pytest.raises(ValueError, match="meas_level=2"):
        provider.get_backend("aer_simulator").run(bell(), meas_level=level)
