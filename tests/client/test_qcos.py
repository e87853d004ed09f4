"""QCOS's own client and CLI (wy-qcos-client 1.8.0, SPEC §12) against the live portal, unchanged: the
``qcos-cli`` its users type, and its Python ``Client``, with the sample files it ships."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.factories import make_user
from tests.workers import wait_for

QCOS_CLI = Path(sys.executable).parent / "qcos-cli"
SAMPLES = Path(sys.prefix) / "share" / "wy_qcos_client" / "samples"
BELL_FILE = SAMPLES / "qasm" / "2.0" / "bell-with-cz.qasm"
QUBO_FILE = SAMPLES / "qubo" / "simple-qubo.json"
PASSWORD = "a-long-test-password-1"


@pytest.fixture
def qcos(portal):
    """Run ``qcos-cli`` against the portal, as alice unless told otherwise; answers the finished process."""
    port = str(urlsplit(portal.url).port)

    def run(*args: str, token: str | None = None, env: dict[str, str] | None = None, check: bool = True):
        environment = {**portal.env(), "QCOS_ACCESS_TOKEN": portal.alice.token if token is None else token}
        environment.pop("QCOS_REFRESH_TOKEN", None)
        done = subprocess.run(
            [str(QCOS_CLI), "--api-host", "127.0.0.1", "--api-port", port, *args],
            env={**environment, **(env or {})}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if check:
            assert done.returncode == 0, done.stderr
        return done

    return run


def job_id_of(done) -> str:
    return re.search(r"Job ID: ([0-9a-f-]{36})", done.stdout).group(1)


def status_of(qcos, job_id: str, **kwargs) -> str:
    return qcos("get-job-status", job_id, "-f", "value", "-c", "JOB_STATUS", **kwargs).stdout.strip()


def wait_done(qcos, job_id: str) -> str:
    wait_for(lambda: status_of(qcos, job_id) in ("COMPLETED", "FAILED"), timeout=120, what="the job to end")
    return status_of(qcos, job_id)


def shown(done) -> dict:
    """A show command's ``-f json`` answer (after the "Latest job_id" line that ``last`` prints)."""
    return json.loads(done.stdout[done.stdout.index("{") :])


def listed(done) -> list[dict]:
    """A list command's ``-f json`` answer (the CLI prints its "Total ..." line after the JSON)."""
    return json.loads(done.stdout[: done.stdout.rindex("]") + 1])


# --- version, devices, transpilers, projects --------------------------------------------------------


def test_version_with_details_lists_the_transpilers(qcos):
    """``version --details`` shows the server's versions and capabilities, transpilers by name."""
    out = qcos("version", "--details").stdout
    assert "API version: v1" in out and "Auth mode: token" in out
    assert "job_types: estimation, estimator, sampler, sampling" in out
    assert "'cmss'" in out and "'qiskit'" in out


def test_devices_are_the_backends(qcos):
    """``list-devices`` and ``get-device`` show the portal's backends, online ones with status online."""
    devices = {row["NAME"]: row for row in listed(qcos("list-devices", "-f", "json"))}
    assert {"dummy", "aer_simulator", "qubo_sa"} <= set(devices)
    assert devices["dummy"]["STATUS"] == "online [auto]" and devices["dummy"]["ENABLE"] is True
    device = shown(qcos("get-device", "dummy", "--details", "-f", "json"))
    assert (device["NAME"], device["DRIVER_NAME"], device["TECH_TYPE"]) == ("dummy", "aer", "generic_simulator")
    assert "JOB_COUNT" in device


def test_unknown_device_is_not_found(qcos):
    done = qcos("get-device", "no-such-device", check=False)
    assert done.returncode == 1 and "(-404)" in done.stderr and "no-such-device" in done.stderr


def test_transpilers(qcos):
    """``list-transpilers`` and ``get-transpiler`` show the portal's transpilers."""
    names = {row["NAME"] for row in listed(qcos("list-transpilers", "-f", "json"))}
    assert names == {"cmss", "qiskit", "none"}
    assert shown(qcos("get-transpiler", "cmss", "-f", "json"))["SUPPORTED_CODE_TYPES"] == ["qasm", "qasm2", "qasm3"]


