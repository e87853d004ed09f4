"""``qportal`` end to end: the command line as a subprocess against the live portal and its real worker."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from tests.factories import BELL, BELL_QASM3, XX

QPORTAL = Path(sys.executable).parent / "qportal"
SEED_QUBO = Path(__file__).resolve().parent.parent / "data" / "seed_qubo_20.json"
BROKEN = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nnot_a_gate q[0];\n'


def qportal(portal, *args, who=None, env=None, script=False) -> subprocess.CompletedProcess:
    command = [str(QPORTAL)] if script else [sys.executable, "-m", "portal_client"]
    return subprocess.run(
        [*command, *map(str, args)], env=env or portal.env(who), capture_output=True, text=True, timeout=120
    )


def ok(result: subprocess.CompletedProcess, status: int = 0) -> subprocess.CompletedProcess:
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def seed_matrix() -> list[list[int]]:
    return json.loads(SEED_QUBO.read_text())


def table_rows(text: str, heading: str) -> list[list[str]]:
    """The rows of the table printed under the line starting with ``heading`` (its header skipped)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading)) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        rows.append(line.split())
    return rows


def test_submit_circuits_and_wait_prints_counts_per_file(portal, api, tmp_path):
    """Two .qasm files make one job of two entries; --wait prints each entry's counts, most frequent first."""
    bell, xx = write(tmp_path, "bell.qasm", BELL), write(tmp_path, "xx.qasm", XX)
    result = ok(
        qportal(portal, "submit", bell, xx, "--backend", "dummy", "--shots", 200, "--name", "cli bell", "--wait",
                script=True)
    )  # fmt: skip
    heading, *_ = result.stdout.splitlines()
    job_id = heading.split()[1]
    assert heading == f"job {job_id}  COMPLETED  backend dummy  name cli bell"
    bell_rows = table_rows(result.stdout, "entry 0: 200 shots, 2 qubits")
    assert sorted(row[0] for row in bell_rows) == ["00", "11"]
    assert int(bell_rows[0][1]) >= int(bell_rows[1][1])
    assert sum(int(row[1]) for row in bell_rows) == 200
    assert table_rows(result.stdout, "entry 1: 200 shots") == [["11", "200", "1.0000"]]
    assert result.stderr.splitlines()[0].startswith(f"{job_id}  QUEUED")

    job = api.get_job_results(job_id)
    assert (job["code_type"], job["source_code"], job["shots"]) == ("qasm2", [BELL, XX], 200)
    # results prints the same; --json is get_job_results' own answer
    assert ok(qportal(portal, "results", job_id)).stdout == result.stdout
    assert json.loads(ok(qportal(portal, "results", job_id, "--json")).stdout) == job


def test_submit_qubo_matrices_from_csv_and_json(portal, tmp_path):
    """A .csv and a .json matrix are one entry each; --wait --json prints get_job_results' answer."""
    matrix = seed_matrix()
    csv_file = write(tmp_path, "seed.csv", "# the seed's ring\n" + "\n".join(",".join(map(str, r)) for r in matrix))
    json_file = write(tmp_path, "small.json", "[[-1, 2], [0, -1]]")
    result = ok(qportal(portal, "submit", csv_file, json_file, "--backend", "qubo_exact", "--tag", "qubo",
                        "--wait", "--json"))  # fmt: skip
    job = json.loads(result.stdout)
    assert (job["job_status"], job["code_type"], job["tags"]) == ("COMPLETED", "qubo", ["qubo"])
    assert job["source_code"] == [matrix, [[-1, 2], [0, -1]]]
    best = job["results"][0]["results"][0]
    assert (best["result"], best["quboValue"], best["maxcutValue"]) == (1, -112, 28)
    assert job["results"][1]["results"][0]["quboValue"] == -1

    table = ok(qportal(portal, "results", job["job_id"])).stdout
    first = table_rows(table, "entry 0: ")[0]
    assert first == ["1", "-112", "28", "".join(map(str, best["solutionVector"]))]
    assert "rank  quboValue  maxcutValue  solutionVector" in table


