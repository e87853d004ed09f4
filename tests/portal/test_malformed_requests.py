"""A clear error for every malformed request (SPEC §13), on both faces: deep nesting, oversized bodies,
out-of-range dates, unbounded lists, lone surrogates and NUL, non-finite numbers, callback headers,
huge integers. Never a 500, and every answer is strict JSON (no NaN, valid UTF-8)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from core.validation import MAX_JSON_DEPTH
from jobs.inputs import MAX_CALLBACK_HEADERS, MAX_JOB_IDS, MAX_TAGS
from projects.models import Role
from tests.factories import BELL, make_tenant

pytestmark = pytest.mark.django_db

JOBS, TOKENS, PROJECTS = "/api/v1/jobs/", "/api/v1/tokens/", "/api/v1/projects/"
OUT_OF_RANGE_DATES = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"]
BAD_TEXT = ["\ud800", "\udfff", "a\x00b"]
RESERVED_HEADERS = [
    "Content-Type",
    "content-length",
    "HOST",
    "Transfer-Encoding",
    "Connection",
    "X-Portal-Event",
    "x-portal-delivery",
    "X-PORTAL-SIGNATURE",
]


def _refuse(constant: str) -> Any:
    raise AssertionError(f"{constant} in an answer: not JSON")


def strict(content: bytes) -> Any:
    """The body as strict JSON: UTF-8, no NaN or Infinity."""
    return json.loads(content.decode("utf-8"), parse_constant=_refuse)


def rpc_raw(post_raw, who, text: str, url: str = "/v1/job/") -> dict[str, Any]:
    """POST ``text`` as is; the decoded JSON-RPC answer (HTTP 200)."""
    response = post_raw(text.encode("utf-8", "surrogatepass"), who=who, url=url)
    assert response.status_code == 200, response.content[:500]
    return strict(response.content)


def rpc_call(post_raw, who, method: str, params: Any) -> dict[str, Any]:
    """Call ``method`` with ``params`` encoded by json.dumps (so lone surrogates travel as \\u escapes)."""
    return rpc_raw(post_raw, who, json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))


def rpc_fields(answer: dict[str, Any]) -> list[str]:
    assert answer["error"]["code"] == -32602, answer
    return [e["field"] for e in answer["error"]["data"]["errors"]]


def rest(client, who, method: str, path: str, body: str | bytes | None = None, **extra):
    headers = who.auth if who else {}
    if method == "get":
        return client.get(path, **headers, **extra)
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return getattr(client, method)(path, raw, content_type="application/json", **headers, **extra)


def rest_error(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:500]
    error = strict(response.content)["error"]
    assert set(error) == {"code", "error_code", "message", "data"}
    return error


def rest_fields(response) -> list[str]:
    error = rest_error(response, 400)
    assert error["error_code"] == "invalid_params", error
    return [e["field"] for e in error["data"]["errors"]]


def submit_body(**fields: Any) -> dict[str, Any]:
    return {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "shots": 100, **fields}


def nested(depth: int, kind: str) -> str:
    """A JSON value with ``depth`` arrays or objects around a number."""
    if kind == "array":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


# --- Depth ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["array", "object"])
def test_rpc_deep_nesting_is_parse_error(post_raw, tenant, kind):
    """5,000 levels of nesting answer -32700 with id null, not a RecursionError."""
    answer = rpc_raw(post_raw, tenant, nested(5000, kind))
    assert answer["error"]["code"] == -32700
    assert answer["id"] is None


@pytest.mark.parametrize("kind", ["array", "object"])
def test_rest_deep_nesting_is_400(client, tenant, kind):
    """5,000 levels of nesting in a REST body answer 400 parse_error."""
    error = rest_error(rest(client, tenant, "post", JOBS, nested(5000, kind)), 400)
    assert error["error_code"] == "parse_error"


def test_rpc_unclosed_deep_nesting_is_parse_error(post_raw, tenant):
    """5,000 unclosed brackets are a parse error too (the parser would recurse before failing)."""
    assert rpc_raw(post_raw, tenant, "[" * 5000)["error"]["code"] == -32700


def test_rpc_depth_limit_is_exact(post_raw, tenant):
    """A body nested exactly MAX_JSON_DEPTH deep is parsed; one level more is a parse error."""
    deep = json.loads(nested(MAX_JSON_DEPTH - 2, "object"))  # inside the request and params objects
    within = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "get_jobs", "params": {"x": deep}})
    assert rpc_raw(post_raw, tenant, within)["error"]["code"] == -32602
    deeper = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "get_jobs", "params": {"x": [deep]}})
    assert rpc_raw(post_raw, tenant, deeper)["error"]["code"] == -32700


def test_brackets_inside_strings_do_not_count(post_raw, tenant):
    """Brackets and escaped quotes inside strings are text, not nesting."""
    name = '\\"[{' * 2000
    answer = rpc_call(post_raw, tenant, "submit_job", {"body": submit_body(description=name)})
    assert answer["result"]["description"] == name


def test_rest_brackets_inside_strings_do_not_count(client, tenant):
    """The same on REST: a description full of brackets is stored as given."""
    name = "[[[{{{" * 1000
    response = rest(client, tenant, "post", JOBS, json.dumps(submit_body(description=name)))
    assert response.status_code == 201, response.content[:500]
    assert strict(response.content)["description"] == name


# --- Size ----------------------------------------------------------------------------------------


def test_rpc_body_over_limit_is_413(post_raw, tenant, settings):
    """A JSON-RPC body over MAX_REQUEST_BYTES answers 413 payload_too_large."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_raw(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "get_jobs", "x": "y" * 2000}), who=tenant)
    assert response.status_code == 413
    assert strict(response.content)["error"]["data"]["error_code"] == "payload_too_large"


