"""The OpenRPC document (``rpc.discover``, ``GET /openrpc.json``) holds under the official OpenRPC
meta-schema, vendored in tests/data/openrpc (``@open-rpc/meta-schema`` 1.14.9 and the JSON Schema
meta-schema it refers to, ``@json-schema-tools/meta-schema`` 1.8.0, both Apache-2.0, from npm), and
every method's declared result is what the method answers."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.conftest import result_of
from tests.factories import BELL, make_tenant

pytestmark = pytest.mark.django_db

META = Path(__file__).resolve().parent.parent / "data" / "openrpc"


def meta_validator() -> jsonschema.Draft7Validator:
    document = json.loads((META / "openrpc-meta-schema-1.14.9.json").read_text())
    schema = json.loads((META / "json-schema-tools-meta-schema-1.8.0.json").read_text())
    registry = Registry().with_resources(
        [(uri, Resource(schema, DRAFT7)) for uri in (schema["$id"], schema["$id"].rstrip("/"))]
    )
    # "uri" is checked for real (rfc3986-validator): a relative server URL is what the official
    # validator refused.
    return jsonschema.Draft7Validator(
        document, registry=registry, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def test_the_document_holds_under_the_official_meta_schema(client, rpc):
    validator = meta_validator()
    assert list(validator.iter_errors({"openrpc": "1.3.2", "info": {}, "methods": []}))  # the validator bites
    served, discovered = client.get("/openrpc.json").json(), result_of(rpc("rpc.discover"))
    for document in (served, discovered):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
        assert errors == []
        assert document["servers"] == [{"name": "portal", "url": "http://testserver/v1/job/"}]


def test_a_relative_server_url_would_not_hold(client):
    document = client.get("/openrpc.json").json()
    document["servers"][0]["url"] = "/v1/job/"
    assert not meta_validator().is_valid(document)


def test_every_method_declares_its_params_and_result(client):
    for method in client.get("/openrpc.json").json()["methods"]:
        assert method["result"]["schema"], method["name"]
        assert all(param["schema"] for param in method["params"]), method["name"]


def test_answers_are_what_their_methods_declare(rpc, submit, tenant, run_worker):
    """Each method's answer validates against its declared result schema (objects allow no field
    they do not declare), for a run job, a queued one, a deleted one and stored results."""
    results = {m["name"]: m["result"]["schema"] for m in result_of(rpc("rpc.discover"))["methods"]}
    operator = make_tenant(staff=True)
    ran = submit(tenant, tags=["a"])
    run_worker()
    waiting, doomed = submit(tenant), submit(tenant)
    stored_for = submit(tenant)
    calls = [
        ("submit_job", submit(tenant, job_name="more"), None),
        ("get_job_status", {"job_id": ran["job_id"]}, tenant),
        ("get_job_status", {"job_id": waiting["job_id"]}, tenant),
        ("get_job_results", {"job_id": ran["job_id"]}, tenant),
        ("get_job_payload", {"job_id": ran["job_id"]}, tenant),
        ("cancel_job_entries", {"job_id": submit(tenant, source_code=[BELL, BELL])["job_id"], "indexes": [1]}, tenant),
        ("get_jobs", {}, tenant),
        ("update_job", {"job_id": ran["job_id"], "job_name": "renamed"}, tenant),
        ("cancel_jobs", {"job_ids": [waiting["job_id"]]}, tenant),
        ("delete_jobs", {"job_ids": [doomed["job_id"]]}, tenant),
        (
            "set_job_results",
            {"job_id": stored_for["job_id"], "results": [{"results": {"00": 1}, "num_qubits": 2}]},
            operator,
        ),
        ("get_backends", {}, tenant),
    ]
    for name, params, who in calls:
        answer = params if who is None else result_of(rpc(name, params, who=who))
        errors = [
            f"{list(e.absolute_path)}: {e.message}"
            for e in jsonschema.Draft7Validator(results[name]).iter_errors(answer)
        ]
        assert errors == [], name
        if name in ("cancel_jobs", "delete_jobs"):
            assert len(answer) == 1
