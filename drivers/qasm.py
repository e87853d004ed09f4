"""OpenQASM 2 and 3 source, read as untrusted input (SPEC §13).

qiskit's parsers build the whole circuit before anyone can look at its size, and they read
``include`` files from the worker's disk. So before a source reaches them, a cheap scan of its
text (comments removed) refuses every include but the standard library and every register or
physical qubit beyond the backend's limits; only then is it parsed, with no include path at all,
so even an include the scan missed cannot reach a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from qiskit import QuantumCircuit, qasm2, qasm3

from drivers.errors import INVALID_PAYLOAD, PARSE_ERROR, EntryError, entry_error

_VERSION = re.compile(r"^\s*OPENQASM\s+(\d+)(?:\.\d+)?\s*;", re.MULTILINE)
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_INCLUDE_WORD = re.compile(r"\binclude\b")
_STANDARD_INCLUDE = re.compile(r'\binclude\s*"(qelib1\.inc|stdgates\.inc)"\s*;')
STANDARD_LIBRARY = {2: "qelib1.inc", 3: "stdgates.inc"}
INCLUDE_REFUSED = "only the standard library may be included (qelib1.inc in OpenQASM 2, stdgates.inc in OpenQASM 3)"
# Declarations that allocate: qreg/creg (OpenQASM 2, and 3's legacy form), qubit[n]/bit[n] (3), and
# physical qubits $n (3). A size that is not a plain integer is refused rather than evaluated:
# qiskit evaluates constant expressions, and 10**10**10 would be its own denial of service.
_OLD_REGISTER = re.compile(r"\b(qreg|creg)\s+[A-Za-z_]\w*\s*\[([^\]]*)\]")
_NEW_REGISTER = re.compile(r"\b(qubit|bit)\s*\[([^\]]*)\]")
_SINGLE = re.compile(r"\b(qubit|bit)\s+[A-Za-z_]")
_PHYSICAL = re.compile(r"\$(\d+)")
_INTEGER = re.compile(r"\s*(\d+)\s*")
# Without a backend limit, still a bound: a circuit object of this width is cheap; a wider one is not.
CEILING_QUBITS = 100_000
# Gate definitions nest: g1 calls g0 twice, g2 calls g1 twice, ... and 40 short lines unroll to 2**40
# operations in the transpiler, long after every size check. Their unrolled size is counted from
# the text; past this many operations no simulator run would end within a time limit anyway.
MAX_EXPANDED_GATES = 10_000_000
_GATE_DEF = re.compile(r"\bgate\s+([A-Za-z_]\w*)[^{;]*\{([^}]*)\}")
_CALL = re.compile(r"\s*([A-Za-z_]\w*)([^;]*)")
# Classical registers may outgrow the qubits (mid-circuit measurements), but every extra bit lengthens
# each outcome string: four bits per qubit is generous.
CLBITS_PER_QUBIT = 4


@dataclass(frozen=True)
class Declared:
    """What a source declares, read from its text without parsing it."""

    version: int
    qubits: int
    clbits: int
    expanded_gates: int = 0


def strip_comments(source: str) -> str:
    return _COMMENT.sub("", source)


def qasm_version(source: str) -> int:
    """2 or 3, from the ``OPENQASM`` header; without one, OpenQASM 3 (where the header is optional)."""
    code = strip_comments(source)
    match = _VERSION.search(code)
    if match:
        return 3 if match.group(1) == "3" else 2
    return 2 if re.search(r"\bqreg\b", code) else 3


def _int(digits: str) -> int:
    # Past 18 digits the exact value no longer matters, and int() refuses literals past 4300 digits.
    return int(digits) if len(digits) <= 18 else 10**18


def _size(text: str, keyword: str) -> int:
    match = _INTEGER.fullmatch(text)
    if match is None:
        raise EntryError(INVALID_PAYLOAD, f"the size of a {keyword} declaration must be an integer literal")
    return _int(match.group(1))


def _expanded_gates(code: str, qubits: int) -> int:
    """Operations the circuit unrolls to, counting each call of a defined gate as its body's unrolled
    size (a call on whole registers, broadcast, as that times the declared qubits), others as one."""
    sizes: dict[str, int] = {}
    for name, body in _GATE_DEF.findall(code):
        calls = (_CALL.match(statement) for statement in body.split(";"))
        sizes[name] = min(sum(sizes.get(m.group(1), 1) for m in calls if m), MAX_EXPANDED_GATES + 1)
    total = 0
    for statement in _GATE_DEF.sub("", code).split(";"):
        match = _CALL.match(statement)
        if match and match.group(1) in sizes:
            broadcast = 1 if "[" in match.group(2) else max(qubits, 1)
            total += sizes[match.group(1)] * broadcast
            if total > MAX_EXPANDED_GATES:
                break
    return total


def scan(code_type: str, source: str) -> Declared:
    """The version and declared sizes of ``source``; EntryError -102 for a refused include."""
    code = strip_comments(source)
    version = {"qasm2": 2, "qasm3": 3}.get(code_type) or qasm_version(source)
    allowed = [m for m in _STANDARD_INCLUDE.finditer(code) if m.group(1) == STANDARD_LIBRARY[version]]
    if len(_INCLUDE_WORD.findall(code)) != len(allowed):
        # One message for every other include: whether such a file exists is not the caller's business.
        raise EntryError(PARSE_ERROR, INCLUDE_REFUSED)
    qubits = clbits = 0
    for keyword, size in (*_OLD_REGISTER.findall(code), *_NEW_REGISTER.findall(code)):
        count = _size(size, keyword)
        if keyword in ("qreg", "qubit"):
            qubits += count
        else:
            clbits += count
    for keyword in _SINGLE.findall(code):
        qubits += keyword == "qubit"
        clbits += keyword == "bit"
    physical = [_int(n) for n in _PHYSICAL.findall(code)]
    if physical:
        qubits = max(qubits, max(physical) + 1)
    return Declared(version=version, qubits=qubits, clbits=clbits, expanded_gates=_expanded_gates(code, qubits))


def check_declared(declared: Declared, *, max_qubits: int | None, backend_name: str) -> None:
    """Refuse, by name and before anything is built, a source wider than the backend takes."""
    limit = max_qubits or CEILING_QUBITS
    if declared.qubits > limit:
        raise EntryError(
            INVALID_PAYLOAD,
            f"the circuit declares {declared.qubits} qubits; backend {backend_name} takes at most {limit}",
        )
    if declared.clbits > CLBITS_PER_QUBIT * limit:
        raise EntryError(
            INVALID_PAYLOAD,
            f"the circuit declares {declared.clbits} classical bits; backend {backend_name} takes at most "
            f"{CLBITS_PER_QUBIT * limit}",
        )
    if declared.expanded_gates > MAX_EXPANDED_GATES:
        raise EntryError(
            INVALID_PAYLOAD,
            f"the circuit's gate definitions unroll to more than {MAX_EXPANDED_GATES:,} operations",
        )


def parse(code_type: str, source: Any, *, max_qubits: int | None, backend_name: str) -> QuantumCircuit:
    """The circuit of one entry, or EntryError: -101 too wide, -102 does not parse (panics included)."""
    if not isinstance(source, str):
        raise EntryError(INVALID_PAYLOAD, "a circuit entry must be a string of OpenQASM source")
    declared = scan(code_type, source)
    check_declared(declared, max_qubits=max_qubits, backend_name=backend_name)
    try:
        if declared.version == 2:
            return qasm2.loads(
                source, include_path=(), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS, strict=False
            )
        return qasm3.loads(source)
    except BaseException as exc:  # the parsers raise many error types, and pyo3 panics; each is the user's
        raise entry_error(exc, PARSE_ERROR) from exc