def test_rest_body_over_limit_is_413(client, tenant, settings):
    """A REST body over MAX_REQUEST_BYTES answers 413 payload_too_large in the REST error shape."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = rest(client, tenant, "post", JOBS, json.dumps(submit_body(description="y" * 2000)))
    error = rest_error(response, 413)
    assert error["error_code"] == "payload_too_large"
    assert error["data"]["limit"] == 1000


def test_rest_patch_over_limit_is_413(client, tenant, settings):
    """The limit holds for every REST body, not only submissions."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = rest(client, tenant, "post", TOKENS, json.dumps({"name": "y" * 2000}))
    assert rest_error(response, 413)["error_code"] == "payload_too_large"


def test_rest_too_many_query_parameters_is_400(client, tenant):
    """More query parameters than Django parses is a 400 in the REST error shape, not a 500."""
    query = "&".join(f"job_id={uuid.uuid4()}" for _ in range(1001))
    assert rest_error(rest(client, tenant, "get", f"{JOBS}?{query}"), 400)["code"] < 0


# --- Dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["created_after", "created_before"])
@pytest.mark.parametrize("value", OUT_OF_RANGE_DATES)
def test_rpc_out_of_range_date_is_invalid_params(post_raw, tenant, name, value):
    """A date that leaves the datetime range once in UTC is -32602 naming the filter."""
    answer = rpc_call(post_raw, tenant, "get_jobs", {"filters": {name: value}})
    assert rpc_fields(answer) == [f"filters.{name}"]


@pytest.mark.parametrize("name", ["created_after", "created_before"])
@pytest.mark.parametrize("value", OUT_OF_RANGE_DATES)
def test_rest_out_of_range_date_is_400(client, tenant, name, value):
    """The same date on the REST list is a 400 naming the query parameter."""
    response = rest(client, tenant, "get", JOBS, data={name: value})
    assert rest_fields(response) == [name]


@pytest.mark.parametrize("value", OUT_OF_RANGE_DATES)
def test_web_list_with_out_of_range_date_renders(client, tenant, value):
    """The web job list with such a date is a page, not a 500."""
    client.force_login(tenant.user)
    assert client.get("/jobs/", {"created_after": value}).status_code == 200


