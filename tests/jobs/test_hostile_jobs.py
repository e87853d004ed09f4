"""Every job is someone else's untrusted program (SPEC §13): includes never reach a file, what sizes an
allocation is checked before anything is built, every work horse runs under a memory cap, and any
failure inside a driver -- native panics and aborts included -- ends the job at once with its code.

The hostile sources run in forking workers (under their memory cap), never in the test process: a
regression must end at the cap, not take the machine's memory.
"""

from __future__ import annotations

import pytest
from qiskit import qasm2

from backends.models import Backend
from drivers import qasm
from drivers.errors import EXECUTION_ERROR, PARSE_ERROR, EntryError, StopJob, entry_error
from jobs.models import Job
from jobs.services import JobSpec, job_submit
from tests.conftest import error_of
from tests.factories import BELL, BELL_QASM3, make_tenant
from tests.hostile_driver import PANIC_SOURCE
from tests.workers import run_burst_worker

INCLUDES = [
    'OPENQASM 2.0;\ninclude "/etc/passwd";\nqreg q[1];\n',
    'OPENQASM 2.0;\ninclude "/no/such/file.inc";\nqreg q[1];\n',
    'OPENQASM 2.0;\ninclude "var/secret_key";\nqreg q[1];\n',
    'OPENQASM 2.0;\ninclude "manage.py";\nqreg q[1];\n',
    'OPENQASM 2.0;\ninclude "//etc/passwd";\nqreg q[1];\n',
    'OPENQASM 2.0;\ninclude /* hidden */ "/etc/passwd";\nqreg q[1];\n',
    'OPENQASM 2.0;\ninclude "stdgates.inc";\nqreg q[1];\n',
    'OPENQASM 3.0;\ninclude "/etc/passwd";\nqubit[1] q;\n',
    'OPENQASM 3.0;\ninclude "qelib1.inc";\nqubit[1] q;\n',
]


def nested_gates(levels: int) -> str:
    """Gate g_i calls g_(i-1) twice: a few lines that unroll to 2**levels operations."""
    source = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ngate g0 a { h a; }\n'
    source += "".join(f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}\n" for i in range(1, levels + 1))
    return source + f"g{levels} q[0];\n"


HUGE = [
    "OPENQASM 2.0;\nqreg q[1000000000];\n",
    "OPENQASM 2.0;\ncreg c[1000000000];\n",
    "OPENQASM 2.0;\nqreg q[1000000000000000000000000000000];\n",
    "OPENQASM 2.0;\nqreg q[" + "9" * 5000 + "];\n",
    "OPENQASM 3.0;\nqubit[1000000000] q;\n",
    "OPENQASM 3.0;\nbit[1000000000] c;\n",
    "OPENQASM 3.0;\nqubit[100000*10000] q;\n",
    'OPENQASM 3.0;\ninclude "stdgates.inc";\nh $1000000000;\n',
    "OPENQASM 3.0;\nqreg q[1000000000];\n",
    nested_gates(40),
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[64];\ngate g a { h a; h a; }\ngate f a { g a; g a; }\n'
    + "f q;\n" * 40_000,
]


def scan_error(code_type: str, source: str, max_qubits: int | None = 64) -> EntryError:
    """The error of the text scan alone: nothing is parsed or built."""
    with pytest.raises(EntryError) as caught:
        qasm.check_declared(qasm.scan(code_type, source), max_qubits=max_qubits, backend_name="dummy")
    return caught.value


# --- Includes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("source", INCLUDES)
def test_any_include_but_the_standard_library_is_one_parse_error(source):
    """Every other include is -102 with the same message, whether or not such a file exists."""
    error = scan_error("qasm", source)
    assert error.code == PARSE_ERROR
    assert error.detail == qasm.INCLUDE_REFUSED


def test_the_standard_libraries_still_include():
    """qelib1.inc (OpenQASM 2) and stdgates.inc (OpenQASM 3) come from the parsers' own copies."""
    assert qasm.parse("qasm2", BELL, max_qubits=64, backend_name="dummy").num_qubits == 2
    assert qasm.parse("qasm3", BELL_QASM3, max_qubits=64, backend_name="dummy").num_qubits == 2


