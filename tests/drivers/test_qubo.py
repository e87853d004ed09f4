"""The QUBO drivers (neal annealing, exhaustive search): scoring, ranking, options, and seed 000's example."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backends.models import Backend
from drivers.base import DriverJob, EntryResult
from drivers.errors import INVALID_PAYLOAD, EntryError
from drivers.qubo import as_matrix, best_assignments, maxcut_values, qubo_values, ranked
from drivers.registry import get_driver
from tests.conftest import error_of, result_of

pytestmark = pytest.mark.django_db

SEED_QUBO = json.loads((Path(__file__).parent.parent / "data" / "seed_qubo_20.json").read_text())
SEED_OPTIMUM, SEED_OPTIMUM_CUT = -112.0, 28.0
JOB_A = "3f2a6c1e-0b7d-4e59-9a41-6c8d2e0f1a01"
JOB_B = "b81d4e27-5c3a-4f06-8e12-9d7a0c3b5e02"
# The driver of each QUBO backend (migration 0003): qubo_sa and tiangong100 anneal, qubo_exact enumerates.
DRIVERS = {"qubo_sa": "neal", "tiangong100": "neal", "qubo_exact": "qubo_exact"}


def energy(matrix: Any, vector: list[int]) -> float:
    """x·Q·x by the definition, summing every Q[i][j] with x_i = x_j = 1."""
    n = len(vector)
    return float(sum(matrix[i][j] for i in range(n) for j in range(n) if vector[i] and vector[j]))


def cut_edges(matrix: Any, vector: list[int]) -> int:
    """Edges {i, j} (i < j, Q[i][j] or Q[j][i] non-zero) whose ends the vector puts on different sides."""
    n = len(vector)
    return sum(
        1 for i in range(n) for j in range(i + 1, n) if (matrix[i][j] or matrix[j][i]) and vector[i] != vector[j]
    )


def brute_force_energies(matrix: np.ndarray) -> np.ndarray:
    """Every assignment's x·Q·x, enumerated with itertools.product (the tail 10 bits as one block)."""
    n = matrix.shape[0]
    tail_bits = min(n, 10)
    tail = np.array(list(itertools.product((0, 1), repeat=tail_bits)), dtype=float)
    energies = []
    for head in itertools.product((0, 1), repeat=n - tail_bits):
        block = np.hstack([np.broadcast_to(np.array(head, dtype=float), (len(tail), len(head))), tail])
        energies.append(((block @ matrix) * block).sum(axis=1))
    return np.concatenate(energies)


def random_upper_qubo(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.triu(rng.integers(-10, 11, size=(n, n))).astype(float)


def run_driver(backend_name: str, source_code: list[Any], **fields: Any) -> list[EntryResult]:
    """Run a DriverJob directly on the backend's driver; the entries in ``source_code`` order."""
    backend = Backend.objects.get(name=backend_name)
    assert backend.driver == DRIVERS[backend_name]
    fields.setdefault("job_id", JOB_A)
    job = DriverJob(code_type="qubo", source_code=source_code, shots=1, **fields)
    reported: dict[int, EntryResult] = {}
    get_driver(backend.driver).run(backend, job, lambda index, entry: reported.__setitem__(index, entry))
    assert sorted(reported) == list(range(len(source_code)))
    return [reported[index] for index in range(len(source_code))]


def submit_qubo(rpc, tenant, source_code: list[Any], **fields: Any) -> dict[str, Any]:
    body = {"code_type": "qubo", "source_code": source_code, "backend": "tiangong100", **fields}
    return rpc("submit_job", {"body": body}, who=tenant)


def run_qubo(rpc, tenant, run_worker, source_code: list[Any], **fields: Any) -> dict[str, Any]:
    """Submit a QUBO job, run the worker, and answer get_job_results."""
    job = result_of(submit_qubo(rpc, tenant, source_code, **fields))
    run_worker()
    return result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))


