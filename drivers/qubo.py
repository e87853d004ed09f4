"""QUBO drivers: simulated annealing (dwave-neal) and exhaustive search (the tests' oracle).

An entry is a square matrix Q exactly as submitted; a solution x in {0,1}^n is scored by
``quboValue`` = x·Q·x (so upper-triangular and symmetric matrices both mean what they say) and
``maxcutValue`` = the number of edges it cuts in the graph with one edge per pair {i, j}, i != j,
where Q[i][j] or Q[j][i] is non-zero. Answers: up to ``top_k`` distinct solutions, best first.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from django.utils import timezone

from core.exceptions import InvalidParams, InvalidPayload
from drivers.base import Driver, DriverJob, EntryResult, Report, StageTimer
from drivers.errors import EXECUTION_ERROR, INVALID_PAYLOAD, EntryError, entry_error
from drivers.registry import register

DEFAULT_TOP_K = 10
DEFAULT_NUM_READS = 100
EXACT_MAX_VARIABLES = 24
# Rough cost of one annealing sweep over one non-zero, measured here (benchmarks/bench_drivers.py).
SECONDS_PER_SWEEP_NONZERO = 9e-10
# Ties at the cut-off energy that exhaustive search keeps for ranking (all of them, up to this many).
EXACT_TIES_KEPT = 4096


def as_matrix(entry: Any) -> np.ndarray:
    """The entry as a float matrix; EntryError -101 unless square, numeric and finite."""
    try:
        matrix = np.asarray(entry, dtype=float)
    except (TypeError, ValueError) as exc:
        raise EntryError(INVALID_PAYLOAD, "a QUBO entry must be a square matrix of numbers") from exc
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise EntryError(INVALID_PAYLOAD, f"a QUBO entry must be a square matrix, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise EntryError(INVALID_PAYLOAD, "a QUBO matrix must hold finite numbers only")
    with np.errstate(over="ignore"):
        bound = np.abs(matrix).sum()
    if not np.isfinite(bound):
        # |x·Q·x| is at most the sum of |Q|: past float range no energy could be scored or stored.
        raise EntryError(INVALID_PAYLOAD, "the matrix's values are so large that x·Q·x overflows")
    return matrix


def qubo_values(matrix: np.ndarray, solutions: np.ndarray) -> np.ndarray:
    """x·Q·x for each row x of ``solutions``."""
    return np.einsum("ij,ij->i", solutions @ matrix, solutions)


def adjacency(matrix: np.ndarray) -> np.ndarray:
    graph = (matrix != 0) | (matrix.T != 0)
    np.fill_diagonal(graph, False)
    return graph.astype(float)


def maxcut_values(matrix: np.ndarray, solutions: np.ndarray) -> np.ndarray:
    """Edges cut by each solution: pairs (i, j) with x_i = 1, x_j = 0 count each cut edge once."""
    return np.einsum("ij,ij->i", solutions @ adjacency(matrix), 1 - solutions)


def ranked(matrix: np.ndarray, candidates: np.ndarray, top_k: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Distinct candidates, best quboValue first (ties: more edges cut, then the vector), as the seed
    answers; and the energy distribution of all of them (``energy_histogram``)."""
    distinct, occurrences = np.unique(candidates.astype(np.int8), axis=0, return_counts=True)
    distinct = distinct.astype(float)
    values = qubo_values(matrix, distinct)
    cuts = maxcut_values(matrix, distinct)
    order = np.lexsort((*distinct.T[::-1], -cuts, values))[:top_k]
    solutions = [
        {
            "result": rank,
            "quboValue": float(values[i]),
            "maxcutValue": float(cuts[i]),
            "solutionVector": distinct[i].astype(int).tolist(),
        }
        for rank, i in enumerate(order, start=1)
    ]
    return solutions, energy_histogram(values, occurrences)


# Up to this many distinct energies are counted one by one; more are counted in this many bins.
HISTOGRAM_BINS = 40


def energy_histogram(values: np.ndarray, occurrences: np.ndarray) -> dict[str, Any]:
    """How many of the reads found each energy: ``energies`` and ``counts`` when there are few distinct
    energies, else ``bin_edges`` (one more than ``counts``) of equal-width bins."""
    total = int(occurrences.sum())
    energies, index = np.unique(values, return_inverse=True)
    if len(energies) <= HISTOGRAM_BINS:
        counts = np.bincount(index.ravel(), weights=occurrences, minlength=len(energies))
        return {"num_reads": total, "energies": energies.tolist(), "counts": counts.astype(int).tolist()}
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, weights=occurrences)
    return {"num_reads": total, "bin_edges": edges.tolist(), "counts": counts.astype(int).tolist()}


def _int_option(options: dict, name: str, low: int, high: int, default: int | None) -> int | None:
    value = options.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParams.field(f"driver_options.{name}", f"must be an integer from {low} to {high}")
    return value


