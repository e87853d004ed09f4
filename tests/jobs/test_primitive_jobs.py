"""Sampler and estimator jobs over JSON-RPC (issue 17): submitted, checked field by field, run by a real
worker and read back through get_job_results in the contract's shape."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter

from backends.models import Backend
from drivers import primitives
from jobs.models import Job
from tests.conftest import error_of, result_of

THETA = Parameter("theta")


def _ry_cx(measured: bool) -> str:
    circuit = QuantumCircuit(2, 2 if measured else 0)
    circuit.ry(THETA, 0)
    circuit.cx(0, 1)
    if measured:
        circuit.measure([0, 1], [0, 1])
    return qasm3.dumps(circuit)


ESTIMATOR_CIRCUIT = _ry_cx(measured=False)
SAMPLER_CIRCUIT = _ry_cx(measured=True)
OBSERVABLES = [{"ZZ": 1.0}, {"XX": 0.5, "IZ": 0.5}]


def estimator_body(**pub: Any) -> dict[str, Any]:
    pub = {"circuit": ESTIMATOR_CIRCUIT, "observables": OBSERVABLES, "parameter_values": [[[0.3]], [[1.2]]], **pub}
    return {"code_type": "qasm3", "job_type": "estimator", "backend": "dummy", "source_code": [pub]}


def sampler_body(**pub: Any) -> dict[str, Any]:
    pub = {"circuit": SAMPLER_CIRCUIT, "parameter_values": [[0.0], [np.pi]], "shots": 50, **pub}
    return {"code_type": "qasm3", "job_type": "sampler", "backend": "dummy", "source_code": [pub]}


def refused(rpc, tenant, body: dict[str, Any]) -> dict[str, Any]:
    """The error of submitting ``body``, checked to have stored nothing."""
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert not Job.objects.exists()
    return error


def fields_of(error: dict[str, Any]) -> list[str]:
    return [e["field"] for e in error["data"]["errors"]]


def results_of(rpc, tenant, body: dict[str, Any], run_worker) -> dict[str, Any]:
    job = result_of(rpc("submit_job", {"body": body}, who=tenant))
    run_worker()
    return result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))


# --- Round trips ------------------------------------------------------------------------------------


def test_estimator_job_results_come_back_over_json_rpc(rpc, tenant, run_worker):
    """One entry per PUB: evs [2, 2] (values (2, 1) against observables (2,)), stds, shape, precision."""
    body = {**estimator_body(), "profiling": ["all"]}
    body["source_code"].append({"circuit": ESTIMATOR_CIRCUIT, "observables": {"ZZ": 1}, "parameter_values": [0.5]})
    answer = results_of(rpc, tenant, body, run_worker)
    assert answer["job_status"] == "COMPLETED" and answer["job_type"] == "estimator"
    first, second = (entry["results"] for entry in answer["results"])
    assert first["shape"] == [2, 2] and first["precision"] == 0.0
    assert np.allclose(
        first["evs"], [[1.0, 0.5 * np.sin(0.3) + 0.5 * np.cos(0.3)], [1.0, 0.5 * np.sin(1.2) + 0.5 * np.cos(1.2)]]
    )
    assert np.array(first["stds"]).shape == (2, 2)
    assert second["shape"] == [] and second["evs"] == pytest.approx(1.0)
    entry = answer["results"][0]
    assert entry["metadata"]["primitive"] == "estimator" and entry["num_qubits"] == 2
    assert set(entry["profiling"]) == {"driver:parse", "driver:transpile", "driver:run"}


def test_sampler_job_results_come_back_over_json_rpc(rpc, tenant, run_worker):
    """theta 0 reads 0x0, theta pi reads 0x3 on every shot; samples [2, 50] of hex strings."""
    answer = results_of(rpc, tenant, sampler_body(), run_worker)
    assert answer["job_status"] == "COMPLETED"
    (entry,) = answer["results"]
    result = entry["results"]
    assert (result["shape"], result["shots"], list(result["registers"])) == ([2], 50, ["c"])
    register = result["registers"]["c"]
    assert register["num_bits"] == 2
    assert [set(row) for row in register["samples"]] == [{"0x0"}, {"0x3"}]
    assert entry["metadata"]["primitive"] == "sampler"


def test_sampler_dry_run(rpc, tenant, run_worker):
    """dry_run: random samples of the right shape, metadata.dry_run, the job's shots for shots null."""
    body = {**sampler_body(shots=None), "dry_run": True, "shots": 30}
    (entry,) = results_of(rpc, tenant, body, run_worker)["results"]
    assert entry["metadata"]["dry_run"] is True
    assert np.array(entry["results"]["registers"]["c"]["samples"]).shape == (2, 30)