def assert_consistent_solutions(matrix: Any, solutions: list[dict[str, Any]]) -> None:
    """Ranks 1..k, best first, distinct 0/1 vectors, each scored by its own x·Q·x and cut."""
    assert [s["result"] for s in solutions] == list(range(1, len(solutions) + 1))
    values = [s["quboValue"] for s in solutions]
    assert values == sorted(values)
    vectors = [tuple(s["solutionVector"]) for s in solutions]
    assert len(set(vectors)) == len(vectors)
    for solution in solutions:
        vector = solution["solutionVector"]
        assert len(vector) == len(matrix) and set(vector) <= {0, 1}
        assert solution["quboValue"] == energy(matrix, vector)
        assert solution["maxcutValue"] == cut_edges(matrix, vector)


# --- scoring and ranking ------------------------------------------------------------------------


def test_qubo_values_count_both_triangles():
    """quboValue is x·Q·x of the matrix as given: Q[i][j] and Q[j][i] both count."""
    matrix = np.array([[1.0, 2.0, 0.0], [3.0, -4.0, 5.0], [0.0, -6.0, 7.0]])
    solutions = np.array([[1, 1, 0], [0, 1, 1], [1, 1, 1], [0, 0, 0]], dtype=float)
    # [1,1,0]: 1 + 2 + 3 - 4; [0,1,1]: -4 + 5 - 6 + 7; [1,1,1]: the sum of all entries.
    assert qubo_values(matrix, solutions).tolist() == [2.0, 2.0, 8.0, 0.0]
    assert qubo_values(matrix, solutions[:1]).tolist() == [energy(matrix, [1, 1, 0])]


TRIANGLE_UPPER = np.array([[0.0, 1.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
TRIANGLE_CUTS = {(0, 0, 0): 0, (1, 0, 0): 2, (0, 1, 0): 2, (0, 0, 1): 2, (1, 1, 0): 2, (1, 1, 1): 0}


@pytest.mark.parametrize("matrix", [TRIANGLE_UPPER, TRIANGLE_UPPER.T], ids=["upper", "lower"])
def test_maxcut_values_count_each_cut_edge_once(matrix):
    """A triangle given in either triangle alone: every split cuts 2 edges, no split 0."""
    solutions = np.array(list(TRIANGLE_CUTS), dtype=float)
    assert maxcut_values(matrix, solutions).tolist() == [float(c) for c in TRIANGLE_CUTS.values()]


def test_maxcut_values_edge_in_both_triangles_counts_once():
    """An edge with Q[i][j] and Q[j][i] both non-zero is still one edge."""
    matrix = np.array([[0.0, 3.0], [-3.0, 0.0]])
    assert maxcut_values(matrix, np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])).tolist() == [1.0, 1.0, 0.0]


@pytest.mark.parametrize("n", [1, 2, 7, 15, 16, 20])
def test_best_assignments_match_brute_force(n):
    """The exhaustive search's top 5 energies equal those of a plain enumeration (non-symmetric matrix)."""
    matrix = np.random.default_rng(n).normal(size=(n, n))
    best = best_assignments(matrix, 5)
    expected = np.sort(brute_force_energies(matrix))[:5]
    assert best.shape == (min(5, 2**n), n)
    assert set(np.unique(best)) <= {0.0, 1.0}
    assert qubo_values(matrix, best) == pytest.approx(expected, abs=1e-9)


def test_ranked_distinct_best_first_at_most_top_k():
    """ranked drops duplicate candidates, orders by quboValue, numbers ranks 1..k and keeps top_k."""
    matrix = np.array([[-1.0, 2.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -3.0]])
    candidates = np.array([[1, 1, 1], [0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 0, 0], [0, 0, 1], [1, 0, 0]])
    answer, _ = ranked(matrix, candidates, top_k=4)
    assert [s["result"] for s in answer] == [1, 2, 3, 4]
    assert [s["solutionVector"] for s in answer] == [[1, 0, 1], [0, 0, 1], [1, 1, 1], [1, 0, 0]]
    assert [s["quboValue"] for s in answer] == [-4.0, -3.0, -3.0, -1.0]


def test_ranked_ties_prefer_more_cut_edges():
    """Equal quboValues rank the solution cutting more edges first, before the vector order."""
    matrix = np.array([[0.0, 1.0], [0.0, 5.0]])
    # [0,0] and [1,0] are both 0; only [1,0] cuts the edge {0, 1}.
    answer, _ = ranked(matrix, np.array([[0, 0], [1, 0]]), top_k=10)
    assert [(s["solutionVector"], s["maxcutValue"]) for s in answer] == [([1, 0], 1.0), ([0, 0], 0.0)]


def test_ranked_fewer_distinct_candidates_than_top_k():
    """With fewer distinct candidates than top_k, each appears once."""
    answer, _ = ranked(np.array([[2.0]]), np.array([[1], [1], [1]]), top_k=10)
    assert answer == [{"result": 1, "quboValue": 2.0, "maxcutValue": 0.0, "solutionVector": [1]}]


def test_the_energy_histogram_counts_every_read_not_only_the_ranked_ones():
    """Seven reads of five distinct vectors, top_k 2: the histogram still counts all seven, each energy
    once with its reads summed."""
    matrix = np.array([[-1.0, 2.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -3.0]])
    candidates = np.array([[1, 1, 1], [0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 0, 0], [0, 0, 1], [1, 0, 0]])
    _, histogram = ranked(matrix, candidates, top_k=2)
    # energies: [1,1,1] -3 (x2), [0,0,1] -3 (x2), [1,0,1] -4, [0,0,0] 0, [1,0,0] -1
    assert histogram == {"num_reads": 7, "energies": [-4.0, -3.0, -1.0, 0.0], "counts": [1, 4, 1, 1]}


def test_many_distinct_energies_are_binned():
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(12, 12))
    candidates = rng.integers(0, 2, size=(500, 12))
    _, histogram = ranked(matrix, candidates, top_k=5)
    assert histogram["num_reads"] == 500 and sum(histogram["counts"]) == 500
    assert len(histogram["bin_edges"]) == len(histogram["counts"]) + 1 == 41
    energies = qubo_values(matrix, candidates.astype(float))
    assert histogram["bin_edges"][0] == pytest.approx(energies.min())
    assert histogram["bin_edges"][-1] == pytest.approx(energies.max())


