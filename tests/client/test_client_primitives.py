"""PortalSamplerV2 and PortalEstimatorV2, qiskit's V2 primitives on the portal (issue 17), against a
live portal and a real worker: their results are those of qiskit's StatevectorSampler and
StatevectorEstimator, qiskit-algorithms' VQE runs through them, and refusals come back clearly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import ClassicalRegister, Parameter, ParameterVector, QuantumRegister
from qiskit.primitives import (
    BaseEstimatorV2,
    BasePrimitiveJob,
    BaseSamplerV2,
    BitArray,
    PrimitiveResult,
    PubResult,
    SamplerPubResult,
    StatevectorEstimator,
    StatevectorSampler,
)
from qiskit.providers import JobStatus
from qiskit.quantum_info import SparsePauliOp, Statevector

from portal_client import InvalidParams, JobError, PortalEstimatorV2, PortalSamplerV2

# The hydrogen molecule at 0.735 Å on two qubits (parity mapping, two-qubit reduction).
H2 = SparsePauliOp.from_list(
    [
        ("II", -1.052373245772859),
        ("IZ", 0.39793742484318045),
        ("ZI", -0.39793742484318045),
        ("ZZ", -0.01128010425623538),
        ("XX", 0.18093119978423156),
    ]
)


@pytest.fixture
def estimator(portal) -> PortalEstimatorV2:
    return PortalEstimatorV2(portal.url, portal.alice.token, backend="dummy")


@pytest.fixture
def sampler(portal) -> PortalSamplerV2:
    return PortalSamplerV2(portal.url, portal.alice.token, backend="dummy", seed=1234)


def layered(num_parameters: int) -> QuantumCircuit:
    """Two qubits under ``num_parameters`` rotations from one ParameterVector: past ten of them their
    exported names (``_θ_10_``) no longer sort in the circuit's order, which the values must follow."""
    theta = ParameterVector("θ", num_parameters)
    circuit = QuantumCircuit(2)
    for i, parameter in enumerate(theta):
        (circuit.ry if i % 3 else circuit.rz)(parameter, i % 2)
        if i % 4 == 3:
            circuit.cx(0, 1)
    circuit.h(0)
    return circuit


def test_the_primitives_are_qiskits_v2_primitives(estimator, sampler):
    assert isinstance(estimator, BaseEstimatorV2) and isinstance(sampler, BaseSamplerV2)
    assert estimator.default_precision == 0.0 and sampler.default_shots == 1024


def test_estimator_broadcasts_and_equals_the_statevector_estimator(estimator):
    circuit = layered(11)
    values = np.random.default_rng(7).uniform(-np.pi, np.pi, size=(10, 1, 11))
    observables = [SparsePauliOp.from_list([("XZ", 0.5), ("ZZ", -1.0)]), "IY", SparsePauliOp("XX")]
    plain = QuantumCircuit(2)
    plain.h(0)
    plain.cx(0, 1)
    pubs = [(circuit, observables, values), (plain, "ZZ")]
    job = estimator.run(pubs)
    assert isinstance(job, BasePrimitiveJob) and job.job_id() == job.portal_job.job_id()
    result = job.result(timeout=120)
    expected = StatevectorEstimator().run(pubs).result()
    assert isinstance(result, PrimitiveResult) and len(result) == 2
    assert all(isinstance(pub_result, PubResult) for pub_result in result)
    assert result[0].data.evs.shape == result[0].data.stds.shape == expected[0].data.evs.shape == (10, 3)
    np.testing.assert_allclose(result[0].data.evs, expected[0].data.evs, atol=1e-6)
    assert result[0].data.shape == (10, 3)
    assert result[1].data.evs.shape == () and abs(float(result[1].data.evs) - 1.0) < 1e-6
    assert result[0].metadata["target_precision"] == 0.0
    assert result[0].metadata["portal"]["primitive"] == "estimator"
    assert job.done() and job.status() is JobStatus.DONE and job.in_final_state()
    stored = job.portal_job.data
    assert (stored["code_type"], stored["job_type"]) == ("qasm3", "estimator")