def test_submit_prints_the_id_and_status_shows_the_queue(portal, api, tmp_path, paused_dummy):
    """Without --wait submit prints the job id alone; status shows it queued, first in line."""
    bell = write(tmp_path, "bell.qasm", BELL_QASM3)
    result = ok(qportal(portal, "submit", bell, "-b", "dummy", "--priority", 2, "--tag", "a", "--tag", "b",
                        "--name", "queued one"))  # fmt: skip
    job_id = result.stdout.strip()
    assert str(uuid.UUID(job_id)) == job_id
    job = api.get_job_status(job_id)
    assert (job["code_type"], job["job_priority"], job["tags"]) == ("qasm3", 2, ["a", "b"])

    header, line = ok(qportal(portal, "status", job_id)).stdout.splitlines()
    assert header.split() == ["job_id", "status", "progress", "queue", "backend", "name"]
    # a paused backend holds its jobs back from the queue: no position yet
    assert line.split() == [job_id, "QUEUED", "0%", "-", "dummy", "queued", "one"]
    status = json.loads(ok(qportal(portal, "status", job_id, "--json")).stdout)
    assert status == api.get_job_status(job_id)
    # results of a job not yet run: what there is, and exit status 4
    results = ok(qportal(portal, "results", job_id), 4)
    assert "0 of 1 entries done" in results.stdout and "not all in yet" in results.stderr


def test_dry_run_does_not_wait_for_the_paused_backend(portal, tmp_path, paused_dummy):
    """--dry-run parses and transpiles without the backend, so it ends while the backend is paused."""
    bell = write(tmp_path, "bell.qasm", BELL_QASM3)
    result = ok(qportal(portal, "submit", bell, "-b", "dummy", "--dry-run", "--shots", 50, "--wait"))
    assert result.stdout.splitlines()[0].endswith("COMPLETED  backend dummy  (dry run: random counts)")
    assert sum(int(row[1]) for row in table_rows(result.stdout, "entry 0: 50 shots")) == 50


def test_wait_times_out_on_a_queued_job(portal, api, paused_dummy):
    """wait --timeout gives up with exit status 4, having shown where the job waits."""
    job_id = api.submit_job(code_type="qasm2", source_code=[BELL], backend="dummy")["job_id"]
    result = ok(qportal(portal, "wait", job_id, "--timeout", "0.5"), 4)
    assert result.stderr.splitlines()[0] == f"{job_id}  QUEUED"
    assert "error: " in result.stderr and "still QUEUED" in result.stderr and "[0 timeout]" in result.stderr
    assert result.stdout == ""


def test_status_shows_progress_and_queue_position(portal, api, busy_worker):
    """status: a line per job, with the progress of a running one and the place in line of a queued one."""
    queued = api.submit_job(code_type="qasm2", source_code=[BELL], backend="dummy", job_name="next")["job_id"]
    header, *lines = ok(qportal(portal, "status", busy_worker, queued)).stdout.splitlines()
    assert [line.split() for line in lines] == [
        [busy_worker, "RUNNING", "0%", "-", "sleepy"],
        [queued, "QUEUED", "0%", "1", "dummy", "next"],
    ]


def test_wait_shows_each_change_as_it_comes(portal, api, busy_worker):
    """wait shows a job's state at once and each change after; it ends when every job has."""
    from tests.sleepy_driver import release

    queued = api.submit_job(code_type="qasm2", source_code=[BELL, XX], backend="dummy")["job_id"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "portal_client", "wait", busy_worker, queued, "--timeout", "60"],
        env=portal.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    watchdog = threading.Timer(90, proc.kill)
    watchdog.start()
    try:
        first = proc.stderr.readline()  # shown while the job is held running
        release(busy_worker)
        stdout, stderr = proc.communicate()
    finally:
        watchdog.cancel()
    assert proc.returncode == 0, (stdout, stderr)
    assert first == f"{busy_worker}  RUNNING  0%\n"
    assert stdout == f"{busy_worker}  COMPLETED\n{queued}  COMPLETED\n"
    # The jobs are waited for in turn: when the second has already ended by then (a loaded machine),
    # it has no progress line, only its final one on stdout.
    assert all(line.startswith((busy_worker, queued)) for line in stderr.splitlines() if line.strip())
    assert "Traceback" not in stderr


