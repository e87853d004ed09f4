"""Property-based fuzzing of the REST API (hypothesis), in the manner of test_jsonrpc_fuzz.py: whatever
arrives, the answer is never a 5xx and always strict JSON (valid UTF-8, no NaN) in the REST error shape,
including the hostile shapes of SPEC §13: deep nesting, oversized bodies, lone surrogates and NUL,
non-finite numbers, huge integers, out-of-range dates and long repeated query parameters."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.validation import MAX_JSON_DEPTH
from jobs.inputs import SubmitJobSerializer
from tests.portal.test_jsonrpc_fuzz import (
    FUZZ,
    SUBMIT,
    TEXT_FIELDS,
    bad_text,
    bad_value_for,
    depths,
    has_non_finite,
    hostile_values,
    huge_ints,
    nested,
    non_finite_literals,
    out_of_range_ints,
    strict_json,
    too_long_int_literals,
    truly_bad_text,
)

pytestmark = pytest.mark.django_db

JOBS, TOKENS = "/api/v1/jobs/", "/api/v1/tokens/"
submit_fields = st.sampled_from(sorted(SubmitJobSerializer().fields) + ["code_compression_level", "nope"])
dates = st.datetimes().map(lambda d: d.isoformat()) | st.sampled_from(
    ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59+00:00", "nonsense", ""]
) | st.builds(
    lambda d, h, m, sign: f"{d.isoformat()}{sign}{h:02d}:{m:02d}",
    st.datetimes(),
    st.integers(0, 23),
    st.integers(0, 59),
    st.sampled_from("+-"),
)  # fmt: skip
query_text = st.text(max_size=12) | bad_text.map(lambda t: t.encode("utf-8", "replace").decode("utf-8"))
filter_values = {
    "job_id": st.uuids().map(str) | query_text,
    "status": st.sampled_from(["QUEUED", "RUNNING", "DELETED", "nope"]) | query_text,
    "backend": query_text,
    "code_type": st.sampled_from(["qasm2", "qubo", "nope"]),
    "tag": query_text,
    "project": st.uuids().map(str) | query_text,
    "user": st.uuids().map(str) | query_text,
    "created_after": dates,
    "created_before": dates,
    "q": query_text,
    "ordering": st.sampled_from(["created_at", "-job_priority", "ended_at,-created_at", "nope"]),
    "page": st.integers(-5, 10**400).map(str) | query_text,
    "page_size": st.integers(-5, 10**400).map(str) | query_text,
}
queries = st.lists(
    st.sampled_from(sorted(filter_values)).flatmap(lambda name: st.tuples(st.just(name), filter_values[name])),
    max_size=40,
)


def assert_rest_answer(response, *statuses: int) -> Any:
    """Not a 5xx; strict JSON; an error in the one REST shape; the status among ``statuses`` if given."""
    assert response.status_code < 500, response.content[:500]
    if statuses:
        assert response.status_code in statuses, response.content[:500]
    if response.status_code == 204:
        return None
    body = strict_json(response.content)
    if response.status_code >= 400:
        assert set(body["error"]) == {"code", "error_code", "message", "data"}
        assert "Traceback" not in json.dumps(body)
    return body


def error_code_of(response, status: int) -> str:
    return assert_rest_answer(response, status)["error"]["error_code"]


@pytest.fixture
def send(client, tenant, settings, django_capture_on_commit_callbacks):
    """POST/PATCH a raw body, or GET a query, as ``tenant``."""
    settings.RATE_LIMIT_REQUESTS = 0

    def call(method: str, path: str, body: bytes | str = b"", query: str = ""):
        raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        with django_capture_on_commit_callbacks(execute=True):
            if method == "get":
                return client.get(f"{path}?{query}" if query else path, **tenant.auth)
            return getattr(client, method)(path, raw, content_type="application/json", **tenant.auth)

    return call


@FUZZ
@given(body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes(send, body):
    """Arbitrary bytes posted as a job get a REST error (mostly 400 parse_error)."""
    assert_rest_answer(send("post", JOBS, body), 400)


@FUZZ
@given(value=hostile_values)
def test_any_hostile_json(send, value):
    """Any JSON value, hostile leaves included: a 400, and parse_error whenever it holds a non-finite number."""
    response = send("post", JOBS, json.dumps(value))
    if has_non_finite(value):
        assert error_code_of(response, 400) == "parse_error"
    else:
        assert_rest_answer(response, 400)


@FUZZ
@given(extra=st.dictionaries(submit_fields, hostile_values, max_size=5))
def test_hostile_submissions(send, extra):
    """Nearly valid submissions with hostile values in random fields: never a 5xx."""
    body = {**SUBMIT, **extra}
    response = send("post", JOBS, json.dumps(body))
    if has_non_finite(body):
        assert error_code_of(response, 400) == "parse_error"
    else:
        assert_rest_answer(response)


@FUZZ
@given(depth=depths, kind=st.sampled_from(["array", "object"]), path=st.sampled_from([JOBS, TOKENS]))
def test_nesting_at_any_depth(send, depth, kind, path):
    """Nesting beyond MAX_JSON_DEPTH is 400 parse_error; within it, a field error."""
    response = send("post", path, f'{{"name": {nested(depth, kind)}}}')
    assert error_code_of(response, 400) == ("parse_error" if depth + 1 > MAX_JSON_DEPTH else "invalid_params")


@FUZZ
@given(field=st.sampled_from(TEXT_FIELDS), text=truly_bad_text)
def test_bad_text_in_submissions_is_400(send, field, text):
    """A lone surrogate or NUL in any string of a submission is a 400 naming that field."""
    body = assert_rest_answer(send("post", JOBS, json.dumps({**SUBMIT, field: bad_value_for(field, text)})), 400)
    assert {e["field"].split("[")[0].split(".")[0] for e in body["error"]["data"]["errors"]} == {field}


@FUZZ
@given(name=truly_bad_text)
def test_bad_text_in_token_names_is_400(send, name):
    """A token's name holding a lone surrogate or NUL is a 400 naming it."""
    body = assert_rest_answer(send("post", TOKENS, json.dumps({"name": name})), 400)
    assert [e["field"] for e in body["error"]["data"]["errors"]] == ["name"]