def test_as_matrix_rejects_nan():
    """A NaN (which JSON cannot carry) fails the entry with -101, not a solver error."""
    with pytest.raises(EntryError) as caught:
        as_matrix([[1.0, float("nan")], [0.0, 1.0]])
    assert caught.value.code == INVALID_PAYLOAD


def test_as_matrix_rejects_infinity():
    """An infinite entry fails with -101 too."""
    with pytest.raises(EntryError) as caught:
        as_matrix([[float("inf")]])
    assert caught.value.code == INVALID_PAYLOAD


# --- drivers called directly --------------------------------------------------------------------


@pytest.mark.parametrize("case", range(8))
def test_annealing_finds_exact_optimum(case):
    """On small random QUBOs (6-14 variables) annealing with 100 reads reaches the exhaustive optimum."""
    rng = np.random.default_rng(1000 + case)
    matrix = random_upper_qubo(rng, int(rng.integers(6, 15))).tolist()
    annealed = run_driver("qubo_sa", [matrix], driver_options={"num_reads": 100, "seed": 7})[0]
    exact = run_driver("qubo_exact", [matrix])[0]
    assert annealed.status == exact.status == "COMPLETED"
    assert annealed.results[0]["quboValue"] == exact.results[0]["quboValue"]


@pytest.mark.parametrize("backend", ["qubo_sa", "qubo_exact"])
def test_one_variable_matrix(backend):
    """A 1x1 matrix answers both assignments, the negative diagonal's 1 first."""
    entry = run_driver(backend, [[[-3.0]]])[0]
    assert entry.status == "COMPLETED", entry.error
    assert entry.num_qubits == 1
    assert [(s["solutionVector"], s["quboValue"]) for s in entry.results] == [([1], -3.0), ([0], 0.0)]


def test_same_seed_same_answer():
    """Annealing twice with the same seed gives identical solutions."""
    matrix = random_upper_qubo(np.random.default_rng(5), 30).tolist()
    first = run_driver("qubo_sa", [matrix], driver_options={"seed": 42, "num_reads": 20})[0]
    second = run_driver("qubo_sa", [matrix], driver_options={"seed": 42, "num_reads": 20})[0]
    assert first.results == second.results