class QuboDriver(Driver):
    """Shared stages of the QUBO drivers; subclasses provide candidate solutions."""

    code_types = ("qubo",)
    transpilers = ("none",)
    option_names: tuple[str, ...] = ("top_k", "seed")

    def validate(self, backend, job: DriverJob) -> None:
        options = job.driver_options
        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            raise InvalidParams(
                errors=[{"field": f"driver_options.{name}", "message": "unknown option"} for name in unknown]
            )
        self.options(options)
        for index, entry in enumerate(job.source_code):
            size = len(entry)
            if backend.max_variables and size > backend.max_variables:
                raise InvalidPayload(
                    f"source_code[{index}] has {size} variables; backend {backend.name} takes at most "
                    f"{backend.max_variables}."
                )

    def options(self, options: dict) -> dict[str, Any]:
        return {
            "top_k": _int_option(options, "top_k", 1, 1000, DEFAULT_TOP_K),
            # neal takes seeds below 2**31 (whatever its message says).
            "seed": _int_option(options, "seed", 0, 2**31 - 1, None),
        }

    def candidates(self, matrix: np.ndarray, options: dict[str, Any]) -> np.ndarray:
        raise NotImplementedError

    def estimate(self, matrix: np.ndarray, options: dict[str, Any]) -> dict[str, Any]:
        nonzeros = int(np.count_nonzero(matrix))
        return {
            "num_variables": int(matrix.shape[0]),
            "num_nonzeros": nonzeros,
            "num_interactions": int(np.count_nonzero(np.triu(adjacency(matrix)))),
            "estimated_seconds": self.estimated_seconds(matrix, nonzeros, options),
        }

    def estimated_seconds(self, matrix: np.ndarray, nonzeros: int, options: dict[str, Any]) -> float:
        raise NotImplementedError

    def run(self, backend, job: DriverJob, report: Report) -> None:
        options = self.options(job.driver_options)
        for index, entry in job.pending():
            timer = StageTimer(job.profiling, driver=self.name)
            try:
                with timer.stage("driver:parse"):
                    matrix = as_matrix(entry)
                with timer.stage("driver:run"):
                    extra: dict[str, Any] = {}
                    if job.job_type == "estimation":
                        results: Any = self.estimate(matrix, options)
                        extra["job_type"] = "estimation"
                    elif job.dry_run:
                        candidates = self.random_candidates(matrix, options, job, index)
                        results, extra["energy_histogram"] = ranked(matrix, candidates, options["top_k"])
                        extra["dry_run"] = True
                    else:
                        try:
                            found = self.candidates(matrix, options)
                        except BaseException as exc:  # native panics and running out of memory included
                            raise entry_error(exc, EXECUTION_ERROR) from exc
                        results, extra["energy_histogram"] = ranked(matrix, found, options["top_k"])
            except EntryError as exc:
                report(index, self.failed(exc, timer))
                continue
            report(index, self.completed(results, matrix.shape[0], timer, extra))

    def random_candidates(self, matrix: np.ndarray, options: dict, job: DriverJob, index: int) -> np.ndarray:
        """Dry run: random vectors seeded by the job id, never the solver."""
        rng = np.random.default_rng([uuid.UUID(job.job_id).int % (2**63), index])
        return rng.integers(0, 2, size=(options.get("num_reads") or DEFAULT_NUM_READS, matrix.shape[0]))

    def completed(self, results: Any, size: int, timer: StageTimer, extra: dict) -> EntryResult:
        metadata = {"results_fetch_mode": self.results_fetch_mode, "status": "COMPLETED", **extra}
        metadata["ended_at"] = timezone.now().isoformat()
        return EntryResult(
            status="COMPLETED", results=results, num_qubits=size, metadata=metadata, profiling=timer.profiling
        )

    def failed(self, exc: EntryError, timer: StageTimer) -> EntryResult:
        metadata = {"results_fetch_mode": self.results_fetch_mode, "status": "FAILED"}
        metadata["ended_at"] = timezone.now().isoformat()
        return EntryResult(status="FAILED", metadata=metadata, profiling=timer.profiling, error=exc.as_dict())


