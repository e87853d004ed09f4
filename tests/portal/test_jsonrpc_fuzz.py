"""Property-based fuzzing of the JSON-RPC endpoint (hypothesis): whatever arrives, the answer is a
JSON-RPC answer -- never an HTTP 500, an internal error, a traceback or a body that is not strict JSON
(no NaN, valid UTF-8) -- including the hostile shapes of SPEC §13: deep nesting, lone surrogates and
NUL, non-finite numbers, huge integers. The strategies and checks are shared with test_rest_fuzz.py."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.validation import MAX_JSON_DEPTH
from jobs.inputs import SubmitJobSerializer
from portal.methods import METHODS

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


# --- Hostile shapes (SPEC §13) --------------------------------------------------------------------

# Strings holding lone surrogates or NUL among ordinary characters (json.dumps writes them as \u escapes).
bad_text = st.lists(st.characters(categories=["Cs"]) | st.just("\x00") | st.characters(), min_size=1, max_size=8).map(
    "".join
)
# Floats json.dumps writes as NaN, Infinity, -Infinity; 1e400 and the like parse to inf.
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
non_finite_literals = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E+999", "123e456"])
huge_ints = st.integers(min_value=2**63, max_value=10**1000) | st.integers(
    min_value=-(10**1000), max_value=-(2**63) - 1
)
hostile_leaves = (
    st.none() | st.booleans() | st.integers() | huge_ints | st.floats() | non_finite | st.text(max_size=8) | bad_text
)
hostile_values = st.recursive(
    hostile_leaves,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6) | bad_text, children, max_size=3)
    ),
    max_leaves=12,
)
depths = st.integers(min_value=1, max_value=3000)


def nested(depth: int, kind: str, inner: str = "1") -> str:
    """``inner`` inside ``depth`` arrays or objects."""
    if kind == "array":
        return "[" * depth + inner + "]" * depth
    return '{"a":' * depth + inner + "}" * depth


def has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(has_non_finite(v) for v in value)
    return False


def _refuse(constant: str) -> Any:
    raise AssertionError(f"{constant} in an answer: not JSON")


def strict_json(content: bytes) -> Any:
    """The body as strict JSON: UTF-8 and no NaN or Infinity, or the assertion fails."""
    return json.loads(content.decode("utf-8"), parse_constant=_refuse)


INTERNAL = (-32603, -500)


def assert_jsonrpc_answer(response) -> list[dict[str, Any]]:
    """The answer is strict JSON-RPC and no bug or failure showed; its items."""
    assert response.status_code in (200, 204), response.content[:500]
    if response.status_code == 204:
        assert response.content == b""
        return []
    body = strict_json(response.content)
    items = body if isinstance(body, list) else [body]
    for item in items:
        assert item["jsonrpc"] == "2.0"
        assert "id" in item
        assert ("result" in item) != ("error" in item)
        if "error" in item:
            assert isinstance(item["error"]["code"], int)
            assert item["error"]["code"] not in INTERNAL, item
            assert isinstance(item["error"]["message"], str)
            assert "Traceback" not in json.dumps(item["error"])
    return items


def parse_error_of(response) -> None:
    (item,) = assert_jsonrpc_answer(response)
    assert item["error"]["code"] == -32700, item
    assert item["id"] is None


@pytest.fixture
def post(client, tenant, settings, django_capture_on_commit_callbacks):
    settings.RATE_LIMIT_REQUESTS = 0

    def send(body: bytes | str, url: str = "/v1/job/"):
        if isinstance(body, str):
            body = body.encode()
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


# --- Hostile shapes ------------------------------------------------------------------------------

SUBMIT = {"code_type": "qasm2", "source_code": ["OPENQASM 2.0;"], "backend": "dummy"}


def get_jobs_text(params: str, request_id: str = "1") -> str:
    """A get_jobs request with ``params`` and ``request_id`` written as given (not through json.dumps)."""
    return f'{{"jsonrpc": "2.0", "id": {request_id}, "method": "get_jobs", "params": {params}}}'


def call_text(method: str, params: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})


@FUZZ
@given(depth=depths, kind=st.sampled_from(["array", "object"]), closed=st.booleans())
def test_nesting_at_any_depth(post, depth, kind, closed):
    """Nesting beyond MAX_JSON_DEPTH, closed or not, is -32700 with id null; within it, a JSON-RPC answer."""
    inner = nested(depth, kind) if closed else ("[" if kind == "array" else '{"a":') * depth
    request = get_jobs_text(f'{{"x": {inner}}}')
    if depth + 2 > MAX_JSON_DEPTH or not closed:
        parse_error_of(post(request))
    else:
        assert assert_jsonrpc_answer(post(request))[0]["error"]["code"] == -32602


@FUZZ
@given(name=st.sampled_from(sorted(METHODS)), body=st.dictionaries(submit_fields, hostile_values, max_size=6))
def test_hostile_values_in_every_method(post, name, body):
    """Surrogates, NUL, huge integers and non-finite numbers anywhere in params: never a bug, and
    any non-finite number is a parse error."""
    request = call_text(name, {"body": body})
    if has_non_finite(body):
        parse_error_of(post(request))
    else:
        assert_jsonrpc_answer(post(request))


def bad_value_for(field: str, text: str) -> Any:
    """``text`` where ``field`` holds strings: the value itself, an item, a key or a header."""
    return {
        "tags": [text],
        "driver_options": {text: 1} if len(text) % 2 else {"k": [text]},
        "callbacks": [{"url": "https://example.com/", "headers": {"X-A": text}}],
    }.get(field, text)


TEXT_FIELDS = ["job_name", "description", "backend", "tags", "driver_options", "callbacks"]


def is_bad_on_arrival(text: str) -> bool:
    """Whether ``text``, sent through json.dumps, arrives with NUL or a lone surrogate: a high and a
    low surrogate side by side arrive as one character beyond the BMP, which is fine."""
    arrived = json.loads(json.dumps(text))
    return "\x00" in arrived or any(0xD800 <= ord(c) <= 0xDFFF for c in arrived)


truly_bad_text = bad_text.filter(is_bad_on_arrival)


@FUZZ
@given(field=st.sampled_from(TEXT_FIELDS), text=truly_bad_text)
def test_bad_text_in_submissions_is_invalid_params(post, field, text):
    """A lone surrogate or NUL in any string of a submission is -32602 naming that field."""
    (item,) = assert_jsonrpc_answer(
        post(call_text("submit_job", {"body": {**SUBMIT, field: bad_value_for(field, text)}}))
    )
    assert item["error"]["code"] == -32602
    assert {e["field"].split("[")[0].split(".")[0] for e in item["error"]["data"]["errors"]} == {field}


too_long_int_literals = st.integers(min_value=4301, max_value=6000).map(lambda n: "9" * n)


@FUZZ
@given(literal=non_finite_literals | too_long_int_literals, where=st.sampled_from(["id", "offset", "deep"]))
def test_unparseable_numbers_are_parse_errors(post, literal, where):
    """Non-finite numbers and integer literals too long to convert are -32700 with id null, wherever they are."""
    request = {
        "id": get_jobs_text("{}", request_id=literal),
        "offset": get_jobs_text(f'{{"offset": {literal}}}'),
        "deep": get_jobs_text(f'{{"filters": {{"x": [[{{"y": {literal}}}]]}}}}'),
    }[where]
    parse_error_of(post(request))


out_of_range_ints = huge_ints | st.integers(min_value=2**31, max_value=2**63)


@FUZZ
@given(number=out_of_range_ints, field=st.sampled_from(["shots", "job_priority", "code_compress_level", "offset"]))
def test_huge_integers_are_invalid_params(post, number, field):
    """An integer beyond its field's range is -32602 naming it, never a database error."""
    method = "get_jobs" if field == "offset" else "submit_job"
    params = {field: number} if method == "get_jobs" else {"body": {**SUBMIT, field: number}}
    (item,) = assert_jsonrpc_answer(post(call_text(method, params)))
    assert item["error"]["code"] == -32602
    assert field in [e["field"] for e in item["error"]["data"]["errors"]]