def test_extreme_dates_in_range_are_accepted(client, post_raw, tenant):
    """The last representable instant is a valid filter on both faces."""
    answer = rpc_call(post_raw, tenant, "get_jobs", {"filters": {"created_after": "9999-12-31T23:59:59+00:00"}})
    assert answer["result"] == []
    response = rest(client, tenant, "get", JOBS, data={"created_after": "9999-12-31T23:59:59+00:00"})
    assert response.status_code == 200
    assert strict(response.content)["results"] == []


# --- Unbounded lists -----------------------------------------------------------------------------


def test_rpc_too_many_tag_filters_is_invalid_params(post_raw, tenant):
    """2,000 tags in get_jobs are -32602 naming filters.tags, not one join per tag."""
    answer = rpc_call(post_raw, tenant, "get_jobs", {"filters": {"tags": [f"t{i}" for i in range(2000)]}})
    assert rpc_fields(answer) == ["filters.tags"]


def test_rpc_max_tag_filters_are_accepted(post_raw, tenant):
    """MAX_TAGS tags are a valid filter."""
    answer = rpc_call(post_raw, tenant, "get_jobs", {"filters": {"tags": [f"t{i}" for i in range(MAX_TAGS)]}})
    assert answer["result"] == []


def test_max_tag_filters_find_the_job_carrying_all(post_raw, client, submit, tenant):
    """At the bound, the tag filter still means "carrying all of them", on both faces."""
    tags = [f"t{i}" for i in range(MAX_TAGS)]
    job = submit(tenant, tags=tags)
    submit(tenant, tags=tags[:-1])
    found = rpc_call(post_raw, tenant, "get_jobs", {"filters": {"tags": tags}})["result"]
    assert [j["job_id"] for j in found] == [job["job_id"]]
    assert rpc_call(post_raw, tenant, "get_jobs", {"filters": {"tags": [*tags[:-1], "other"]}})["result"] == []
    query = "&".join(f"tag={t}" for t in tags)
    assert [j["job_id"] for j in strict(rest(client, tenant, "get", f"{JOBS}?{query}").content)["results"]] == [
        job["job_id"]
    ]


@pytest.mark.parametrize(
    "name, values",
    [
        ("job_ids", [str(uuid.uuid4()) for _ in range(MAX_JOB_IDS + 1)]),
        ("job_status", ["QUEUED"] * (MAX_JOB_IDS + 1)),
    ],
)
def test_rpc_other_list_filters_are_bounded(post_raw, tenant, name, values):
    """Every list filter of get_jobs has a bound, and the error names it."""
    assert rpc_fields(rpc_call(post_raw, tenant, "get_jobs", {"filters": {name: values}})) == [f"filters.{name}"]


@pytest.mark.parametrize("method", ["cancel_jobs", "delete_jobs"])
def test_rpc_bulk_job_ids_are_bounded(post_raw, tenant, method):
    """cancel_jobs and delete_jobs take at most MAX_JOB_IDS ids."""
    ids = [str(uuid.uuid4()) for _ in range(MAX_JOB_IDS + 1)]
    assert rpc_fields(rpc_call(post_raw, tenant, method, {"job_ids": ids})) == ["job_ids"]


def test_rest_too_many_tag_filters_is_400(client, tenant):
    """More than MAX_TAGS ?tag= on the REST list is a 400 naming tag."""
    query = "&".join(f"tag=t{i}" for i in range(MAX_TAGS + 1))
    assert rest_fields(rest(client, tenant, "get", f"{JOBS}?{query}")) == ["tag"]


def test_rest_max_tag_filters_are_accepted(client, tenant):
    """MAX_TAGS ?tag= are a valid filter."""
    query = "&".join(f"tag=t{i}" for i in range(MAX_TAGS))
    assert rest(client, tenant, "get", f"{JOBS}?{query}").status_code == 200


def test_web_list_with_too_many_tags_renders(client, tenant):
    """The web list's comma-separated tag box is bounded by the same FilterSet, and still renders."""
    client.force_login(tenant.user)
    assert client.get("/jobs/", {"tag": ",".join(f"t{i}" for i in range(2000))}).status_code == 200


