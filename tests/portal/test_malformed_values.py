"""Hostile values inside well-formed requests (SPEC §13): lone surrogates and NUL, non-finite numbers,
callback headers, huge integers; each a clear error on JSON-RPC and REST, never a 500 or invalid JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobs.inputs import MAX_CALLBACK_HEADERS
from projects.models import Role
from tests.factories import BELL, make_tenant
from tests.portal.malformed import BAD_TEXT, RESERVED_HEADERS, submit_body
from tests.portal.raw import (
    JOBS,
    PROJECTS,
    TOKENS,
    rest,
    rest_error,
    rest_fields,
    rpc_call,
    rpc_fields,
    rpc_raw,
    strict,
)

pytestmark = pytest.mark.django_db

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
    real = jobs.rpc.job_status
    monkeypatch.setattr(jobs.rpc, "job_status", lambda job: {**real(job), "x": [float("nan"), float("inf")]})
    answer = rpc_call(post_raw, tenant, "get_job_status", {"job_id": job["job_id"]})
    assert answer["result"]["x"] == [None, None]
    assert answer["result"]["job_id"] == job["job_id"]


def test_rest_answer_with_non_finite_value_is_strict_json(client, tenant, submit, monkeypatch):
    """The same on REST: the answer is strict JSON with null in place of NaN."""
    from jobs.presenters import STATUS

    job = submit(tenant)
    real = STATUS.render
    monkeypatch.setattr(STATUS, "render", lambda job: {**real(job), "x": float("-inf")})
    response = rest(client, tenant, "get", f"{JOBS}{job['job_id']}/")
    assert response.status_code == 200
    assert strict(response.content)["x"] is None


def test_rest_answer_with_lone_surrogate_is_valid_utf8(client, tenant, submit, monkeypatch):
    """A lone surrogate that reaches a REST answer (a row stored before the checks) is escaped, not a 500."""
    from jobs.presenters import STATUS

    job = submit(tenant)
    real = STATUS.render
    monkeypatch.setattr(STATUS, "render", lambda job: {**real(job), "job_name": "a\ud800"})
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