def test_the_parser_itself_reads_no_file_even_if_the_scan_let_one_through(tmp_path, monkeypatch):
    """Defence in depth: the OpenQASM 2 parser runs with no include path, so a file beside it is not found."""
    (tmp_path / "mine.inc").write_text("gate secret a { }\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(qasm, "scan", lambda code_type, source: qasm.Declared(version=2, qubits=1, clbits=0))
    with pytest.raises(EntryError) as caught:
        qasm.parse("qasm2", 'OPENQASM 2.0;\ninclude "mine.inc";\nqreg q[1];\n', max_qubits=64, backend_name="d")
    assert caught.value.code == PARSE_ERROR
    assert "secret" not in caught.value.detail


# --- Sizes before allocation --------------------------------------------------------------------


@pytest.mark.parametrize("source", HUGE)
def test_declared_sizes_over_the_backend_are_refused_from_the_text(source):
    """Registers, classical bits and physical qubits beyond the backend: -101 before any parse."""
    error = scan_error("qasm", source)
    assert error.code == -101
    assert "dummy" in error.detail or "integer literal" in error.detail or "unroll" in error.detail


def test_a_backend_without_a_qubit_limit_still_has_a_ceiling():
    """max_qubits null is not unbounded: the ceiling holds."""
    assert scan_error("qasm2", HUGE[0], max_qubits=None).code == -101
    assert qasm.scan("qasm2", BELL).qubits == 2


def test_ordinary_gate_definitions_pass_the_unrolled_size_check():
    """A circuit defining and calling its own gates is counted, not refused."""
    source = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ngate bell a, b { h a; cx a, b; }\n'
    source += "bell q[0], q[1];\nbell q;\n"
    assert qasm.scan("qasm2", source).expanded_gates == 2 + 2 * 3


def test_sizes_in_comments_do_not_count():
    """A register mentioned in a comment allocates nothing and is not refused."""
    source = "OPENQASM 2.0;\n// qreg q[1000000000];\n/* creg c[1000000000]; */\nqreg q[2];\ncreg c[2];\n"
    assert qasm.scan("qasm2", source) == qasm.Declared(version=2, qubits=2, clbits=2)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_hostile_sources_fail_at_once_in_a_real_worker():
    """Each hostile entry ends FAILED with its code, at once; the job after them completes."""
    tenant = make_tenant()
    hostile = job_submit(
        user=tenant.user,
        project=tenant.project,
        spec=JobSpec(code_type="qasm", source_code=[*INCLUDES, *HUGE], backend="dummy"),
    )
    after = job_submit(
        user=tenant.user, project=tenant.project, spec=JobSpec(code_type="qasm2", source_code=[BELL], backend="dummy")
    )
    run_burst_worker(timeout=120)
    hostile = Job.objects.get(pk=hostile.pk)
    assert hostile.status == "FAILED" and hostile.attempts == 1
    codes = [entry.error["code"] for entry in hostile.entries.order_by("index")]
    assert codes == [-102] * len(INCLUDES) + [-101] * len(HUGE)
    messages = " ".join(entry.error["message"] for entry in hostile.entries.all())
    assert "root" not in messages and "passwd:" not in messages
    assert Job.objects.get(pk=after.pk).status == "COMPLETED"


def test_a_coupling_map_beyond_the_backend_is_refused_at_submit(rpc, tenant):
    """transpiler_options.coupling_map naming qubit 10**9 on a 64-qubit backend: -32602 naming it."""
    body = {
        "code_type": "qasm2",
        "source_code": [BELL],
        "backend": "dummy",
        "transpiler_options": {"coupling_map": [[0, 1], [1, 10**9]]},
    }
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -32602
    assert error["data"]["errors"][0]["field"] == "transpiler_options.coupling_map"


@pytest.mark.django_db
def test_a_stored_coupling_map_beyond_the_backend_fails_its_entries_before_building():
    """A job stored before the check (or by an operator) still never builds the pass manager: -101."""
    from drivers.aer import AerDriver
    from drivers.base import DriverJob

    backend = Backend.objects.get(name="dummy")
    job = DriverJob(
        job_id="00000000-0000-4000-8000-000000000001",
        code_type="qasm2",
        source_code=[BELL],
        shots=10,
        transpiler_options={"coupling_map": [[0, 10**9]]},
    )
    reported = []
    AerDriver().run(backend, job, lambda index, entry: reported.append(entry))
    assert [entry.error["code"] for entry in reported] == [-101]


# --- Failures inside drivers ---------------------------------------------------------------------


def _panic() -> BaseException:
    try:
        qasm2.loads(PANIC_SOURCE)
    except BaseException as exc:  # noqa: B036 -- the point: pyo3's PanicException is not an Exception
        return exc
    raise AssertionError("qiskit no longer panics on this source")


def test_a_native_panic_ends_the_entry_with_its_stage_code():
    """pyo3's PanicException (a BaseException) becomes the stage's error, not an escape."""
    panic = _panic()
    assert not isinstance(panic, Exception)
    error = entry_error(panic, PARSE_ERROR)
    assert error.code == PARSE_ERROR


@pytest.mark.parametrize("signal_exc", [StopJob(), KeyboardInterrupt(), SystemExit(1)])
def test_the_workers_own_signals_are_never_swallowed(signal_exc):
    """Time limits and shutdowns pass through a driver's error handling."""
    with pytest.raises(type(signal_exc)):
        entry_error(signal_exc, PARSE_ERROR)


def test_running_out_of_memory_is_an_execution_error_named_memory_limit():
    """A MemoryError in any stage is -104 'memory limit'."""
    error = entry_error(MemoryError(), PARSE_ERROR)
    assert error.code == EXECUTION_ERROR and "memory limit" in error.detail


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_panic_escaping_a_driver_fails_the_job_at_once(run_worker):
    """A driver whose run() panics: FAILED -104 with a reference, not left RUNNING to be retried."""
    Backend.objects.create(name="panicky", driver="panicky", code_types=["qasm2"])
    tenant = make_tenant()
    job = job_submit(
        user=tenant.user, project=tenant.project, spec=JobSpec(code_type="qasm2", source_code=[BELL], backend="panicky")
    )
    run_worker()
    job = Job.objects.get(pk=job.pk)
    assert job.status == "FAILED" and job.attempts == 1
    error = job.entries.get().error
    assert error["code"] == -104 and "internal error (ref " in error["message"]


# --- The memory cap ------------------------------------------------------------------------------


def _submit_on(backend: str, source: str, tenant, code_type: str = "qasm2") -> Job:
    return job_submit(
        user=tenant.user,
        project=tenant.project,
        spec=JobSpec(code_type=code_type, source_code=[source], backend=backend),
    )


def _capped_backend(name: str, driver: str, **options) -> Backend:
    return Backend.objects.create(
        name=name, driver=driver, code_types=["qasm2"], max_qubits=64, options={"memory_limit_mb": 2048, **options}
    )


def _assert_failed_at_once(job: Job, reason: str) -> dict:
    """The job FAILED on its first attempt, -104 with ``reason`` in the message; answers the entry's error."""
    job = Job.objects.get(pk=job.pk)
    assert job.status == "FAILED" and job.attempts == 1, (job.status, job.attempts)
    error = job.entries.get().error
    assert error["code"] == -104 and reason in error["message"], error
    return error


def _run_with_one_after(backend: str, source: str, *, timeout: int = 120) -> Job:
    """``source`` on ``backend``, then a Bell job on dummy, through one burst worker: answers the first
    job, once the one after it is seen COMPLETED (the worker went on)."""
    tenant = make_tenant()
    job = _submit_on(backend, source, tenant)
    after = _submit_on("dummy", BELL, tenant)
    run_burst_worker(timeout=timeout)
    assert Job.objects.get(pk=after.pk).status == "COMPLETED"
    return job


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_job_that_grows_past_its_cap_fails_and_the_worker_goes_on():
    """Python code allocating without end: FAILED -104 'memory limit' at once; the next job completes."""
    _capped_backend("hog", "hog")
    _assert_failed_at_once(_run_with_one_after("hog", BELL), "memory limit")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_process_aborted_by_its_job_fails_it_at_once():
    """A horse that aborts without having grown: FAILED -104 'crashed (SIGABRT)', never re-queued."""
    _capped_backend("aborting", "aborting")
    error = _assert_failed_at_once(_run_with_one_after("aborting", BELL), "crashed (SIGABRT)")
    assert "memory limit" not in error["message"]


def test_growth_toward_the_cap_is_what_names_the_memory_limit():
    """A quarter of the room under the cap taken before dying is the cap; less is a crash of its own."""
    from drivers.memory import grew_near_cap

    gib = 2**30
    assert grew_near_cap(start=2 * gib, peak=3 * gib, cap=6 * gib)
    assert not grew_near_cap(start=2 * gib, peak=2 * gib + gib // 2, cap=6 * gib)
    assert not grew_near_cap(start=6 * gib, peak=6 * gib, cap=6 * gib)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_state_vector_over_the_cap_fails_with_memory_limit():
    """Aer asked for 8 GiB of state under a 2 GiB cap (the backend's own state limit raised): -104."""
    _capped_backend("aer_capped", "aer", method="statevector", max_memory_mb=65536)
    tenant = make_tenant()
    wide = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[29];\ncreg c[29];\nh q;\nt q;\nmeasure q -> c;\n'
    job = _submit_on("aer_capped", wide, tenant)
    run_burst_worker(timeout=120)
    _assert_failed_at_once(job, "memory limit")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_circuit_whose_gates_expand_past_the_cap_fails_with_memory_limit():
    """Nested gates just under the unrolled-size bound, on a tight cap: they pass every check, then
    outgrow the cap when unrolled: -104."""
    _capped_backend("aer_capped", "aer")
    levels = qasm.MAX_EXPANDED_GATES.bit_length() - 1
    assert qasm.scan("qasm2", nested_gates(levels)).expanded_gates <= qasm.MAX_EXPANDED_GATES
    _assert_failed_at_once(_run_with_one_after("aer_capped", nested_gates(levels), timeout=180), "memory limit")


def test_a_backend_memory_limit_must_be_a_sane_number():
    """options.memory_limit_mb below the floor or not an integer is refused by the model."""
    from django.core.exceptions import ValidationError

    for bad in (100, "4096", True, 2.5):
        backend = Backend(name="x", driver="aer", code_types=["qasm2"], options={"memory_limit_mb": bad})
        with pytest.raises(ValidationError):
            backend.clean()
    assert Backend(options={"memory_limit_mb": 3000}).memory_limit_bytes == 3000 * 2**20
