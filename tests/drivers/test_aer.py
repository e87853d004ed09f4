"""The Aer driver called directly (no queue, no worker): parsing, transpiling, running, per-entry errors."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from qiskit_aer import AerSimulator

from backends.models import Backend
from drivers import transpilers
from drivers.base import DriverJob, EntryResult
from drivers.qasm import qasm_version
from drivers.registry import get_driver
from tests.factories import BELL, BELL_QASM3, XX

JOB_A = "5d0c3f4e-8a0b-4c55-9d0e-2f1b8a7c6e01"
JOB_B = "9b7e2a13-64c1-4f0a-8e3d-0c5a9f4b2d02"
BASIS = ["rz", "sx", "x", "cx"]

GHZ3 = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\n'
    "h q[0];\ncx q[0],q[1];\ncx q[1],q[2];\nmeasure q -> c;\n"
)
# Nothing measured, no classical register: only q[0] is put in superposition.
UNMEASURED3 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\nh q[0];\n'
BROKEN = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nfoo q[0];\n'


@pytest.fixture
def backend(db) -> Backend:
    return Backend.objects.get(name="dummy")


def run_job(backend: Backend, **fields: Any) -> list[tuple[int, EntryResult]]:
    """Run a DriverJob built from ``fields`` on ``backend``; the ``(index, entry)`` pairs in report order."""
    fields.setdefault("job_id", JOB_A)
    fields.setdefault("code_type", "qasm")
    fields.setdefault("shots", 200)
    reported: list[tuple[int, EntryResult]] = []
    get_driver("aer").run(backend, DriverJob(**fields), lambda index, entry: reported.append((index, entry)))
    return reported


def entries(backend: Backend, **fields: Any) -> list[EntryResult]:
    """The entries of a job in ``source_code`` order (each index reported exactly once)."""
    reported = run_job(backend, **fields)
    indexes = [index for index, _ in reported]
    assert sorted(indexes) == list(range(len(fields["source_code"]))), indexes
    return [entry for _, entry in sorted(reported, key=lambda pair: pair[0])]


def assert_bell(entry: EntryResult, shots: int = 200) -> None:
    assert entry.status == "COMPLETED", entry.error
    assert set(entry.results) <= {"00", "11"}
    assert sum(entry.results.values()) == shots


# --- qasm_version ------------------------------------------------------------------------------


def test_qasm_version_reads_a_qasm2_header_after_comments():
    """Line comments before ``OPENQASM 2.0;`` do not hide the header."""
    assert qasm_version("// a Bell pair\n// by me\n" + BELL) == 2


def test_qasm_version_reads_a_qasm3_header_after_comments():
    """Line and block comments before ``OPENQASM 3.0;`` do not hide it, nor a commented-out 2.0 header."""
    source = "// OPENQASM 2.0;\n/* written\n   OPENQASM 2.0; by hand */\n" + BELL_QASM3
    assert qasm_version(source) == 3


def test_qasm_version_accepts_a_header_without_minor_version():
    """``OPENQASM 3;`` is version 3."""
    assert qasm_version('OPENQASM 3;\ninclude "stdgates.inc";\nqubit q;\n') == 3


def test_qasm_version_without_header_is_3():
    """The header is optional in OpenQASM 3 only, so a header-less source is version 3."""
    assert qasm_version('include "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nh q[0];\nc = measure q;\n') == 3


def test_qasm_version_without_header_but_with_qreg_is_2():
    """A header-less source declaring ``qreg`` is taken for OpenQASM 2."""
    assert qasm_version("qreg q[2];\ncreg c[2];\nh q[0];\n") == 2


def test_qasm_version_ignores_qreg_in_comments():
    """The word ``qreg`` inside a comment of a header-less OpenQASM 3 source does not make it version 2."""
    assert qasm_version('// no qreg here\ninclude "stdgates.inc";\nqubit[2] q;\n') == 3


# --- code types --------------------------------------------------------------------------------


def test_code_type_qasm_runs_qasm2_and_qasm3(backend):
    """With code_type ``qasm`` the version comes from each source: a QASM 2 and a QASM 3 Bell both run."""
    first, second = entries(backend, source_code=[BELL, BELL_QASM3])
    assert_bell(first)
    assert_bell(second)


def test_code_type_qasm_runs_a_headerless_qasm3_source(backend):
    """A header-less OpenQASM 3 Bell circuit runs under code_type ``qasm``."""
    source = BELL_QASM3.replace("OPENQASM 3.0;\n", "")
    (entry,) = entries(backend, source_code=[source])
    assert_bell(entry)


def test_code_type_qasm2_forces_the_qasm2_parser(backend):
    """``qasm2`` runs a QASM 2 source and refuses a QASM 3 one with a parse error."""
    good, bad = entries(backend, code_type="qasm2", source_code=[BELL, BELL_QASM3])
    assert_bell(good)
    assert bad.status == "FAILED"
    assert bad.error["code"] == -102


def test_code_type_qasm3_forces_the_qasm3_parser(backend):
    """``qasm3`` runs a QASM 3 source and refuses a QASM 2 one (qelib1.inc) with a parse error."""
    good, bad = entries(backend, code_type="qasm3", source_code=[BELL_QASM3, BELL])
    assert_bell(good)
    assert bad.status == "FAILED"
    assert bad.error["code"] == -102


# --- seed 000's example ------------------------------------------------------------------------


def test_seed_xx_example_reads_11_on_every_shot(backend):
    """Seed 000's two X-on-both-qubits circuits give {"11": 104} each, with the seed's metadata."""
    results = entries(backend, source_code=[XX, XX], shots=104, transpiler="cmss")
    for entry in results:
        assert entry.status == "COMPLETED"
        assert entry.error is None
        assert entry.results == {"11": 104}
        assert entry.num_qubits == 2
        assert entry.metadata["results_fetch_mode"] == "sync"
        assert entry.metadata["status"] == "COMPLETED"
        ended_at = entry.metadata["ended_at"]
        assert isinstance(ended_at, str)
        assert ended_at.endswith("+00:00")
        assert datetime.fromisoformat(ended_at).utcoffset() == timedelta(0)


# --- per-entry errors --------------------------------------------------------------------------


def test_parse_error_fails_only_its_entry(backend):
    """A source that does not parse fails with -102 "[JobEngine] Parse Error: ..."; the other entry completes."""
    bad, good = entries(backend, source_code=[BROKEN, BELL])
    assert bad.status == "FAILED"
    assert bad.results is None
    assert set(bad.error) == {"code", "message"}
    assert bad.error["code"] == -102
    assert bad.error["message"].startswith("[JobEngine] Parse Error: ")
    assert len(bad.error["message"]) > len("[JobEngine] Parse Error: ")
    assert bad.metadata["status"] == "FAILED"
    assert_bell(good)


def test_non_string_entry_is_an_invalid_payload(backend):
    """An entry that is not a string fails with -101; the string entry next to it completes."""
    good, bad = entries(backend, source_code=[BELL, 42])
    assert_bell(good)
    assert bad.status == "FAILED"
    assert bad.error["code"] == -101
    assert bad.error["message"].startswith("[JobEngine] Invalid Payload: ")


def test_circuit_over_max_qubits_is_an_invalid_payload(backend):
    """A circuit wider than ``backend.max_qubits`` fails with -101 and a message naming the limit."""
    backend.max_qubits = 2
    (entry,) = entries(backend, source_code=[GHZ3])
    assert entry.status == "FAILED"
    assert entry.error["code"] == -101
    assert "at most 2" in entry.error["message"]
    assert "3 qubits" in entry.error["message"]


# --- profiling ---------------------------------------------------------------------------------


def test_profiling_has_only_the_requested_stage(backend):
    """Asking for ``driver:transpile`` alone gives exactly that stage, as a float >= 0."""
    (entry,) = entries(backend, source_code=[BELL], profiling=frozenset({"driver:transpile"}))
    assert set(entry.profiling) == {"driver:transpile"}
    assert isinstance(entry.profiling["driver:transpile"], float)
    assert entry.profiling["driver:transpile"] >= 0


def test_profiling_has_every_requested_stage(backend):
    """Asking for the three stages gives the three, each a float >= 0."""
    stages = frozenset({"driver:parse", "driver:transpile", "driver:run"})
    (entry,) = entries(backend, source_code=[BELL], profiling=stages)
    assert set(entry.profiling) == stages
    assert all(isinstance(seconds, float) and seconds >= 0 for seconds in entry.profiling.values())


def test_profiling_is_empty_when_not_requested(backend):
    """No stage requested → ``profiling == {}``."""
    (entry,) = entries(backend, source_code=[BELL])
    assert entry.profiling == {}


# --- transpilers -------------------------------------------------------------------------------


@pytest.mark.parametrize("transpiler", ["none", "qiskit", "cmss", None])
def test_transpiler_gives_bell_counts(backend, transpiler):
    """Every transpiler name (and the default) gives Bell counts: only "00" and "11"."""
    (entry,) = entries(backend, source_code=[BELL], transpiler=transpiler)
    assert_bell(entry)


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_optimization_level_with_basis_gates(backend, level):
    """optimization_level 0..3 with basis_gates ["rz", "sx", "x", "cx"] gives Bell counts."""
    options = {"optimization_level": level, "basis_gates": BASIS}
    (entry,) = entries(backend, source_code=[BELL], transpiler="qiskit", transpiler_options=options)
    assert_bell(entry)


def test_coupling_map_that_fits_runs(backend):
    """A GHZ circuit on a linear coupling map of its width runs and reads only "000"/"111"."""
    options = {"basis_gates": BASIS, "coupling_map": [[0, 1], [1, 2]]}
    (entry,) = entries(backend, source_code=[GHZ3], transpiler_options=options)
    assert entry.status == "COMPLETED", entry.error
    assert set(entry.results) <= {"000", "111"}


def test_coupling_map_too_small_is_a_transpile_error(backend):
    """A 3-qubit GHZ on coupling_map [[0, 1]] fails that entry with -103; the Bell next to it completes."""
    options = {"basis_gates": BASIS, "coupling_map": [[0, 1]]}
    bad, good = entries(backend, source_code=[GHZ3, BELL], transpiler_options=options)
    assert bad.status == "FAILED"
    assert bad.error["code"] == -103
    assert bad.error["message"].startswith("[JobEngine] Transpile Error: ")
    assert_bell(good)


def test_coupling_map_without_basis_gates_runs(backend):
    """A coupling_map alone (the backend's gates) transpiles a Bell circuit that fits it."""
    (entry,) = entries(backend, source_code=[BELL], transpiler_options={"coupling_map": [[0, 1]]})
    assert_bell(entry)


# --- driver options ----------------------------------------------------------------------------


def test_seed_simulator_makes_runs_repeatable(backend):
    """The same ``seed_simulator`` gives the same counts on two runs, and is reported in metadata."""
    options = {"seed_simulator": 1234}
    (first,) = entries(backend, source_code=[BELL], shots=500, driver_options=options)
    (second,) = entries(backend, source_code=[BELL], shots=500, driver_options=options)
    assert first.results == second.results
    assert first.metadata["seed_simulator"] == 1234


def test_memory_gives_one_bitstring_per_shot(backend):
    """``memory: true`` adds one bitstring per shot, tallying to the counts."""
    (entry,) = entries(backend, source_code=[BELL], shots=50, driver_options={"memory": True})
    assert len(entry.memory) == 50
    assert set(entry.memory) <= {"00", "11"}
    assert Counter(entry.memory) == Counter(entry.results)


def test_no_memory_unless_asked(backend):
    """Without ``memory`` in driver_options an entry carries no memory."""
    (entry,) = entries(backend, source_code=[BELL])
    assert entry.memory is None


# --- aggregation -------------------------------------------------------------------------------


def test_circuit_aggregation_keeps_per_entry_results(backend):
    """Aggregating 3 circuits reports each index exactly once, each with its own counts and metadata."""
    reported = run_job(
        backend,
        source_code=[BELL, XX, BELL_QASM3],
        enable_circuit_aggregation=True,
        profiling=frozenset({"driver:run"}),
    )
    assert sorted(index for index, _ in reported) == [0, 1, 2]
    by_index = dict(reported)
    assert_bell(by_index[0])
    assert by_index[1].results == {"11": 200}
    assert_bell(by_index[2])
    for entry in by_index.values():
        assert entry.num_qubits == 2
        assert entry.metadata["status"] == "COMPLETED"
        assert set(entry.profiling) == {"driver:run"}


def test_circuit_aggregation_with_a_failed_entry(backend):
    """With aggregation, a broken middle entry fails alone and the others keep their own results."""
    first, bad, last = entries(backend, source_code=[XX, BROKEN, BELL], enable_circuit_aggregation=True)
    assert first.results == {"11": 200}
    assert bad.error["code"] == -102
    assert_bell(last)


# --- dry run -----------------------------------------------------------------------------------


def test_dry_run_counts_sum_to_shots(backend):
    """A dry run gives counts over the measured bits summing to shots, with ``metadata.dry_run``."""
    (entry,) = entries(backend, source_code=[BELL], shots=300, dry_run=True)
    assert entry.status == "COMPLETED"
    assert sum(entry.results.values()) == 300
    assert all(len(key) == 2 for key in entry.results)
    assert entry.metadata["dry_run"] is True


def test_dry_run_is_deterministic_per_job_id(backend):
    """The same job_id gives the same dry-run counts; another job_id gives other counts."""
    (first,) = entries(backend, source_code=[GHZ3], shots=1000, dry_run=True, job_id=JOB_A)
    (again,) = entries(backend, source_code=[GHZ3], shots=1000, dry_run=True, job_id=JOB_A)
    (other,) = entries(backend, source_code=[GHZ3], shots=1000, dry_run=True, job_id=JOB_B)
    assert first.results == again.results
    assert first.results != other.results


# --- measurement -------------------------------------------------------------------------------


def test_circuit_without_classical_bits_is_measured(backend):
    """A circuit measuring nothing gets every qubit measured: keys have num_qubits characters."""
    (entry,) = entries(backend, source_code=[UNMEASURED3])
    assert entry.status == "COMPLETED", entry.error
    assert entry.num_qubits == 3
    assert all(len(key) == 3 for key in entry.results)
    assert set(entry.results) <= {"000", "001"}
    assert sum(entry.results.values()) == 200


# --- pass manager cache ------------------------------------------------------------------------


def test_pass_manager_is_cached_per_target_and_options():
    """The same key and options give the very same pass manager; other options give another one."""
    sim = AerSimulator()
    key = ("test-pass-manager-cache", "automatic")
    first = transpilers.pass_manager(key, sim, {})
    assert transpilers.pass_manager(key, sim, {}) is first
    other = transpilers.pass_manager(key, sim, {"optimization_level": 3})
    assert other is not first
    assert transpilers.pass_manager(key, sim, {"optimization_level": 3}) is other


# --- threads --------------------------------------------------------------------------------------


def ghz(qubits: int) -> str:
    gates = "".join(f"cx q[{i}],q[{i + 1}];\n" for i in range(qubits - 1))
    return (
        f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{qubits}];\ncreg c[{qubits}];\nh q[0];\n{gates}measure q -> c;\n'
    )