def test_sampler_registers_follow_the_exact_distributions(sampler, api):
    shots = 2000
    a, b = Parameter("a"), Parameter("b")
    qubits, alpha, beta = QuantumRegister(3, "q"), ClassicalRegister(2, "alpha"), ClassicalRegister(1, "beta")
    circuit = QuantumCircuit(qubits, alpha, beta)
    circuit.ry(a, 0)
    circuit.ry(b, 1)
    circuit.cx(1, 2)
    circuit.rx(a + b, 2)
    unmeasured = circuit.copy()
    circuit.measure([0, 1], alpha)
    circuit.measure(2, beta)
    values = np.array([[0.0, 0.0], [np.pi, 0.0], [1.1, 2.3], [-0.4, 2.9]])
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    job = sampler.run([(circuit, values), (bell, None, 100)], shots=shots)
    result = job.result(timeout=120)
    assert isinstance(result, PrimitiveResult) and all(isinstance(r, SamplerPubResult) for r in result)
    data = result[0].data
    reference = StatevectorSampler().run([(circuit, values)], shots=shots).result()[0].data
    assert list(data.keys()) == list(reference.keys()) == ["alpha", "beta"]
    assert isinstance(data.alpha, BitArray) and (data.alpha.num_bits, data.beta.num_bits) == (2, 1)
    assert data.alpha.shape == data.beta.shape == data.shape == (4,) and data.alpha.num_shots == shots
    assert sum(data.alpha.get_counts().values()) == 4 * shots
    for index, point in enumerate(values):
        state = Statevector(unmeasured.assign_parameters(point))
        for register, qargs in ((data.alpha, [0, 1]), (data.beta, [2])):
            counts = register.get_counts(loc=index)
            assert set(counts) <= set(state.probabilities_dict(qargs=qargs))
            for key, p in state.probabilities_dict(qargs=qargs).items():
                assert abs(counts.get(key, 0) - shots * p) <= 5 * math.sqrt(shots * p * (1 - p)) + 1, (index, key)
    assert result[1].data.meas.num_shots == 100 and set(result[1].data.meas.get_counts()) <= {"00", "11"}
    assert result[0].metadata["shots"] == shots and result[0].metadata["portal"]["primitive"] == "sampler"
    # The wire: one job, one PUB per entry, in the contract's fields.
    stored = api.get_job_results(job.job_id())
    assert stored["driver_options"] == {"seed_simulator": 1234}
    assert (stored["code_type"], stored["job_type"], stored["shots"]) == ("qasm3", "sampler", shots)
    assert [set(pub) for pub in stored["source_code"]] == [{"circuit", "parameter_values", "shots"}] * 2
    # Fetched by id, without the circuits: the same results.
    again = sampler.job(job.job_id()).result(timeout=60)
    assert again[0].data.alpha.get_counts(loc=2) == data.alpha.get_counts(loc=2)


def test_register_names_come_back_as_the_circuits_own(sampler):
    """OpenQASM 3 renames a register named like a keyword (``input`` is written ``input_0``)."""
    circuit = QuantumCircuit(QuantumRegister(2, "q"), ClassicalRegister(1, "input"), ClassicalRegister(1, "out"))
    circuit.x(1)
    circuit.measure(0, 0)
    circuit.measure(1, 1)
    data = sampler.run([circuit], shots=10).result(timeout=60)[0].data
    assert list(data.keys()) == ["input", "out"]
    assert data.input.get_counts() == {"0": 10} and data.out.get_counts() == {"1": 10}


def test_estimator_precision_gives_shot_based_estimates(estimator):
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    result = estimator.run([(bell, ["ZZ", "XX", "ZI"])], precision=0.02).result(timeout=60)[0]
    assert result.metadata["target_precision"] == 0.02
    assert result.data.evs.shape == result.data.stds.shape == (3,)
    np.testing.assert_allclose(result.data.evs, [1.0, 1.0, 0.0], atol=0.15)
    assert (result.data.stds > 0).any()


def test_vqe_through_the_estimator_finds_the_ground_energy(estimator):
    from qiskit.circuit.library import real_amplitudes
    from qiskit_algorithms import VQE
    from qiskit_algorithms.optimizers import COBYLA

    ansatz = real_amplitudes(2, reps=1)
    vqe = VQE(estimator, ansatz, optimizer=COBYLA(maxiter=50), initial_point=np.full(ansatz.num_parameters, 0.1))
    found = vqe.compute_minimum_eigenvalue(H2)
    exact = np.linalg.eigvalsh(H2.to_matrix())[0]
    assert abs(found.eigenvalue.real - exact) < 1e-2


def test_a_sampler_pub_without_classical_registers_is_refused_before_sending(sampler, api):
    circuit = QuantumCircuit(2)
    circuit.h(0)
    with pytest.raises(ValueError, match="no classical registers"):
        sampler.run([circuit])
    assert api.get_jobs() == []


def test_what_the_portal_refuses_comes_back_as_its_error(sampler):
    """The backend's shots limit is the portal's to know: its InvalidParams names the PUB's field."""
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    max_shots = sampler.client.get_backend("dummy")["max_shots"]
    with pytest.raises(InvalidParams) as refused:
        sampler.run([(circuit, None, max_shots + 1)])
    assert [error["field"] for error in refused.value.errors] == ["source_code[0].shots"]


def test_a_queued_job_can_be_cancelled(sampler, paused_dummy):
    circuit = QuantumCircuit(1, 1)
    circuit.h(0)
    circuit.measure(0, 0)
    job = sampler.run([circuit])
    assert job.status() is JobStatus.QUEUED and not job.done() and not job.in_final_state()
    assert job.cancel() is True
    assert job.cancelled() and job.status() is JobStatus.CANCELLED and job.in_final_state()
    with pytest.raises(JobError) as raised:
        job.result(timeout=10)
    assert raised.value.job_status == "CANCELLED"