@FUZZ
@given(literal=non_finite_literals | too_long_int_literals, field=st.sampled_from(["shots", "driver_options"]))
def test_unparseable_numbers_are_400(send, literal, field):
    """Non-finite numbers and integer literals too long to convert are 400 parse_error."""
    value = literal if field == "shots" else f'{{"a": [{literal}]}}'
    body = json.dumps(SUBMIT)[:-1] + f', "{field}": {value}}}'
    assert error_code_of(send("post", JOBS, body), 400) == "parse_error"


@FUZZ
@given(number=out_of_range_ints, field=st.sampled_from(["shots", "job_priority", "code_compress_level"]))
def test_huge_integers_are_400(send, number, field):
    """An integer beyond its field's range is a 400 naming it."""
    body = assert_rest_answer(send("post", JOBS, json.dumps({**SUBMIT, field: number})), 400)
    assert field in [e["field"] for e in body["error"]["data"]["errors"]]


@FUZZ
@given(number=huge_ints)
def test_huge_integers_in_options_are_400(send, number):
    """Free-form options hold 64-bit integers at most."""
    body = assert_rest_answer(send("post", JOBS, json.dumps({**SUBMIT, "driver_options": {"n": [number]}})), 400)
    assert [e["field"] for e in body["error"]["data"]["errors"]] == ["driver_options.n[0]"]


@FUZZ
@given(query=queries)
def test_job_list_queries(send, query):
    """Any mix of filters, dates, repeated values and page numbers on the REST list: 200, 400 or 404."""
    assert_rest_answer(send("get", JOBS, query=urlencode(query)), 200, 400, 404)


@FUZZ
@given(query=queries)
def test_web_job_list_queries(client, tenant, query):
    """The web job list, on the same FilterSet, renders a page for any such query."""
    client.force_login(tenant.user)
    assert client.get(f"/jobs/?{urlencode(query)}").status_code == 200


@FUZZ
@given(size=st.integers(min_value=1, max_value=4000))
def test_body_size(send, settings, size):
    """A body over MAX_REQUEST_BYTES is 413 payload_too_large; one within it is parsed."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    body = json.dumps({"name": "x" * size})
    response = send("post", TOKENS, body)
    if len(body) > 2000:
        assert error_code_of(response, 413) == "payload_too_large"
    else:
        assert_rest_answer(response, 201, 400)