def test_projects_are_the_callers_own(qcos, portal):
    """``list-projects`` shows alice's project and never bob's."""
    ids = {row["ID"] for row in listed(qcos("list-projects", "-f", "json"))}
    assert ids == {str(portal.alice.project.project_id)}
    by_name = listed(qcos("list-projects", "--name", portal.alice.project.slug, "-f", "json"))
    assert [row["ID"] for row in by_name] == [str(portal.alice.project.project_id)]


# --- login, whoami, refresh, logout ---------------------------------------------------------------


def exports(done) -> dict[str, str]:
    return dict(re.findall(r"export (QCOS_\w+)=(\S+)", done.stdout))


def test_login_whoami_refresh_logout(qcos, portal):
    """A password login gives tokens that work; a refresh rotates them (the used one stops working);
    logout revokes the access token."""
    user = make_user(password=PASSWORD)
    login = qcos("login", user.username, PASSWORD, token="")
    tokens = exports(login)
    assert "Access token expires in 1800 seconds" in login.stdout
    access, refresh = tokens["QCOS_ACCESS_TOKEN"], tokens["QCOS_REFRESH_TOKEN"]
    assert shown(qcos("whoami", "-f", "json", token=access))["USER_NAME"] == user.username

    refreshed = exports(qcos("refresh-token", token=access, env={"QCOS_REFRESH_TOKEN": refresh}))
    assert refreshed["QCOS_ACCESS_TOKEN"] != access
    assert qcos("whoami", token=access, check=False).returncode == 1  # the old access token is revoked
    again = qcos("refresh-token", token="", env={"QCOS_REFRESH_TOKEN": refresh}, check=False)
    assert again.returncode == 1 and "(-401)" in again.stderr  # a refresh token works once

    new_access = refreshed["QCOS_ACCESS_TOKEN"]
    assert "Logout successful" in qcos("logout", token=new_access).stdout
    after = qcos("whoami", token=new_access, check=False)
    assert after.returncode == 1 and "(-401)" in after.stderr


def test_login_token_works_on_the_portals_own_faces(qcos, portal):
    """The access token of a login is an API token like any other: the portal's REST API takes it."""
    import requests

    user = make_user(password=PASSWORD)
    access = exports(qcos("login", user.username, PASSWORD, token=""))["QCOS_ACCESS_TOKEN"]
    response = requests.get(f"{portal.url}/api/v1/jobs/", headers={"Authorization": f"Bearer {access}"}, timeout=30)
    assert response.status_code == 200


def test_wrong_password_is_refused(qcos):
    user = make_user(password=PASSWORD)
    done = qcos("login", user.username, "not-the-password", token="", check=False)
    assert done.returncode == 1 and "(-401)" in done.stderr


def test_guessing_passwords_ends_in_a_clean_lockout(qcos):
    """Under the ASGI server too, the sign-in lockout answers the CLI as JSON-RPC (-403), never HTML."""
    user = make_user(password=PASSWORD)
    for _ in range(5):  # LOGIN_FAILURE_LIMIT's default
        qcos("login", user.username, "wrong-guess", token="", check=False)
    done = qcos("login", user.username, PASSWORD, token="", check=False)
    assert done.returncode == 1 and "(-403)" in done.stderr and "Too many failed sign-ins" in done.stderr


def test_a_stale_token_does_not_stop_login(qcos):
    """The CLI sends whatever QCOS_ACCESS_TOKEN holds with login and version; they ignore it."""
    user = make_user(password=PASSWORD)
    assert exports(qcos("login", user.username, PASSWORD, token="qp_revoked-or-made-up"))["QCOS_ACCESS_TOKEN"]
    assert "Server version" in qcos("version", token="qp_revoked-or-made-up").stdout


# --- jobs -----------------------------------------------------------------------------------------


def test_submit_a_qasm_file_and_read_its_results(qcos):
    """``submit-job`` with the client's own Bell sample; status, results and the job list follow it."""
    job_id = job_id_of(qcos("submit-job", "--backend", "dummy", "-f", str(BELL_FILE), "--shots", "100"))
    assert wait_done(qcos, job_id) == "COMPLETED"
    results = shown(qcos("get-job-results", job_id, "-f", "json"))
    counts = results["RESULTS [0]"]
    assert sum(counts.values()) == 100 and set(counts) <= {"00", "11"}
    assert [row["JOB_ID"] for row in listed(qcos("list-jobs", "--job-ids", job_id, "-f", "json"))] == [job_id]
    assert shown(qcos("get-job-status", "last", "-f", "json"))["JOB_ID"] == job_id  # newest first


