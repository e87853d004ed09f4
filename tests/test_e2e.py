"""End to end over real HTTP: the seed's "best practice" flow against a live server and a real
worker, and ``runportal`` started as a user would start it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest
import requests
from django.conf import settings

from tests.factories import BELL, make_tenant
from tests.workers import read_events, wait_for

ROOT = Path(__file__).resolve().parent.parent


class RpcClient:
    def __init__(self, base_url: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method: str, body: dict) -> dict:
        payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {"body": body}}
        response = self.session.post(f"{self.base_url}/v1/job/{method}", json=payload, timeout=30)
        response.raise_for_status()
        data = response.json()
        assert "error" not in data, data
        return data["result"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_best_practice_flow_over_http(live_server, run_worker):
    """Seed 000's best practice: submit, poll get_job_status until final, then get_job_results."""
    tenant = make_tenant()
    call = RpcClient(live_server.url, tenant.token)
    job = call(
        "submit_job",
        {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "transpiler": "cmss", "shots": 1000,
         "job_priority": 5, "code_compression_level": 5, "tags": ["exp1", "circuit1"]},
    )  # fmt: skip
    assert call("get_job_status", {"job_id": job["job_id"]})["queue_position"] == 1
    run_worker()  # RQ installs signal handlers, so it runs in the main thread; the server has its own
    status = wait_for(
        lambda: (s := call("get_job_status", {"job_id": job["job_id"]}))["job_status"] in ("COMPLETED", "FAILED") and s,
        timeout=60,
        what="the job to end",
    )
    assert status["job_status"] == "COMPLETED"
    results = call("get_job_results", {"job_id": job["job_id"]})
    counts = results["results"][0]["results"]
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 1000
    assert results["source_code"] == [BELL]
    assert results["tags"] == ["circuit1", "exp1"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_runportal_first_start_and_clean_stop(tmp_path):
    """runportal on an empty database prints a curl command that completes a Bell job when pasted,
    and SIGTERM stops the web server and workers with no process left behind."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "REDIS_URL": settings.REDIS_URL,  # the test run's own Redis database
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "runportal", "--port", str(port), "--workers", "1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        # stdout is a pipe, not a terminal: the banner names an owner-only file holding the credentials.
        credentials = wait_for(
            lambda: next((Path(line.strip()) for line in lines if "first-start-credentials" in line), None),
            timeout=120,
            what="the credentials file named in runportal's banner",
        )
        text = credentials.read_text()
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        credentials.unlink()  # this test's own, in the project's var/
        curl = next(line.strip() for line in text.splitlines() if line.strip().startswith("curl "))
        token = re.search(r"Bearer (qp_[\w-]+)", curl).group(1)
        assert "password:" in text and not any("password:" in line or token in line for line in lines)
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/openrpc.json"), timeout=60, what="the web server")
        pasted = subprocess.run(curl, shell=True, capture_output=True, text=True, timeout=60)
        job = json.loads(pasted.stdout)["result"]
        assert job["job_status"] == "QUEUED"
        call = RpcClient(f"http://127.0.0.1:{port}", token)
        status = wait_for(
            lambda: (s := call("get_job_status", {"job_id": job["job_id"]}))["job_status"] == "COMPLETED" and s,
            timeout=90,
            interval=0.25,
            what="the Bell job to complete",
        )
        assert status["progress"] == 100
        counts = call("get_job_results", {"job_id": job["job_id"]})["results"][0]["results"]
        assert set(counts) <= {"00", "11"} and sum(counts.values()) == 1000
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 3  # gunicorn (+ its workers) and two RQ workers
        # A job held queued (its backend paused), followed live while runportal stops.
        with sqlite3.connect(tmp_path / "portal.sqlite3") as db:
            db.execute("UPDATE drivers_backend SET status = 'paused' WHERE name = 'aer_simulator'")
        held = call("submit_job", {"code_type": "qasm2", "source_code": [BELL], "backend": "aer_simulator"})
        stream = requests.get(
            f"http://127.0.0.1:{port}/v1/job/{held['job_id']}/events", headers={"Authorization": f"Bearer {token}"},
            stream=True, timeout=60,
        )  # fmt: skip
        events: list = []
        follower = threading.Thread(target=read_events, args=(stream, events), daemon=True)
        follower.start()
        wait_for(lambda: events, timeout=30, what="the held job's first event")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, "".join(lines[-30:])
    follower.join(timeout=30)
    assert events[-1] == ("server_cancel", {"reason": "the server is stopping"})  # IQM's SubscribeToJobV1
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert alive == []


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=10).status_code == 200
    except requests.RequestException:  # not listening yet, or still importing the app
        return False