def test_dry_run_is_deterministic_per_job_id():
    """A dry run's random solutions depend on the job id only: same id, same answer; another id differs."""
    first = run_driver("tiangong100", [SEED_QUBO], job_id=JOB_A, dry_run=True)[0]
    again = run_driver("tiangong100", [SEED_QUBO], job_id=JOB_A, dry_run=True)[0]
    other = run_driver("tiangong100", [SEED_QUBO], job_id=JOB_B, dry_run=True)[0]
    assert first.results == again.results
    assert first.results != other.results


# --- seed 000's example over JSON-RPC -----------------------------------------------------------


def test_seed_qubo_example_on_tiangong100(rpc, tenant, run_worker):
    """Seed 000's 20-variable QUBO: the true optimum -112 (28 edges cut) first, 10 consistent solutions."""
    answer = run_qubo(rpc, tenant, run_worker, [SEED_QUBO], driver_options={"seed": 1})
    assert answer["job_status"] == "COMPLETED"
    assert answer["num_qubits"] == 20
    (entry,) = answer["results"]
    assert entry["num_qubits"] == 20
    assert entry["metadata"]["status"] == "COMPLETED"
    solutions = entry["results"]
    assert (solutions[0]["quboValue"], solutions[0]["maxcutValue"]) == (SEED_OPTIMUM, SEED_OPTIMUM_CUT)
    assert 1 <= len(solutions) <= 10
    assert_consistent_solutions(SEED_QUBO, solutions)


def test_seed_qubo_example_on_qubo_exact(rpc, tenant, run_worker):
    """On the exhaustive backend all 10 answers are optima (-112): the seed's optimum is degenerate."""
    answer = run_qubo(rpc, tenant, run_worker, [SEED_QUBO], backend="qubo_exact")
    (entry,) = answer["results"]
    assert entry["metadata"]["status"] == "COMPLETED"
    assert entry["num_qubits"] == 20
    solutions = entry["results"]
    assert len(solutions) == 10
    assert {s["quboValue"] for s in solutions} == {SEED_OPTIMUM}
    assert solutions[0]["maxcutValue"] == SEED_OPTIMUM_CUT
    assert_consistent_solutions(SEED_QUBO, solutions)


# --- options over JSON-RPC ----------------------------------------------------------------------


def test_top_k_limits_the_answer(rpc, tenant, run_worker):
    """top_k 3 answers 3 solutions."""
    answer = run_qubo(rpc, tenant, run_worker, [SEED_QUBO], driver_options={"top_k": 3, "seed": 1})
    assert len(answer["results"][0]["results"]) == 3


def test_num_reads_bounds_the_answer(rpc, tenant, run_worker):
    """5 reads give at most 5 distinct solutions, whatever top_k asks."""
    answer = run_qubo(rpc, tenant, run_worker, [SEED_QUBO], driver_options={"num_reads": 5, "top_k": 10, "seed": 1})
    solutions = answer["results"][0]["results"]
    assert 1 <= len(solutions) <= 5
    assert_consistent_solutions(SEED_QUBO, solutions)


def test_num_sweeps_is_accepted(rpc, tenant, run_worker):
    """num_sweeps is a known option: the job completes with consistent solutions."""
    answer = run_qubo(rpc, tenant, run_worker, [SEED_QUBO], driver_options={"num_sweeps": 50, "seed": 1})
    assert answer["job_status"] == "COMPLETED"
    assert_consistent_solutions(SEED_QUBO, answer["results"][0]["results"])


def test_unknown_driver_option_is_named(rpc, tenant):
    """An option the annealer does not know is -32602 naming driver_options.<name>."""
    error = error_of(submit_qubo(rpc, tenant, [SEED_QUBO], driver_options={"temperature": 2}))
    assert error["code"] == -32602
    assert error["data"]["errors"] == [
        {
            "field": "driver_options.temperature",
            "message": "unknown option",
            "msg": "unknown option",
            "loc": ["driver_options", "temperature"],
        }
    ]


@pytest.mark.parametrize("top_k", [0, "3", True, 1001])
def test_invalid_top_k(rpc, tenant, top_k):
    """top_k must be an integer from 1 to 1000: else -32602 naming it."""
    error = error_of(submit_qubo(rpc, tenant, [SEED_QUBO], driver_options={"top_k": top_k}))
    assert error["code"] == -32602
    assert [e["field"] for e in error["data"]["errors"]] == ["driver_options.top_k"]