def test_submit_a_qubo_matrix_file(qcos):
    """A QUBO matrix from the client's samples runs on the annealer and answers solutions."""
    done = qcos("submit-job", "--backend", "qubo_sa", "--code-type", "qubo", "-f", str(QUBO_FILE))
    job_id = job_id_of(done)
    assert wait_done(qcos, job_id) == "COMPLETED"
    assert shown(qcos("get-job-results", job_id, "-f", "json"))["RESULTS [0]"]


def test_update_cancel_and_delete(qcos, paused_dummy):
    """A job held on a paused backend is renamed, re-prioritised, cancelled and deleted."""
    job_id = job_id_of(qcos("submit-job", "--backend", "dummy", "-f", str(BELL_FILE)))
    assert (
        "Job updated successfully" in qcos("update-job", job_id, "--job-name", "renamed", "--job-priority", "2").stdout
    )
    status = shown(qcos("get-job-status", job_id, "-f", "json"))
    assert (status["JOB_NAME"], status["JOB_PRIORITY"]) == ("renamed", 2)
    assert "1 jobs will be cancelled" in qcos("cancel-jobs", job_id).stdout
    assert status_of(qcos, job_id) == "CANCELLED"
    assert "1 jobs will be deleted" in qcos("delete-jobs", job_id).stdout
    assert status_of(qcos, job_id) == "DELETED"


def test_force_delete_is_for_operators(qcos, portal, busy_worker):
    """``delete-jobs --force`` stops and deletes a running job for an operator; a member may not."""
    refused = qcos("delete-jobs", busy_worker, "--force", token=portal.alice.token, check=False)
    assert refused.returncode == 1 and "(-403)" in refused.stderr
    assert "1 jobs will be deleted" in qcos("delete-jobs", busy_worker, "--force", token=portal.staff.token).stdout
    assert status_of(qcos, busy_worker, token=portal.staff.token) == "DELETED"


def test_set_job_results_by_an_operator(qcos, portal, paused_dummy):
    """``set-job-results`` stores results an operator fetched elsewhere; the job is COMPLETED."""
    job_id = job_id_of(qcos("submit-job", "--backend", "dummy", "-f", str(BELL_FILE)))
    qcos(
        "set-job-results",
        job_id,
        "--results",
        '{"results": {"00": 3, "11": 5}, "num_qubits": 2}',
        token=portal.staff.token,
    )
    assert status_of(qcos, job_id) == "COMPLETED"
    assert shown(qcos("get-job-results", job_id, "-f", "json"))["RESULTS [0]"] == {"00": 3, "11": 5}


def test_errors_are_shown_cleanly(qcos, portal):
    """An unknown job, bad parameters and someone else's job each end with the portal's message."""
    unknown = qcos("get-job-status", str(uuid.uuid4()), check=False)
    assert unknown.returncode == 1 and "(-404)" in unknown.stderr and "not found" in unknown.stderr
    bad = qcos(
        "submit-job", "--backend", "dummy", "-f", str(BELL_FILE), "--driver-options", '{"bogus": 1}', check=False
    )
    assert bad.returncode == 1 and "(-32602)" in bad.stderr and "loc: driver_options, bogus" in bad.stderr
    bobs = job_id_of(qcos("submit-job", "--backend", "dummy", "-f", str(BELL_FILE), token=portal.bob.token))
    theirs = qcos("get-job-status", bobs, check=False)
    assert theirs.returncode == 1 and "(-404)" in theirs.stderr  # another tenant's job: not found, as missing


def test_options_the_portal_cannot_honour_are_501(qcos):
    """A non-empty qec_options is refused by name (-501), not ignored."""
    done = qcos(
        "submit-job",
        "--backend",
        "dummy",
        "-f",
        str(BELL_FILE),
        "--qec-options",
        '{"qec_code": "surface"}',
        check=False,
    )
    assert done.returncode == 1 and "(-501)" in done.stderr and "qec_options" in done.stderr


# --- the Python Client ----------------------------------------------------------------------------