def test_rpc_too_many_callbacks_is_invalid_params(post_raw, tenant):
    """A submission's callbacks list is bounded."""
    hooks = [{"url": "https://example.com/hook"}] * 1000
    assert rpc_fields(rpc_call(post_raw, tenant, "submit_job", {"body": submit_body(callbacks=hooks)})) == ["callbacks"]


# --- Lone surrogates and NUL ---------------------------------------------------------------------

TEXT_FIELDS = [
    ("job_name", lambda bad: {"job_name": f"x{bad}"}),
    ("description", lambda bad: {"description": f"x{bad}"}),
    ("tags[0]", lambda bad: {"tags": [f"x{bad}"]}),
    ("backend", lambda bad: {"backend": f"dummy{bad}"}),
    ("source_code[0]", lambda bad: {"source_code": [BELL + f"// {bad}\n"]}),
    ("callbacks[0].url", lambda bad: {"callbacks": [{"url": f"https://example.com/{bad}"}]}),
    ("callbacks[0].name", lambda bad: {"callbacks": [{"url": "https://example.com/", "name": f"x{bad}"}]}),
    (
        "callbacks[0].headers.X-Token",
        lambda bad: {"callbacks": [{"url": "https://example.com/", "headers": {"X-Token": f"x{bad}"}}]},
    ),
    ("driver_options.seed", lambda bad: {"driver_options": {"seed": f"x{bad}"}}),
    ("driver_options.a[1].b", lambda bad: {"driver_options": {"a": [1, {"b": f"x{bad}"}]}}),
    ("transpiler_options.basis_gates[0]", lambda bad: {"transpiler_options": {"basis_gates": [f"x{bad}"]}}),
]


@pytest.mark.parametrize("bad", BAD_TEXT, ids=["high", "low", "nul"])
@pytest.mark.parametrize("field, fields", TEXT_FIELDS, ids=[f for f, _ in TEXT_FIELDS])
def test_rpc_bad_text_is_invalid_params(post_raw, tenant, field, fields, bad):
    """A lone surrogate or NUL in any string of submit_job is -32602 naming that string."""
    answer = rpc_call(post_raw, tenant, "submit_job", {"body": submit_body(**fields(bad))})
    assert field in rpc_fields(answer)


@pytest.mark.parametrize("bad", BAD_TEXT, ids=["high", "low", "nul"])
@pytest.mark.parametrize("field, fields", TEXT_FIELDS, ids=[f for f, _ in TEXT_FIELDS])
def test_rest_bad_text_is_400(client, tenant, field, fields, bad):
    """The same strings in a REST submission are a 400 naming that string."""
    assert field in rest_fields(rest(client, tenant, "post", JOBS, json.dumps(submit_body(**fields(bad)))))


@pytest.mark.parametrize("bad", BAD_TEXT, ids=["high", "low", "nul"])
def test_rpc_bad_text_in_a_key_is_invalid_params(post_raw, tenant, bad):
    """A lone surrogate or NUL in an option's name is refused too, and the answer is valid JSON."""
    answer = rpc_call(post_raw, tenant, "submit_job", {"body": submit_body(driver_options={f"k{bad}": 1})})
    assert len(rpc_fields(answer)) == 1


@pytest.mark.parametrize("bad", BAD_TEXT, ids=["high", "low", "nul"])
def test_rest_bad_text_in_a_key_is_400(client, tenant, bad):
    """The same on REST; the field name echoed back is valid UTF-8."""
    body = json.dumps(submit_body(driver_options={f"k{bad}": 1}))
    assert len(rest_fields(rest(client, tenant, "post", JOBS, body))) == 1


@pytest.mark.parametrize("bad", BAD_TEXT, ids=["high", "low", "nul"])
def test_rest_unknown_field_with_bad_name_is_400(client, tenant, bad):
    """An unknown field whose name holds a lone surrogate is named back in valid UTF-8."""
    assert len(rest_fields(rest(client, tenant, "post", JOBS, json.dumps(submit_body(**{f"x{bad}": 1}))))) == 1