@register("neal")
class AnnealingDriver(QuboDriver):
    """Simulated annealing with dwave-neal. ``driver_options``: ``num_reads`` (default 100),
    ``num_sweeps`` (neal's default, 1000), ``seed``, ``top_k`` (default 10)."""

    option_names = ("top_k", "seed", "num_reads", "num_sweeps")

    def __init__(self) -> None:
        import neal

        self.sampler = neal.SimulatedAnnealingSampler()

    def options(self, options: dict) -> dict[str, Any]:
        return {
            **super().options(options),
            "num_reads": _int_option(options, "num_reads", 1, 100_000, DEFAULT_NUM_READS),
            "num_sweeps": _int_option(options, "num_sweeps", 1, 1_000_000, None),
        }

    def properties(self, backend) -> dict[str, Any]:
        return {
            "solver": "dwave-neal SimulatedAnnealingSampler",
            "default_num_reads": DEFAULT_NUM_READS,
            "default_num_sweeps": 1000,
            "default_top_k": DEFAULT_TOP_K,
        }

    def candidates(self, matrix: np.ndarray, options: dict[str, Any]) -> np.ndarray:
        import dimod

        if matrix.shape[0] == 1:  # nothing to anneal: both values are the candidates
            return np.array([[0], [1]])
        # dimod reads a dense matrix as x·Q·x: the diagonal is linear, (i, j) and (j, i) add up.
        bqm = dimod.BinaryQuadraticModel(matrix, "BINARY")
        kwargs = {"num_reads": options["num_reads"], "seed": options["seed"]}
        if options["num_sweeps"] is not None:
            kwargs["num_sweeps"] = options["num_sweeps"]
        return self.sampler.sample(bqm, **kwargs).record.sample

    def estimated_seconds(self, matrix: np.ndarray, nonzeros: int, options: dict[str, Any]) -> float:
        sweeps = options["num_sweeps"] or 1000
        return round(options["num_reads"] * sweeps * max(nonzeros, 1) * SECONDS_PER_SWEEP_NONZERO, 6)


@register("qubo_exact")
class ExactDriver(QuboDriver):
    """Exhaustive search over all 2^n assignments, vectorised; up to 24 variables."""

    def validate(self, backend, job: DriverJob) -> None:
        super().validate(backend, job)
        for index, entry in enumerate(job.source_code):
            if len(entry) > EXACT_MAX_VARIABLES:
                raise InvalidPayload(
                    f"source_code[{index}] has {len(entry)} variables; exhaustive search takes at most "
                    f"{EXACT_MAX_VARIABLES}."
                )

    def properties(self, backend) -> dict[str, Any]:
        return {"solver": "exhaustive search (exact optima)", "max_variables": EXACT_MAX_VARIABLES}

    def candidates(self, matrix: np.ndarray, options: dict[str, Any]) -> np.ndarray:
        return best_assignments(matrix, options["top_k"])

    def estimated_seconds(self, matrix: np.ndarray, nonzeros: int, options: dict[str, Any]) -> float:
        return round(2 ** matrix.shape[0] * matrix.shape[0] * 2e-9, 6)


def _assignments(count: int) -> np.ndarray:
    """All 2^count assignments of ``count`` variables, one per row."""
    return ((np.arange(2**count)[:, None] >> np.arange(count)) & 1).astype(float)


def best_assignments(matrix: np.ndarray, top_k: int, tail_bits: int = 14) -> np.ndarray:
    """The ``top_k`` lowest-energy assignments among all 2^n.

    Splits x into a head (enumerated in an outer loop) and a tail (enumerated as one block):
    x·Q·x = e_head + e_tail + x_head·C·x_tail with C = Q[head, tail] + Q[tail, head]^T, so each
    block of 64 heads x 2^tail assignments costs one matrix product.
    """
    n = matrix.shape[0]
    if n > EXACT_MAX_VARIABLES:
        raise EntryError(INVALID_PAYLOAD, f"exhaustive search takes at most {EXACT_MAX_VARIABLES} variables")
    head = max(n - tail_bits, 0)
    heads, tails = _assignments(head), _assignments(n - head)
    e_head = qubo_values(matrix[:head, :head], heads)
    e_tail = qubo_values(matrix[head:, head:], tails)
    cross = heads @ (matrix[:head, head:] + matrix[head:, :head].T)
    best_e, best_x = np.empty(0), np.empty((0, n))
    for start in range(0, len(heads), 64):
        block = e_head[start : start + 64, None] + e_tail[None, :] + cross[start : start + 64] @ tails.T
        flat = block.ravel()
        idx = _lowest_with_ties(flat, top_k)
        rows, cols = np.divmod(idx, len(tails))
        best_e = np.concatenate([best_e, flat[idx]])
        best_x = np.vstack([best_x, np.hstack([heads[start + rows], tails[cols]])])
        keep = _lowest_with_ties(best_e, top_k)
        keep = keep[np.argsort(best_e[keep], kind="stable")]  # lowest energy first
        best_e, best_x = best_e[keep], best_x[keep]
    return best_x


def _lowest_with_ties(values: np.ndarray, count: int) -> np.ndarray:
    """Indices of the ``count`` lowest values plus every value tied with the highest of them, so that
    ranking can break ties among equal energies (by edges cut) over all of them."""
    count = min(count, values.size)
    cutoff = np.partition(values, count - 1)[count - 1]
    return np.flatnonzero(values <= cutoff)[: max(count, EXACT_TIES_KEPT)]