def test_cancel_and_delete(portal, api, paused_dummy):
    """cancel and delete print each job acted on; a job they could not act on is an error saying why."""
    queued = [api.submit_job(code_type="qasm2", source_code=[BELL], backend="dummy")["job_id"] for _ in range(2)]
    result = ok(qportal(portal, "cancel", *queued))
    assert result.stdout.splitlines() == [f"{job_id}  CANCELLED" for job_id in queued]
    assert ok(qportal(portal, "status", queued[0]), 3).stdout.splitlines()[1].split()[1] == "CANCELLED"

    again = ok(qportal(portal, "cancel", queued[0]), 1)
    assert again.stdout == ""
    assert again.stderr == f"error: job {queued[0]} not cancelled: it is CANCELLED\n"

    deleted = json.loads(ok(qportal(portal, "delete", queued[1], "--json")).stdout)
    assert deleted == [{"job_id": queued[1], "job_status": "DELETED"}]
    assert api.get_job_status(queued[1])["job_status"] == "DELETED"
    unknown = str(uuid.uuid4())
    assert ok(qportal(portal, "delete", unknown), 1).stderr == f"error: job {unknown} not found\n"


def test_list_with_filters(portal, api, paused_dummy):
    """list filters by status, backend and tags, and limits; --json is get_jobs' own answer."""
    tagged = api.submit_job(code_type="qasm2", source_code=[BELL], backend="dummy", tags=["x", "y"])["job_id"]
    other = api.submit_job(code_type="qasm2", source_code=[BELL], backend="dummy", tags=["x"])["job_id"]
    api.cancel_jobs([other])

    listed = json.loads(ok(qportal(portal, "list", "--tag", "x", "--tag", "y", "--json")).stdout)
    assert [job["job_id"] for job in listed] == [tagged]
    assert listed == api.get_jobs(tags=["x", "y"])

    header, *lines = ok(
        qportal(portal, "list", "--status", "queued,cancelled", "--backend", "dummy")
    ).stdout.splitlines()
    assert header.split() == ["job_id", "status", "backend", "code_type", "created", "name", "tags"]
    assert [(line.split()[0], line.split()[1]) for line in lines] == [(other, "CANCELLED"), (tagged, "QUEUED")]
    assert len(ok(qportal(portal, "list", "--limit", 1)).stdout.splitlines()) == 2
    none = ok(qportal(portal, "list", "--status", "COMPLETED"))
    assert (none.stdout, none.stderr) == ("", "no jobs match\n")
    assert json.loads(ok(qportal(portal, "list", "--backend", "qubo_sa", "--json")).stdout) == []


def test_failed_job_exit_status_and_entry_errors(portal, tmp_path):
    """A job that ends FAILED exits 3 from submit --wait, wait and results, showing each entry's error."""
    bell, broken = write(tmp_path, "bell.qasm", BELL), write(tmp_path, "broken.qasm", BROKEN)
    result = ok(qportal(portal, "submit", bell, broken, "--backend", "aer_simulator", "--wait"), 3)
    job_id = result.stdout.split()[1]
    assert result.stdout.splitlines()[0].startswith(f"job {job_id}  FAILED")
    assert any(line.startswith("entry 1: error -102: ") for line in result.stdout.splitlines())

    waited = ok(qportal(portal, "wait", job_id), 3)
    assert waited.stdout == f"{job_id}  FAILED\n"
    assert "entry 1: -102" in waited.stderr
    assert ok(qportal(portal, "results", job_id), 3).stdout == result.stdout


def test_backends_table_and_json(portal, api):
    """backends lists every backend with its code types, sizes and queue; --url and --token work as flags."""
    env = {key: value for key, value in portal.env().items() if key not in ("PORTAL_URL", "PORTAL_TOKEN")}
    flags = ["--url", portal.url, "--token", portal.alice.token]
    header, *lines = ok(qportal(portal, *flags, "backends", env=env)).stdout.splitlines()
    assert header.split() == ["name", "status", "code_types", "max_qubits", "max_variables", "queued"]
    rows = {line.split()[0]: line.split() for line in lines}
    assert rows["dummy"][1:3] == ["online", "qasm,qasm2,qasm3"]
    assert rows["qubo_exact"][2] == "qubo" and rows["qubo_exact"][4] == "24"
    answered = json.loads(ok(qportal(portal, "backends", "--json", *flags, env=env)).stdout)
    assert answered == api.get_backends()