@pytest.mark.parametrize("bad", BAD_TEXT, ids=["high", "low", "nul"])
def test_rest_bad_choice_is_echoed_as_valid_utf8(client, tenant, bad):
    """A choice field echoes the refused value; the answer stays valid UTF-8."""
    assert rest_fields(rest(client, tenant, "post", JOBS, json.dumps(submit_body(code_type=f"q{bad}")))) == [
        "code_type"
    ]


def test_surrogate_pairs_are_accepted(post_raw, client, tenant):
    """An escaped surrogate pair is one character beyond the BMP, stored as given on both faces."""
    answer = rpc_call(post_raw, tenant, "submit_job", {"body": submit_body(job_name="smile \U0001f600")})
    assert answer["result"]["job_name"] == "smile \U0001f600"
    response = rest(client, tenant, "post", JOBS, json.dumps(submit_body(job_name="smile \U0001f600")))
    assert strict(response.content)["job_name"] == "smile \U0001f600"


def test_rpc_raw_surrogate_bytes_are_refused(post_raw, tenant):
    """A surrogate encoded straight into the body's bytes (not as an escape) is refused too."""
    text = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "submit_job", "params": {"body": submit_body()}})
    text = text.replace('"dummy"', '"dummy\ud800"')
    answer = rpc_raw(post_raw, tenant, text)
    assert answer["error"]["code"] in (-32700, -32602)


@pytest.mark.parametrize("bad", BAD_TEXT, ids=["high", "low", "nul"])
def test_rpc_update_job_bad_text_is_invalid_params(post_raw, tenant, submit, bad):
    """update_job refuses the same strings."""
    job = submit(tenant)
    answer = rpc_call(post_raw, tenant, "update_job", {"body": {"job_id": job["job_id"], "tags": [f"x{bad}"]}})
    assert rpc_fields(answer) == ["tags[0]"]


@pytest.mark.parametrize("bad", BAD_TEXT, ids=["high", "low", "nul"])
def test_rest_patch_job_bad_text_is_400(client, tenant, submit, bad):
    """PATCH of a job refuses the same strings."""
    job = submit(tenant)
    response = rest(client, tenant, "patch", f"{JOBS}{job['job_id']}/", json.dumps({"job_name": f"x{bad}"}))
    assert rest_fields(response) == ["job_name"]


@pytest.mark.parametrize("bad", BAD_TEXT, ids=["high", "low", "nul"])
def test_rest_token_name_bad_text_is_400(client, tenant, bad):
    """A token's name refuses lone surrogates and NUL."""
    assert rest_fields(rest(client, tenant, "post", TOKENS, json.dumps({"name": f"x{bad}"}))) == ["name"]


@pytest.mark.parametrize("bad", BAD_TEXT, ids=["high", "low", "nul"])
def test_rest_project_name_bad_text_is_400(client, tenant, bad):
    """A project's name refuses lone surrogates and NUL."""
    admin = make_tenant(project=tenant.project, role=Role.ADMIN)
    path = f"{PROJECTS}{tenant.project.project_id}/"
    assert rest_fields(rest(client, admin, "patch", path, json.dumps({"name": f"x{bad}"}))) == ["name"]


@pytest.mark.parametrize("name", ["q", "backend", "tag"])
def test_rest_nul_in_query_parameter_is_400(client, tenant, name):
    """NUL in a text query parameter is a 400 naming it (PostgreSQL cannot compare it)."""
    assert rest_fields(rest(client, tenant, "get", f"{JOBS}?{name}=a%00b")) == [name]