def test_matrix_over_max_variables_is_invalid_payload(rpc, tenant):
    """25 variables on qubo_exact (max 24) is refused at submit: -400 invalid_payload."""
    matrix = np.eye(25).tolist()
    error = error_of(submit_qubo(rpc, tenant, [matrix], backend="qubo_exact"))
    assert error["code"] == -400
    assert error["data"]["error_code"] == "invalid_payload"


def test_dry_run_over_rpc(rpc, tenant, run_worker):
    """dry_run answers random but correctly scored solutions, marked metadata.dry_run."""
    answer = run_qubo(rpc, tenant, run_worker, [SEED_QUBO], dry_run=True)
    (entry,) = answer["results"]
    assert entry["metadata"]["dry_run"] is True
    assert len(entry["results"]) == 10
    assert_consistent_solutions(SEED_QUBO, entry["results"])


def test_estimation_counts(rpc, tenant, run_worker):
    """job_type estimation answers variables, non-zeros and interactions (Q[i][j], Q[j][i] one pair)."""
    matrix = [[1, 2, 0, 0], [5, 0, 3, 0], [0, 0, -1, 0], [0, 0, 0, 0]]
    answer = run_qubo(rpc, tenant, run_worker, [matrix], backend="qubo_sa", job_type="estimation")
    (entry,) = answer["results"]
    assert entry["metadata"]["job_type"] == "estimation"
    estimate = entry["results"]
    assert set(estimate) == {"num_variables", "num_nonzeros", "num_interactions", "estimated_seconds"}
    assert (estimate["num_variables"], estimate["num_nonzeros"], estimate["num_interactions"]) == (4, 5, 2)
    assert estimate["estimated_seconds"] > 0


def test_multi_entry_job_in_source_order(rpc, tenant, run_worker):
    """Three matrices give three entries in source order, each with its own num_qubits."""
    rng = np.random.default_rng(3)
    matrices = [random_upper_qubo(rng, n).tolist() for n in (4, 9, 2)]
    answer = run_qubo(rpc, tenant, run_worker, matrices, driver_options={"seed": 1})
    assert [entry["num_qubits"] for entry in answer["results"]] == [4, 9, 2]
    assert answer["num_qubits"] == 9
    for matrix, entry in zip(matrices, answer["results"], strict=True):
        assert_consistent_solutions(matrix, entry["results"])


# --- edge cases ---------------------------------------------------------------------------------


def test_largest_accepted_seed_runs(rpc, tenant, run_worker):
    """The largest seed submit accepts (2**31 - 1, neal's largest) also runs; one more is -32602."""
    answer = run_qubo(rpc, tenant, run_worker, [SEED_QUBO], driver_options={"seed": 2**31 - 1})
    assert answer["job_status"] == "COMPLETED", answer["results"][0]["error"]
    assert error_of(submit_qubo(rpc, tenant, [SEED_QUBO], driver_options={"seed": 2**31}))["code"] == -32602


def test_integer_too_large_for_a_float_is_invalid_params(rpc, tenant):
    """An integer entry beyond float range is -32602 naming source_code[0], not an internal error."""
    error = error_of(submit_qubo(rpc, tenant, [[[10**400]]]))
    assert error["code"] == -32602
    assert error["data"]["errors"][0]["field"] == "source_code[0]"


def test_overflowing_energies_fail_the_entry_as_invalid_payload(rpc, tenant, run_worker):
    """Finite entries whose sums overflow fail the entry with -101, not an internal error."""
    answer = run_qubo(rpc, tenant, run_worker, [[[1e308, 1e308], [0, 1e308]]], backend="qubo_exact")
    assert answer["results"][0]["error"]["code"] == INVALID_PAYLOAD


def test_exact_top_1_follows_the_tie_break():
    """qubo_exact with top_k 1 answers, among the optima, one cutting the most edges (as annealing does)."""
    # [0,0] and [1,0] both score 0; only [1,0] cuts the edge {0, 1}.
    entry = run_driver("qubo_exact", [[[0, 1], [0, 5]]], driver_options={"top_k": 1})[0]
    assert entry.results[0]["solutionVector"] == [1, 0]