def test_portal_errors_exit_1_with_message_and_code(portal, tmp_path):
    """A bad token or someone else's job: the portal's message and codes on stderr, exit 1, no traceback."""
    result = ok(qportal(portal, "backends", env={**portal.env(), "PORTAL_TOKEN": "not-a-token"}), 1)
    assert result.stderr.startswith("error: ") and "[-401 unauthenticated]" in result.stderr

    bell = write(tmp_path, "bell.qasm", BELL)
    job_id = ok(qportal(portal, "submit", bell, "--backend", "dummy", who=portal.bob)).stdout.strip()
    assert "[-404 not_found]" in ok(qportal(portal, "status", job_id), 1).stderr

    invalid = ok(qportal(portal, "submit", bell, "--backend", "dummy", "--priority", 11), 1)
    assert "[-32602 invalid_params]" in invalid.stderr and "job_priority" in invalid.stderr
    assert "[-404 not_found]" in ok(qportal(portal, "submit", bell, "--backend", "nope"), 1).stderr


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "missing.qasm: no such file"),
        ({"circuit.txt": BELL}, "unknown kind of file '.txt'"),
        ({"m.json": '{"a": 1}'}, "a QUBO matrix must be a square list of lists of numbers"),
        ({"m.json": "[[1, 2], [3]]"}, "row 2 has 1 values"),
        ({"m.json": "[[1, 2"}, "not valid JSON"),
        ({"m.csv": "1,2\n3,x\n"}, "line 2: 'x' is not a number"),
        ({"a.qasm": BELL, "m.json": "[[1]]"}, "either circuits (.qasm) or QUBO matrices"),
        ({"a.qasm": BELL, "b.qasm": BELL_QASM3}, "mix OpenQASM 2 and 3"),
    ],
)
def test_bad_files_are_usage_errors(tmp_path, monkeypatch, capsys, files, message):
    """A file that is missing, of an unknown kind, or not a matrix: a clear message and exit 2, before any call."""
    from portal_client.cli import main

    monkeypatch.setenv("PORTAL_URL", "http://127.0.0.1:9")  # never reached: the files are read first
    paths = [str(write(tmp_path, name, text)) for name, text in files.items()] or [str(tmp_path / "missing.qasm")]
    assert main(["submit", *paths, "--backend", "dummy"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and message in captured.err


def test_usage_errors_and_no_url(portal, tmp_path):
    """No portal URL, or arguments argparse refuses: exit 2 with a message."""
    env = {key: value for key, value in portal.env().items() if key != "PORTAL_URL"}
    result = ok(qportal(portal, "backends", env=env), 2)
    assert result.stderr == "error: no portal URL: set PORTAL_URL or pass --url\n"
    bell = write(tmp_path, "bell.qasm", BELL)
    assert "--backend" in ok(qportal(portal, "submit", bell), 2).stderr
    assert "invalid choice" in ok(qportal(portal, "frobnicate"), 2).stderr


def test_qubo_csv_reader_takes_blanks_and_comments(tmp_path):
    """CSV matrices: commas or blanks between values, comments and blank lines skipped, floats kept."""
    from portal_client.files import read_qubo_csv, read_sources

    path = write(tmp_path, "m.csv", "# Q\n-1, 0.5\n\n0 -2\n")
    assert read_qubo_csv(path) == [[-1, 0.5], [0, -2]]
    assert read_sources([str(path)]) == ("qubo", [[[-1, 0.5], [0, -2]]])


def test_progress_line_redraws_on_a_terminal():
    """On a terminal the progress line is redrawn in place, then cleared; elsewhere each change is a line."""
    from portal_client.cli import ProgressLine

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        line = ProgressLine(stream)
        for text in ("j  QUEUED", "j  QUEUED", "j  RUNNING  50%", "j  COMPLETED"):
            line.show(text)
        line.end()
    assert terminal.getvalue() == "\r\033[Kj  QUEUED\r\033[Kj  RUNNING  50%\r\033[Kj  COMPLETED\r\033[K"
    assert pipe.getvalue() == "j  QUEUED\nj  RUNNING  50%\nj  COMPLETED\n"