def test_rpc_set_job_results_bad_text_is_invalid_params(post_raw, tenant, submit):
    """Results stored by a driver refuse lone surrogates and NUL in any string, keys included."""
    job = submit(tenant)
    driver = make_tenant(scope="driver")
    body = {"job_id": job["job_id"], "results": [{"results": {"0\x00": 1}, "metadata": {"m": "\ud800"}}]}
    fields = rpc_fields(rpc_call(post_raw, driver, "set_job_results", {"body": body}))
    assert "results[0].metadata.m" in fields
    assert len(fields) == 2


# --- Non-finite numbers --------------------------------------------------------------------------

NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]


@pytest.mark.parametrize("number", NON_FINITE)
def test_rpc_non_finite_id_is_parse_error(post_raw, tenant, number):
    """A non-finite id is a parse error with id null: never echoed as a bare NaN."""
    answer = rpc_raw(post_raw, tenant, f'{{"jsonrpc": "2.0", "id": {number}, "method": "get_jobs"}}')
    assert answer["error"]["code"] == -32700
    assert answer["id"] is None


@pytest.mark.parametrize("number", NON_FINITE)
def test_rpc_non_finite_number_anywhere_is_parse_error(post_raw, tenant, number):
    """A non-finite number deep in the params is a parse error as well."""
    text = '{"jsonrpc": "2.0", "id": 1, "method": "submit_job", "params": {"body": {"driver_options": {"a": [%s]}}}}'
    assert rpc_raw(post_raw, tenant, text % number)["error"]["code"] == -32700


@pytest.mark.parametrize("number", NON_FINITE)
def test_rest_non_finite_number_is_400(client, tenant, number):
    """A non-finite number in a REST body is 400 parse_error."""
    body = json.dumps(submit_body()).replace('"shots": 100', f'"shots": {number}')
    assert rest_error(rest(client, tenant, "post", JOBS, body), 400)["error_code"] == "parse_error"


def test_rpc_answer_with_non_finite_value_is_strict_json(post_raw, tenant, submit, monkeypatch):
    """A non-finite float that reaches an answer (a driver's result) is written as null, never NaN."""
    import jobs.rpc

    job = submit(tenant)
    real = jobs.rpc.job_status_view
    monkeypatch.setattr(jobs.rpc, "job_status_view", lambda job: {**real(job), "x": [float("nan"), float("inf")]})
    answer = rpc_call(post_raw, tenant, "get_job_status", {"job_id": job["job_id"]})
    assert answer["result"]["x"] == [None, None]
    assert answer["result"]["job_id"] == job["job_id"]


def test_rest_answer_with_non_finite_value_is_strict_json(client, tenant, submit, monkeypatch):
    """The same on REST: the answer is strict JSON with null in place of NaN."""
    import jobs.api.serializers

    job = submit(tenant)
    real = jobs.api.serializers.job_status_view
    monkeypatch.setattr(jobs.api.serializers, "job_status_view", lambda job: {**real(job), "x": float("-inf")})
    response = rest(client, tenant, "get", f"{JOBS}{job['job_id']}/")
    assert response.status_code == 200
    assert strict(response.content)["x"] is None


def test_rest_answer_with_lone_surrogate_is_valid_utf8(client, tenant, submit, monkeypatch):
    """A lone surrogate that reaches a REST answer (a row stored before the checks) is escaped, not a 500."""
    import jobs.api.serializers

    job = submit(tenant)
    real = jobs.api.serializers.job_status_view
    monkeypatch.setattr(jobs.api.serializers, "job_status_view", lambda job: {**real(job), "job_name": "a\ud800"})
    response = rest(client, tenant, "get", f"{JOBS}{job['job_id']}/")
    assert response.status_code == 200
    assert strict(response.content)["job_name"].startswith("a")


# --- Callback headers ----------------------------------------------------------------------------


def hook_with(headers: dict[str, str]) -> dict[str, Any]:
    return submit_body(callbacks=[{"url": "https://example.com/hook", "headers": headers}])


BAD_HEADERS = [
    ("X-Token", "a\r\nX-Evil: 1"),
    ("X-Token", "a\nb"),
    ("X-Token", "a\rb"),
    ("X-Token", "a\x00b"),
    ("X-Token", "caf\u00e9\u20ac"),
    ("Bad Name", "v"),
    ("X:Y", "v"),
    ("X-T\u00f6ken", "v"),
    ("X-Token\r\n", "v"),
]


