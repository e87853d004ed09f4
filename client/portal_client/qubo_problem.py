"""QUBO problems as the portal's annealing backends take them, and their answers as ``dimod.SampleSet``s.

The portal takes a QUBO as a square matrix over variables 0..n-1 (SPEC §3). ``QuboProblem`` turns
what Ocean and pyqubo users hold (a matrix, a ``{(u, v): bias}`` dict, a BQM of either vartype, a
pyqubo model) into that matrix, remembering the variable labels, the vartype and the offset so the
answer comes back as a ``dimod.SampleSet`` in the user's own terms. Nothing here talks to the portal,
so ``PortalJob`` and ``PortalClient.submit_qubo`` can both build on it.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any

import dimod
import numpy as np


def _ordered(labels: Sequence[Hashable]) -> list[Hashable]:
    """Labels in a stable order: sorted where they compare (0, 1, 2 / 'a', 'b'), else as first seen."""
    unique = list(dict.fromkeys(labels))
    try:
        return sorted(unique)
    except TypeError:
        return unique


@dataclass
class QuboProblem:
    """A QUBO as the portal takes it (``matrix``, upper triangular) plus what maps its answers back:
    ``variables[i]`` labels column i, ``offset`` is added to every energy, and samples are shown in
    ``vartype`` (SPIN models are solved as their BINARY equivalent)."""

    matrix: list[list[float]]
    variables: list[Hashable]
    offset: float = 0.0
    vartype: dimod.Vartype = dimod.BINARY
    model: Any = None  # a compiled pyqubo model, for decode_sampleset

    @classmethod
    def from_any(cls, qubo: Any) -> QuboProblem:
        if isinstance(qubo, QuboProblem):
            return qubo
        if isinstance(qubo, str | PathLike):
            from portal_client.files import read_qubo_file

            return cls.from_matrix(read_qubo_file(qubo))
        if isinstance(qubo, dimod.BinaryQuadraticModel):
            return cls.from_bqm(qubo)
        if hasattr(qubo, "compile") and not hasattr(qubo, "to_qubo"):
            qubo = qubo.compile()  # a pyqubo expression, not yet a model
        if hasattr(qubo, "to_qubo") and hasattr(qubo, "decode_sampleset"):
            terms, offset = qubo.to_qubo()
            problem = cls.from_dict(terms, offset=offset)
            problem.model = qubo
            return problem
        if isinstance(qubo, Mapping):
            return cls.from_dict(qubo)
        return cls.from_matrix(qubo)

    @classmethod
    def from_matrix(cls, matrix: Any) -> QuboProblem:
        array = np.asarray(matrix, dtype=float)
        if array.ndim != 2 or array.shape[0] != array.shape[1]:
            raise ValueError(f"a QUBO matrix must be square; this one has shape {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError("a QUBO matrix must hold finite numbers only")
        return cls(matrix=array.tolist(), variables=list(range(array.shape[0])))

    @classmethod
    def from_dict(cls, terms: Mapping[tuple[Hashable, Hashable], float], *, offset: float = 0.0) -> QuboProblem:
        variables = _ordered([label for pair in terms for label in pair])
        index = {label: position for position, label in enumerate(variables)}
        matrix = np.zeros((len(variables), len(variables)))
        for (u, v), bias in terms.items():
            i, j = sorted((index[u], index[v]))
            matrix[i, j] += bias
        return cls(matrix=matrix.tolist(), variables=variables, offset=float(offset))

    @classmethod
    def from_bqm(cls, bqm: dimod.BinaryQuadraticModel) -> QuboProblem:
        binary = bqm.change_vartype(dimod.BINARY, inplace=False)
        variables = list(bqm.variables)
        index = {label: position for position, label in enumerate(variables)}
        matrix = np.zeros((len(variables), len(variables)))
        for v, bias in binary.linear.items():
            matrix[index[v], index[v]] = bias
        for (u, v), bias in binary.quadratic.items():
            i, j = sorted((index[u], index[v]))
            matrix[i, j] += bias
        return cls(matrix=matrix.tolist(), variables=variables, offset=float(binary.offset), vartype=bqm.vartype)

    def bqm(self) -> dimod.BinaryQuadraticModel:
        """The problem as a BINARY BQM over its own labels."""
        terms = {
            (self.variables[i], self.variables[j]): value
            for i, row in enumerate(self.matrix)
            for j, value in enumerate(row)
            if value
        }
        bqm = dimod.BinaryQuadraticModel.from_qubo(terms, self.offset)
        bqm.add_variables_from({v: 0.0 for v in self.variables})
        return bqm


def sampleset_from_entry(
    entry: dict[str, Any], problem: QuboProblem | None, *, info: dict[str, Any] | None = None
) -> dimod.SampleSet:
    """The solutions of one QUBO entry as a SampleSet: best first, energies with the offset, in the
    problem's labels and vartype (``quboValue`` and ``maxcutValue`` kept as fields)."""
    solutions = entry["results"] or []
    if problem is None:
        size = len(solutions[0]["solutionVector"]) if solutions else 0
        problem = QuboProblem(matrix=[], variables=list(range(size)))
    samples = np.asarray([s["solutionVector"] for s in solutions], dtype=np.int8).reshape(-1, len(problem.variables))
    energies = [s["quboValue"] + problem.offset for s in solutions]
    sampleset = dimod.SampleSet.from_samples(
        (samples, problem.variables),
        vartype=dimod.BINARY,
        energy=energies,
        info=info or {},
        quboValue=[s["quboValue"] for s in solutions],
        maxcutValue=[s.get("maxcutValue") for s in solutions],
    )
    if problem.vartype is dimod.SPIN:
        sampleset = sampleset.change_vartype(dimod.SPIN)
    return sampleset
