"""Schemathesis, the tool users point at an OpenAPI service, against the live portal (uvicorn, as
runportal serves it) with a member's token: its default checks on every operation (exceptions and
their reasons in schemathesis.toml beside this file), a fixed seed and about 1,300 requests. Zero
failures means no server error, every answer as documented (status, content type, body), every
schema-valid request accepted and every schema-violating one refused."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import make_tenant
from tests.workers import portal_server

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))  # its CLI, installed beside this Python


def test_schemathesis_finds_nothing_on_the_rest_api(tmp_path):
    member = make_tenant()
    with portal_server(RATE_LIMIT="0") as url:
        run = subprocess.run(
            [SCHEMATHESIS, "--config-file", str(CONFIG), "run", f"{url}/api/schema/?format=json",
             "--header", f"Authorization: Bearer {member.token}", "--max-examples", "10", "--seed", "1"],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert cases and cases[1] == cases[2] and int(cases[1]) > 1000, run.stdout[-3000:]
    assert "Selected: 27/28" in run.stdout  # all but the one schemathesis.toml leaves out