@pytest.mark.parametrize("name, value", BAD_HEADERS)
def test_rpc_bad_callback_header_is_invalid_params(post_raw, tenant, name, value):
    """Header names must be RFC 7230 tokens and values plain text on one line: -32602 naming the header."""
    answer = rpc_call(post_raw, tenant, "submit_job", {"body": hook_with({name: value})})
    assert rpc_fields(answer) == [f"callbacks[0].headers.{name}"]


@pytest.mark.parametrize("name, value", BAD_HEADERS)
def test_rest_bad_callback_header_is_400(client, tenant, name, value):
    """The same headers in a REST submission are a 400 naming the header."""
    fields = rest_fields(rest(client, tenant, "post", JOBS, json.dumps(hook_with({name: value}))))
    assert fields == [f"callbacks[0].headers.{name}"]


@pytest.mark.parametrize("name", RESERVED_HEADERS)
def test_rpc_reserved_callback_header_is_invalid_params(post_raw, tenant, name):
    """Headers the portal sets itself cannot be given, in any case."""
    answer = rpc_call(post_raw, tenant, "submit_job", {"body": hook_with({name: "forged"})})
    assert rpc_fields(answer) == [f"callbacks[0].headers.{name}"]


@pytest.mark.parametrize("name", RESERVED_HEADERS)
def test_rest_reserved_callback_header_is_400(client, tenant, name):
    """The same reserved names on REST."""
    fields = rest_fields(rest(client, tenant, "post", JOBS, json.dumps(hook_with({name: "forged"}))))
    assert fields == [f"callbacks[0].headers.{name}"]


def test_rpc_too_many_callback_headers_is_invalid_params(post_raw, tenant):
    """At most MAX_CALLBACK_HEADERS headers per callback."""
    headers = {f"X-H{i}": "v" for i in range(MAX_CALLBACK_HEADERS + 1)}
    assert rpc_fields(rpc_call(post_raw, tenant, "submit_job", {"body": hook_with(headers)})) == [
        "callbacks[0].headers"
    ]


def test_rest_too_many_callback_headers_is_400(client, tenant):
    """The same bound on REST."""
    headers = {f"X-H{i}": "v" for i in range(MAX_CALLBACK_HEADERS + 1)}
    assert rest_fields(rest(client, tenant, "post", JOBS, json.dumps(hook_with(headers)))) == ["callbacks[0].headers"]


def test_good_callback_headers_are_accepted(post_raw, client, tenant):
    """Ordinary credentials headers, up to the bound, are stored on both faces."""
    headers = {"Authorization": "Bearer abc.def~ghi", "X-Api-Key": "k\tv !~", "User-Agent": "mine/1"}
    headers |= {f"X-H{i}": "v" for i in range(MAX_CALLBACK_HEADERS - len(headers))}
    answer = rpc_call(post_raw, tenant, "submit_job", {"body": hook_with(headers)})
    assert answer["result"]["callbacks"][0]["headers"] == headers
    assert rest(client, tenant, "post", JOBS, json.dumps(hook_with(headers))).status_code == 201


# --- Huge integers -------------------------------------------------------------------------------

HUGE = [10**400, 2**63, 2**31, -(2**63) - 1]