def test_estimator_dry_run(rpc, tenant, run_worker):
    """dry_run: evs in [-1, 1] of the PUB's shape, stds 0."""
    (entry,) = results_of(rpc, tenant, {**estimator_body(), "dry_run": True}, run_worker)["results"]
    assert entry["metadata"]["dry_run"] is True
    assert np.array(entry["results"]["evs"]).shape == (2, 2) and not np.any(entry["results"]["stds"])


def test_the_estimation_job_type_still_estimates(rpc, tenant, run_worker):
    """job_type estimation keeps its resources answer for ordinary circuits."""
    from tests.factories import BELL

    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "job_type": "estimation"}
    (entry,) = results_of(rpc, tenant, body, run_worker)["results"]
    assert entry["results"]["num_qubits"] == 2 and "estimated_seconds" in entry["results"]


# --- Refusals -----------------------------------------------------------------------------------------


def test_a_qubo_backend_refuses_sampler_jobs(rpc, tenant):
    """Only the Aer backends take PUBs: a QUBO backend answers job_type_not_supported."""
    error = refused(rpc, tenant, {**sampler_body(), "backend": "qubo_sa"})
    assert error["code"] == -400 and error["data"]["error_code"] == "job_type_not_supported"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (estimator_body(parameter_values=[[0.1, 0.2]]), "source_code[0].parameter_values"),
        (estimator_body(observables=[{"ZZ": 1}] * 3, parameter_values=[[0.1], [0.2]]), "source_code[0].observables"),
        (estimator_body(observables={"ZZZ": 1}), "source_code[0].observables"),
        (estimator_body(circuit=["OPENQASM 3.0;"]), "source_code[0].circuit"),
        (estimator_body(parameter_values=[[0.1]] * 10_001), "source_code[0].parameter_values"),
        (sampler_body(shots=2_000_000), "source_code[0].shots"),
        (sampler_body(seed=3), "source_code[0].seed"),
        (estimator_body(shots=10), "source_code[0].shots"),
        (estimator_body(circuit='OPENQASM 3.0;\ninclude "/etc/passwd";\nqubit[2] q;\n'), "source_code[0].circuit"),
        (
            estimator_body(circuit="OPENQASM 3.0;\nqubit[1000] q;\n", observables={"Z" * 1000: 1}),
            "source_code[0].circuit",
        ),
        (sampler_body(circuit=ESTIMATOR_CIRCUIT), "source_code[0].circuit"),
        ({**estimator_body(), "code_type": "qasm2"}, "code_type"),
        ({**sampler_body(), "source_code": ["OPENQASM 3.0;\nqubit q;\n"]}, "source_code[0]"),
    ],
)
def test_malformed_pubs_are_refused_naming_the_field(rpc, tenant, body, field):
    """Wrong parameter count, unbroadcastable observables, Pauli strings too long, a circuit not a string,
    too many bound circuits, shots over the backend's, unknown fields, a hostile or too wide OpenQASM:
    -32602 naming the field; nothing is stored."""
    error = refused(rpc, tenant, body)
    assert error["code"] == -32602, error
    assert field in fields_of(error), error


def test_bound_circuits_are_bounded_per_job(rpc, tenant, monkeypatch):
    """The bound circuits of all PUBs together are at most MAX_BOUND_PER_JOB."""
    monkeypatch.setattr(primitives, "MAX_BOUND_PER_JOB", 3)
    body = sampler_body()
    body["source_code"] *= 2
    assert "source_code" in fields_of(refused(rpc, tenant, body))


