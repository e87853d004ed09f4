"""Property-based fuzzing of the JSON-RPC endpoint (hypothesis): whatever arrives, the answer is a
JSON-RPC answer -- never an HTTP 500, a traceback or a body that is not JSON-RPC."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.api.serializers import SubmitJobSerializer
from portal.jsonrpc import METHODS

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
method_names = st.sampled_from(sorted(METHODS)) | st.text(max_size=12)
submit_fields = st.sampled_from(sorted(SubmitJobSerializer().fields) + ["body", "filters", "code_compression_level"])
params = st.dictionaries(submit_fields, json_values, max_size=6) | json_values
requests_ = st.fixed_dictionaries(
    {"jsonrpc": st.sampled_from(["2.0", "2.0", "1.0", 2]), "method": method_names},
    optional={"id": st.none() | st.integers() | st.text(max_size=8) | st.booleans(), "params": params},
)


def assert_jsonrpc_answer(response) -> None:
    assert response.status_code in (200, 204), response.content[:500]
    if response.status_code == 204:
        assert response.content == b""
        return
    body = json.loads(response.content)
    for item in body if isinstance(body, list) else [body]:
        assert item["jsonrpc"] == "2.0"
        assert "id" in item
        assert ("result" in item) != ("error" in item)
        if "error" in item:
            assert isinstance(item["error"]["code"], int)
            assert isinstance(item["error"]["message"], str)
            assert "Traceback" not in json.dumps(item["error"])


@pytest.fixture
def post(client, tenant, settings, django_capture_on_commit_callbacks):
    settings.RATE_LIMIT_REQUESTS = 0

    def send(body: bytes, url: str = "/v1/job/"):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, body, content_type="application/json", **tenant.auth)

    return send


@FUZZ
@given(body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes(post, body):
    """Arbitrary bytes get a JSON-RPC answer (mostly -32700)."""
    assert_jsonrpc_answer(post(body))


@FUZZ
@given(value=json_values)
def test_any_json(post, value):
    """Any JSON value gets a JSON-RPC answer (mostly -32600)."""
    assert_jsonrpc_answer(post(json.dumps(value).encode()))


@FUZZ
@given(request=requests_)
def test_request_objects(post, request):
    """Request-shaped objects with real and made-up methods and random params."""
    assert_jsonrpc_answer(post(json.dumps(request).encode()))


@FUZZ
@given(batch=st.lists(requests_, min_size=1, max_size=5))
def test_batches(post, batch):
    """Batches of such requests."""
    assert_jsonrpc_answer(post(json.dumps(batch).encode()))


@FUZZ
@given(name=st.sampled_from(sorted(METHODS)), body=st.dictionaries(submit_fields, json_values, max_size=8))
def test_method_uris_with_body(post, name, body):
    """Each method's own URI with a random params.body."""
    request = {"jsonrpc": "2.0", "id": 1, "method": name, "params": {"body": body}}
    assert_jsonrpc_answer(post(json.dumps(request).encode(), url=f"/v1/job/{name}"))


@FUZZ
@given(
    code_type=st.sampled_from(["qasm", "qasm2", "qasm3", "qubo"]),
    source=st.lists(json_values, min_size=1, max_size=3),
    backend=st.sampled_from(["dummy", "aer_noisy", "qubo_sa", "qubo_exact", "nope"]),
    extra=st.dictionaries(submit_fields, json_values, max_size=3),
)
def test_submissions(post, code_type, source, backend, extra):
    """Nearly valid submissions: right field names, random sources and options."""
    body = {**extra, "code_type": code_type, "source_code": source, "backend": backend}
    request = {"jsonrpc": "2.0", "id": 1, "method": "submit_job", "params": {"body": body}}
    assert_jsonrpc_answer(post(json.dumps(request).encode(), url="/v1/job/submit_job"))