@pytest.mark.parametrize("number", HUGE, ids=["10^400", "2^63", "2^31", "-2^63-1"])
@pytest.mark.parametrize(
    "method, field, params",
    [
        ("submit_job", "shots", lambda n: {"body": submit_body(shots=n)}),
        ("submit_job", "job_priority", lambda n: {"body": submit_body(job_priority=n)}),
        ("submit_job", "code_compress_level", lambda n: {"body": submit_body(code_compress_level=n)}),
        (
            "submit_job",
            "transpiler_options.seed_transpiler",
            lambda n: {"body": submit_body(transpiler_options={"seed_transpiler": n})},
        ),  # fmt: skip
        (
            "submit_job",
            "callbacks[0].retries",
            lambda n: {"body": submit_body(callbacks=[{"url": "https://example.com/", "retries": n}])},
        ),  # fmt: skip
        ("get_jobs", "offset", lambda n: {"offset": n}),
        ("get_jobs", "limit", lambda n: {"limit": n}),
    ],
)
def test_rpc_huge_integer_is_invalid_params(post_raw, tenant, method, field, params, number):
    """An integer beyond its column's range is -32602 naming the field, never a database error."""
    assert rpc_fields(rpc_call(post_raw, tenant, method, params(number))) == [field]


@pytest.mark.parametrize("number", [10**400, 2**63, -(2**63) - 1], ids=["10^400", "2^63", "-2^63-1"])
def test_rpc_huge_integer_in_options_is_invalid_params(post_raw, tenant, number):
    """Free-form options hold 64-bit integers at most."""
    answer = rpc_call(post_raw, tenant, "submit_job", {"body": submit_body(driver_options={"seed": number})})
    assert rpc_fields(answer) == ["driver_options.seed"]


def test_rpc_huge_integer_in_qubo_is_invalid_params(post_raw, tenant):
    """A QUBO coefficient beyond float range is -32602 naming the matrix."""
    body = submit_body(code_type="qubo", backend="qubo_exact", source_code=[[[10**400, 0], [0, 1]]])
    assert rpc_fields(rpc_call(post_raw, tenant, "submit_job", {"body": body})) == ["source_code[0]"]


@pytest.mark.parametrize("number", HUGE, ids=["10^400", "2^63", "2^31", "-2^63-1"])
@pytest.mark.parametrize("field", ["shots", "job_priority", "code_compress_level"])
def test_rest_huge_integer_is_400(client, tenant, field, number):
    """The same integers in a REST submission are a 400 naming the field."""
    assert rest_fields(rest(client, tenant, "post", JOBS, json.dumps(submit_body(**{field: number})))) == [field]


@pytest.mark.parametrize("number", HUGE, ids=["10^400", "2^63", "2^31", "-2^63-1"])
def test_rest_huge_project_quota_is_400(client, tenant, number):
    """A project quota beyond its column's range is a 400 naming it."""
    admin = make_tenant(project=tenant.project, role=Role.ADMIN)
    path = f"{PROJECTS}{tenant.project.project_id}/"
    response = rest(client, admin, "patch", path, json.dumps({"max_queued_jobs": number}))
    assert rest_fields(response) == ["max_queued_jobs"]


def test_rest_huge_page_number_is_not_a_500(client, tenant):
    """A page number of 400 digits is a not-found page, in the REST error shape."""
    assert rest_error(rest(client, tenant, "get", f"{JOBS}?page={10**400}"), 404)["code"] == -404


def test_rpc_integer_literal_beyond_parser_is_parse_error(post_raw, tenant):
    """A 5,000-digit integer literal, more than the parser converts, is a parse error, not a 500."""
    text = '{"jsonrpc": "2.0", "id": 1, "method": "get_jobs", "params": {"offset": 1%s}}' % ("0" * 5000)
    answer = rpc_raw(post_raw, tenant, text)
    assert answer["error"]["code"] == -32700
    assert answer["id"] is None


def test_rest_integer_literal_beyond_parser_is_400(client, tenant):
    """The same literal on REST is a 400 parse_error."""
    body = json.dumps(submit_body()).replace('"shots": 100', f'"shots": 1{"0" * 5000}')
    assert rest_error(rest(client, tenant, "post", JOBS, body), 400)["error_code"] == "parse_error"


@pytest.mark.parametrize("pk", [str(2**63), str(10**400), "-1", "1e3"])
def test_rest_huge_token_id_is_404(client, tenant, pk):
    """A token id beyond any integer column is the not-found of a missing token."""
    assert rest_error(rest(client, tenant, "get", f"{TOKENS}{pk}/"), 404)["code"] == -404
