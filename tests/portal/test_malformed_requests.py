"""A clear error for every malformed request (SPEC §13), on both faces: deep nesting, oversized bodies,
out-of-range dates, unbounded lists (hostile values: test_malformed_values.py). Never a 500, and every
answer is strict JSON (no NaN, valid UTF-8)."""

from __future__ import annotations

import json
import uuid

import pytest

from core.validation import MAX_JSON_DEPTH
from jobs.inputs import MAX_JOB_IDS, MAX_TAGS
from tests.portal.malformed import OUT_OF_RANGE_DATES, nested, submit_body
from tests.portal.raw import JOBS, TOKENS, rest, rest_error, rest_fields, rpc_call, rpc_fields, rpc_raw, strict

pytestmark = pytest.mark.django_db

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


# --- Paths no view matches --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/v1/jobs/0.5/", "/api/v1/jobs/0.5/cancel/", "/api/v1/backends/a/b/c/", "/api/nope", "/v1/nope"],
)
def test_an_api_path_no_view_matches_answers_the_json_envelope(client, path):
    """A path parameter that is not a UUID, or a path that does not exist, under the APIs: the error
    envelope in JSON (what the schema documents), never the HTML 404 page."""
    from tests.conftest import rest_error_of

    response = client.get(path)
    assert response["Content-Type"] == "application/json"
    assert rest_error_of(response, 404)["error_code"] == "not_found"


def test_a_page_path_no_view_matches_is_still_the_404_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
