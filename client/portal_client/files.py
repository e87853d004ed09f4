"""Job sources from files, as the reference platform's users keep them: OpenQASM programs (``.qasm``)
and QUBO matrices as JSON (a square list of lists) or CSV (a row per line). Standard library only,
so the command line starts fast; ``InputFileError`` says what is wrong with which file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

QASM_SUFFIXES = (".qasm",)
QUBO_SUFFIXES = (".json", ".csv")


class InputFileError(ValueError):
    """A file that cannot be used as a job's source, with the reason."""


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a directory") from None
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputFileError(f"{path}: {exc.strerror or exc}") from None


def qasm_code_type(text: str) -> str:
    """``qasm3`` when the program declares ``OPENQASM 3``, else ``qasm2``."""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("//"):
            return "qasm3" if re.match(r"OPENQASM\s+3\b", line) else "qasm2"
    return "qasm2"


def _number(cell: str, where: str) -> int | float:
    text = cell.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise InputFileError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputFileError(f"{where}: {text!r} is not a finite number")
    return value


def _check_matrix(matrix: Any, path: Path) -> list[list[int | float]]:
    """``matrix`` if it is a non-empty square list of lists of finite numbers; else a InputFileError saying why."""
    shape = "a QUBO matrix must be a square list of lists of numbers"
    if not isinstance(matrix, list) or not matrix:
        raise InputFileError(f"{path}: {shape}; this is {'an empty list' if matrix == [] else type(matrix).__name__}")
    size = len(matrix)
    for i, row in enumerate(matrix, 1):
        if not isinstance(row, list):
            raise InputFileError(f"{path}: {shape}; row {i} is not a list")
        if len(row) != size:
            raise InputFileError(f"{path}: {shape}; row {i} has {len(row)} values where {size} rows need {size}")
        for j, value in enumerate(row, 1):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise InputFileError(f"{path}: row {i}, column {j}: {value!r} is not a finite number")
    return matrix


def read_qubo_json(path: Path) -> list[list[int | float]]:
    try:
        matrix = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path}: not valid JSON ({exc})") from None
    return _check_matrix(matrix, path)


def read_qubo_csv(path: Path) -> list[list[int | float]]:
    """One matrix row per line, values separated by commas (or by blanks); blank lines and lines
    starting with ``#`` are skipped."""
    rows = []
    for number, line in enumerate(io.StringIO(_read_text(path)), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = next(csv.reader([line])) if "," in line else line.split()
        rows.append([_number(cell, f"{path}: line {number}") for cell in cells])
    return _check_matrix(rows, path)


def read_qubo_file(path: str | Path) -> list[list[int | float]]:
    """A QUBO matrix from a ``.json`` or ``.csv`` file."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return read_qubo_json(path)
    if path.suffix.lower() == ".csv":
        return read_qubo_csv(path)
    raise InputFileError(f"{path}: a QUBO matrix file is .json or .csv, not {path.suffix or '(no extension)'!r}")


def read_sources(files: Sequence[str | Path]) -> tuple[str, list[Any]]:
    """The ``(code_type, source_code)`` of a job with one entry per file."""
    code_types, sources = [], []
    for name in files:
        path = Path(name)
        suffix = path.suffix.lower()
        if suffix in QASM_SUFFIXES:
            text = _read_text(path)
            if not text.strip():
                raise InputFileError(f"{path}: the file is empty")
            code_types.append(qasm_code_type(text))
            sources.append(text)
        elif suffix in QUBO_SUFFIXES:
            code_types.append("qubo")
            sources.append(read_qubo_file(path))
        else:
            raise InputFileError(
                f"{path}: unknown kind of file {suffix or '(no extension)'!r}: "
                "give .qasm circuits or .json / .csv QUBO matrices"
            )
    kinds = set(code_types)
    if "qubo" in kinds and len(kinds) > 1:
        raise InputFileError("one job takes either circuits (.qasm) or QUBO matrices (.json, .csv), not both")
    if kinds == {"qasm2", "qasm3"}:
        raise InputFileError("one job takes circuits of one OpenQASM version: these files mix OpenQASM 2 and 3")
    return code_types[0], sources