def test_python_client_submits_and_reads(portal):
    """QCOS's ``Client`` as a library: submit_job (its defaults: cmss, sampling, nulls), status, results."""
    from wy_qcos_client.client import Client

    client = Client(api_server_ip="127.0.0.1", api_server_port=urlsplit(portal.url).port)
    client.set_token(portal.alice.token)

    def result(answer):
        status_code, _reason, text, _response = answer
        assert status_code == 200, text
        body = json.loads(text)
        assert "error" not in body, body
        return body["result"]

    job = result(client.submit_job([BELL_FILE.read_text()], backend="dummy", shots=50))
    assert job["job_type"] == "sampling" and job["transpiler"] == "cmss"
    wait_for(
        lambda: result(client.get_job_status(job["job_id"]))["job_status"] == "COMPLETED", timeout=120, what="the job"
    )
    entries = result(client.get_job_results(job["job_id"]))["results"]
    assert sum(entries[0]["results"].values()) == 50
    assert [j["job_id"] for j in result(client.get_jobs({"job_ids": [job["job_id"]]}))] == [job["job_id"]]


# --- metrics (/v1/metrics) --------------------------------------------------------------------------


def test_metrics_commands_are_for_operators(qcos, portal):
    """``get-system-health``, ``get-api-stats`` and ``get-job-stats`` show the portal's figures to an
    operator; a member gets QCOS's -403."""
    for command in ("get-system-health", "get-api-stats", "get-job-stats"):
        refused = qcos(command, check=False)
        assert refused.returncode == 1 and "(-403)" in refused.stderr, (command, refused.stderr)
    health = qcos("get-system-health", token=portal.staff.token).stdout
    assert "Overall System Status: online" in health  # the live portal has its worker
    for component in ("web", "database", "redis", "worker"):
        assert re.search(rf"\|\s*{component}\s*\|\s*online\s*\|", health), health
    api = qcos("get-api-stats", token=portal.staff.token).stdout
    assert re.search(r"\|\s*total_requests\s*\|\s*[1-9]\d*\s*\|", api), api
    jobs = qcos("get-job-stats", token=portal.staff.token).stdout
    for field in ("total", "completed", "queued", "deleting", "submitted_job_rate_min", "completed_job_rate_min"):
        assert re.search(rf"\|\s*{field}\s*\|", jobs), (field, jobs)


def test_the_python_clients_metrics_methods(portal):
    """QCOS's ``Client``: the answers' fields, counted from what happened."""
    from wy_qcos_client.client import Client

    client = Client(api_server_ip="127.0.0.1", api_server_port=urlsplit(portal.url).port)
    client.set_token(portal.staff.token)

    def result(answer):
        status_code, _reason, text, _response = answer
        assert status_code == 200, text
        return json.loads(text)["result"]

    before = result(client.get_api_stats())
    assert set(before) == {"total_requests", "last_hour_requests", "last_day_requests"}
    job = result(client.submit_job([BELL_FILE.read_text()], backend="dummy", shots=20))
    wait_for(lambda: result(client.get_job_status(job["job_id"]))["job_status"] == "COMPLETED", timeout=120, what="job")
    stats = result(client.get_job_stats())
    assert stats["completed"] >= 1 and stats["total"] == sum(
        stats[name] for name in ("completed", "failed", "running", "queued", "cancelling", "cancelled", "deleting",
                                 "deleted", "unknown")
    )  # fmt: skip
    assert stats["submitted_job_rate_min"] >= 1.0 and stats["completed_job_rate_min"] >= 1.0
    # Counted since ``before``: the submit, each status poll (at least one; the metrics calls are
    # not counted, as in QCOS) and these two.
    for _ in range(2):
        result(client.get_job_status(job["job_id"]))
    after = result(client.get_api_stats())  # counted by the web process once a second: a fresh look
    wait_for(
        lambda: result(client.get_api_stats())["total_requests"] >= before["total_requests"] + 4,
        timeout=10, what="the requests counted",
    )  # fmt: skip
    assert after["last_day_requests"] >= after["last_hour_requests"] >= 1
    health = result(client.get_system_health())
    assert health["system_healthy"] is True and isinstance(health["heartbeat_timestamp"], float)
    assert health["component_status"] == {"web": "online", "database": "online", "redis": "online", "worker": "online"}