def test_shots_over_the_backends_maximum_for_the_jobs_default(rpc, tenant):
    """The job's shots (the sampler's default) are bounded by the backend as for circuits."""
    Backend.objects.filter(name="dummy").update(max_shots=100)
    assert "shots" in fields_of(refused(rpc, tenant, {**sampler_body(shots=None), "shots": 101}))


def test_rest_takes_the_same_pubs(api, tenant):
    """POST /api/v1/jobs/ accepts a sampler job with the same fields, and refuses a bad PUB by name."""
    created = api("post", "/api/v1/jobs/", sampler_body(), who=tenant)
    assert created.status_code == 201, created.content
    assert created.json()["job_type"] == "sampler"
    bad = api("post", "/api/v1/jobs/", sampler_body(parameter_values=[[0.1, 0.2]]), who=tenant)
    assert bad.status_code == 400 and "source_code[0].parameter_values" in bad.content.decode()


def test_the_job_page_and_csv_show_a_primitive_jobs_results(rpc, tenant, run_worker, client):
    """A person reads a sampler or estimator job's results on its page and in its CSV (no 500)."""
    client.force_login(tenant.user)
    for body in (estimator_body(), sampler_body()):
        job = result_of(rpc("submit_job", {"body": body}, who=tenant))
        run_worker()
        page = client.get(f"/jobs/{job['job_id']}/")
        assert page.status_code == 200
        text = page.content.decode()
        assert ("evs" in text and "stds" in text) if body["job_type"] == "estimator" else "registers" in text
        csv = client.get(f"/jobs/{job['job_id']}/results.csv").content.decode().splitlines()
        assert csv[0] == "entry,key,value" and len(csv) > 1


def test_the_readme_estimator_example(rpc, tenant, run_worker):
    """The README's curl example, as it is written there: a Bell state's <ZZ>, <XX>, <ZI> are 1, 1, 0."""
    import json
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = re.search(r"# <ZZ>, <XX> and <ZI> of a Bell state.*?-d '(\{.*?\})'\n", readme, re.S)
    call = json.loads(example[1])
    done = results_of(rpc, tenant, call["params"]["body"], run_worker)
    assert done["job_status"] == "COMPLETED"
    assert np.allclose(done["results"][0]["results"]["evs"], [1, 1, 0], atol=1e-9)


def test_an_estimation_job_estimates_pubs_without_running_them(rpc, tenant, run_worker):
    """job_type estimation takes PUBs too (an estimator PUB has observables, a sampler PUB has none):
    each answers its transpiled circuit's resources, the circuits it binds and the seconds of all of
    them; it runs even while the backend is paused, as any estimation does."""
    from backends.models import Backend, BackendStatus

    Backend.objects.filter(name="dummy").update(status=BackendStatus.PAUSED)
    estimator_pub = estimator_body()["source_code"][0]
    sampler_pub = sampler_body(shots=300)["source_code"][0]
    body = {
        "code_type": "qasm3",
        "job_type": "estimation",
        "backend": "dummy",
        "source_code": [estimator_pub, sampler_pub],
    }
    done = results_of(rpc, tenant, body, run_worker)
    assert done["job_status"] == "COMPLETED"
    estimated, sampled = (entry["results"] for entry in done["results"])
    assert estimated["primitive"] == "estimator" and estimated["shape"] == [2, 2]
    assert estimated["num_bound_circuits"] == 2 and estimated["num_observables"] == 2
    assert sampled["primitive"] == "sampler" and sampled["shape"] == [2] and sampled["shots"] == 300
    assert sampled["num_bound_circuits"] == 2 and sampled["num_qubits"] == 2
    assert estimated["estimated_seconds"] > 0 and "evs" not in estimated and "registers" not in sampled
    assert done["results"][0]["metadata"]["job_type"] == "estimation"


def test_an_estimation_jobs_pubs_are_validated_as_any_pubs(rpc, tenant):
    pub = {**estimator_body()["source_code"][0], "observables": [{"ZZZ": 1.0}]}
    body = {"code_type": "qasm3", "job_type": "estimation", "backend": "dummy", "source_code": [pub]}
    assert fields_of(refused(rpc, tenant, body)) == ["source_code[0].observables"]