@pytest.fixture
def thread_options(monkeypatch) -> list[Any]:
    """What each real simulator run of the test was given as ``max_parallel_threads`` (None: Aer's own)."""
    seen: list[Any] = []
    real_run = AerSimulator.run

    def run(self, circuits, **options):
        seen.append(options.get("max_parallel_threads"))
        return real_run(self, circuits, **options)

    monkeypatch.setattr(AerSimulator, "run", run)
    return seen


def test_a_small_noiseless_circuit_runs_on_one_thread(backend, thread_options):
    """Under Aer's parallel threshold there is nothing to share: one thread, no OpenMP team spinning
    on cores the other workers need."""
    (entry,) = entries(backend, source_code=[BELL])
    assert_bell(entry)
    assert thread_options == [1]


def test_large_aggregated_or_noisy_runs_keep_aers_threads(backend, thread_options):
    """A state above the threshold, several circuits in one call, or a noise model (parallel shots):
    Aer chooses its threads."""
    (large,) = entries(backend, source_code=[ghz(15)])
    assert large.status == "COMPLETED" and set(large.results) <= {"0" * 15, "1" * 15}
    assert all(
        entry.status == "COMPLETED"
        for entry in entries(backend, source_code=[BELL, BELL], enable_circuit_aggregation=True)
    )
    noisy = Backend.objects.get(name="dummy")
    noisy.options = {**noisy.options, "noise": "device_like"}
    (entry,) = entries(noisy, source_code=[BELL])
    assert entry.status == "COMPLETED"
    assert thread_options == [None, None, None]
