"""QUBO from the client: matrices, dicts, dimod BQMs and pyqubo models in, SampleSets in the user's
own labels out; PortalSampler as a dimod sampler, checked with dimod's own test helpers."""

from __future__ import annotations

import json
import unittest
from pathlib import Path

import dimod
import dimod.testing
import pytest

from portal_client import PortalClient, PortalSampler, QuboProblem

SEED_QUBO_20 = json.loads((Path(__file__).parent.parent / "data" / "seed_qubo_20.json").read_text())


def test_seed_matrix_on_the_exact_solver_answers_its_optimum_first(api):
    sampleset = api.submit_qubo(SEED_QUBO_20, backend="qubo_exact").result(timeout=60)
    best = sampleset.first
    assert best.energy == -112
    assert sampleset.record.maxcutValue[0] == 28
    assert list(sampleset.variables) == list(range(20))
    assert sampleset.vartype is dimod.BINARY
    assert sampleset.info["job_id"]


def test_dict_with_labels_comes_back_in_those_labels(api):
    qubo = {("a", "a"): -1.0, ("b", "b"): -1.0, ("a", "b"): 2.0, ("b", "c"): -0.5, ("c", "c"): 0.25}
    sampleset = api.submit_qubo(qubo, backend="qubo_exact").result(timeout=60)
    assert set(sampleset.variables) == {"a", "b", "c"}
    assert sampleset.first.energy == pytest.approx(dimod.ExactSolver().sample_qubo(qubo).first.energy)
    for sample, energy in sampleset.data(["sample", "energy"]):
        assert energy == pytest.approx(dimod.qubo_energy(sample, qubo))


def test_spin_bqm_with_an_offset_is_answered_in_spins(api):
    bqm = dimod.BinaryQuadraticModel({"s": 1.0, ("t", 1): -2.0}, {("s", ("t", 1)): 0.75}, 3.5, dimod.SPIN)
    sampleset = api.submit_qubo(bqm, backend="qubo_exact").result(timeout=60)
    assert sampleset.vartype is dimod.SPIN
    assert set(sampleset.first.sample.values()) <= {-1, 1}
    assert sampleset.first.energy == pytest.approx(dimod.ExactSolver().sample(bqm).first.energy)
    dimod.testing.assert_sampleset_energies(sampleset, bqm)


def test_pyqubo_model_is_decoded_back_to_its_names(api):
    from pyqubo import Array, Constraint

    x = Array.create("x", shape=3, vartype="BINARY")
    # pick exactly one of three items, the cheapest (x[2])
    hamiltonian = 1.0 * x[0] + 2.0 * x[1] + 0.5 * x[2] + 5 * Constraint((x[0] + x[1] + x[2] - 1) ** 2, "one")
    model = hamiltonian.compile()
    job = api.submit_qubo(model, backend="qubo_exact")
    sampleset = job.result(timeout=60)
    assert set(sampleset.variables) == {"x[0]", "x[1]", "x[2]"}
    best = job.decoded()[0]
    assert best.array("x", 2) == 1 and best.array("x", 0) == 0 and best.array("x", 1) == 0
    assert best.constraints(only_broken=True) == {}
    assert best.energy == pytest.approx(0.5)


def test_matrix_must_be_square_before_anything_is_sent():
    with pytest.raises(ValueError, match="square"):
        QuboProblem.from_any([[1, 2, 3], [4, 5, 6]])


def test_driver_options_reach_the_annealer(api):
    sampleset = api.submit_qubo(
        SEED_QUBO_20, backend="qubo_sa", driver_options={"num_reads": 20, "top_k": 3, "seed": 1}
    ).result(timeout=60)
    assert len(sampleset) <= 3
    assert list(sampleset.record.energy) == sorted(sampleset.record.energy)


# --- PortalSampler ----------------------------------------------------------------------------------


@pytest.fixture
def sampler(portal) -> PortalSampler:
    return PortalSampler(portal.url, portal.alice.token, backend="qubo_sa", tags=["ocean"])


def test_sampler_api(sampler):
    dimod.testing.assert_sampler_api(sampler)
    assert sampler.properties["backend"] == "qubo_sa"
    assert set(sampler.parameters) == {"num_reads", "num_sweeps", "top_k", "seed"}


def test_sample_ising_and_qubo_with_parameters(sampler):
    sampleset = sampler.sample_ising({"a": -1.0}, {("a", "b"): -1.0}, num_reads=10, seed=4)
    assert dict(sampleset.first.sample) == {"a": 1, "b": 1} and sampleset.first.energy == -2.0
    sampleset = sampler.sample_qubo({(0, 0): -1.0, (0, 1): 2.0, (1, 1): -1.0}, top_k=2)
    assert sampleset.first.energy == -1.0 and len(sampleset) == 2
    with pytest.raises(ValueError, match="unknown sampling parameters"):
        sampler.sample_qubo({(0, 0): 1.0}, beta=1)


def test_submit_options_go_with_every_job(sampler):
    sampleset = sampler.sample_qubo({(0, 0): -1.0})
    job = sampler.client.job(sampleset.info["job_id"])
    assert job.tags() == ["ocean"] and job.data["backend"] == "qubo_sa"


def test_empty_model_is_answered_without_a_job(sampler):
    sampleset = sampler.sample(dimod.BinaryQuadraticModel({}, {}, 1.5, dimod.SPIN))
    assert len(sampleset.variables) == 0 and list(sampleset.record.energy) == [1.5]
    assert sampler.client.get_jobs() == []


# dimod's own sampler tests make their samplers when the class is defined, before the portal runs;
# they share one client that each test points at the live portal.
SHARED = PortalClient("http://portal.invalid")


@pytest.fixture
def shared_client_on_the_portal(portal):
    SHARED.url, SHARED.token = portal.url, portal.alice.token


@pytest.mark.usefixtures("shared_client_on_the_portal")
@dimod.testing.load_sampler_bqm_tests(lambda: PortalSampler(client=SHARED, backend="qubo_sa"))
class TestDimodSamplerSuite(unittest.TestCase):
    """Empty, one-variable, path models; SPIN and BINARY; Float32, Float64 and dict BQMs; odd labels."""


def test_job_of_several_matrices_answers_a_sampleset_each(api):
    job = api.submit(code_type="qubo", source_code=[[[-1]], [[1, -3], [0, 1]]], backend="qubo_exact")
    first, second = job.result(timeout=60)
    assert (first.first.energy, second.first.energy) == (-1, -1)
    assert (first.info["index"], second.info["index"]) == (0, 1)


def test_matrix_files_as_the_reference_platform_ships_them(api, tmp_path):
    from portal_client.files import InputFileError

    csv_file = tmp_path / "seed.csv"
    csv_file.write_text("\n".join(",".join(str(value) for value in row) for row in SEED_QUBO_20) + "\n")
    json_file = tmp_path / "seed.json"
    json_file.write_text(json.dumps(SEED_QUBO_20))
    for path in (csv_file, str(json_file)):
        sampleset = api.submit_qubo(path, backend="qubo_exact").result(timeout=60)
        assert sampleset.first.energy == -112
    (tmp_path / "bad.csv").write_text("1,2\n3\n")
    with pytest.raises(InputFileError, match="row 2"):
        api.submit_qubo(tmp_path / "bad.csv")
