"""The JSON-RPC 2.0 transport (SPEC §3), including the specification's own examples adapted to our methods."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal import methods
from projects.models import ApiToken
from projects.services import tokens_revoke
from tests.conftest import error_of, result_of

pytestmark = pytest.mark.django_db

METHODS = {
    "submit_job",
    "get_job_status",
    "get_job_results",
    "get_job_payload",
    "cancel_job_entries",
    "get_jobs",
    "cancel_jobs",
    "delete_jobs",
    "set_job_results",
    "update_job",
    "get_backends",
    "rpc.discover",
}


def test_call_with_named_params(rpc, tenant):
    """A call by name answers result with the same id and no error member."""
    response = rpc("get_backends", {}, who=tenant, id="abc")
    assert response["jsonrpc"] == "2.0" and response["id"] == "abc"
    assert "error" not in response
    assert {b["name"] for b in response["result"]} >= {"dummy", "aer_simulator"}


def test_notification_gets_no_response(post_raw, tenant):
    """A request without id is a notification: HTTP 204, empty body."""
    response = post_raw(json.dumps({"jsonrpc": "2.0", "method": "get_backends"}), who=tenant)
    assert response.status_code == 204
    assert response.content == b""


def test_invalid_json_is_parse_error(post_raw, tenant):
    """rpc call with invalid JSON -> -32700 with id null."""
    response = post_raw('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]', who=tenant)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] is None
    assert body["error"]["code"] == -32700
    assert body["error"]["data"]["error_code"] == "parse_error"


def test_invalid_request_object(post_raw, tenant):
    """rpc call with an invalid Request object -> -32600."""
    body = post_raw(json.dumps({"jsonrpc": "2.0", "method": 1, "params": "bar"}), who=tenant).json()
    assert body["error"]["code"] == -32600
    assert body["id"] is None


def test_wrong_version_is_invalid_request(rpc, post_raw, tenant):
    """jsonrpc must be exactly "2.0"."""
    body = post_raw(json.dumps({"jsonrpc": "1.0", "method": "get_backends", "id": 7}), who=tenant).json()
    assert body["error"]["code"] == -32600
    assert body["id"] == 7


def test_batch_with_invalid_json(post_raw, tenant):
    """rpc call Batch, invalid JSON -> a single -32700 error."""
    body = post_raw('[{"jsonrpc": "2.0", "method": "get_backends", "id": "1"},{"jsonrpc": "2.0", "method"]', who=tenant)
    assert body.json()["error"]["code"] == -32700


def test_empty_batch(post_raw, tenant):
    """rpc call with an empty Array -> a single -32600 error, not a list."""
    body = post_raw("[]", who=tenant).json()
    assert isinstance(body, dict)
    assert body["error"]["code"] == -32600


@pytest.mark.parametrize("batch", ["[1]", "[1,2,3]"])
def test_batch_of_invalid_requests(post_raw, tenant, batch):
    """rpc call with invalid Batch -> one -32600 per element."""
    body = post_raw(batch, who=tenant).json()
    assert isinstance(body, list)
    assert len(body) == len(json.loads(batch))
    assert all(item["error"]["code"] == -32600 and item["id"] is None for item in body)


def test_mixed_batch(post_raw, tenant):
    """rpc call Batch: answers in order, notifications left out, errors beside results."""
    batch = [
        {"jsonrpc": "2.0", "method": "get_backends", "id": "1"},
        {"jsonrpc": "2.0", "method": "get_backends"},
        {"jsonrpc": "2.0", "method": "get_jobs", "params": {"limit": 5}, "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_job_status", "params": {"job_id": "not-a-uuid"}, "id": "9"},
    ]
    body = post_raw(json.dumps(batch), who=tenant).json()
    assert [item["id"] for item in body] == ["1", "2", None, "5", "9"]
    assert "result" in body[0] and "result" in body[1]
    assert body[2]["error"]["code"] == -32600
    assert body[3]["error"]["code"] == -32601
    assert body[4]["error"]["code"] == -32602
    assert all(("result" in item) != ("error" in item) for item in body)


def test_batch_of_notifications_answers_204(post_raw, tenant):
    """rpc call Batch (all notifications) -> nothing is returned, HTTP 204."""
    batch = [{"jsonrpc": "2.0", "method": "get_backends"}, {"jsonrpc": "2.0", "method": "get_jobs"}]
    response = post_raw(json.dumps(batch), who=tenant)
    assert response.status_code == 204


def test_unknown_method(rpc, tenant):
    """rpc call of a non-existent method -> -32601."""
    error = error_of(rpc("foobar", {}, who=tenant, url="/v1/job/"))
    assert error["code"] == -32601
    assert error["data"]["error_code"] == "method_not_found"


def test_method_differs_from_uri(rpc, tenant):
    """On a per-method URI, a request naming another method is an Invalid Request."""
    error = error_of(rpc("get_jobs", {}, who=tenant, url="/v1/job/get_backends"))
    assert error["code"] == -32600


def test_positional_params_are_invalid_params(rpc, tenant):
    """Params are by name; an array is -32602."""
    error = error_of(rpc("get_job_status", ["00000000-0000-4000-8000-000000000001"], who=tenant))
    assert error["code"] == -32602
    assert error["data"]["errors"][0]["field"] == "params"


@pytest.mark.parametrize("url", ["/v1/job", "/v1/job/", "/v1/job/submit_job"])
@pytest.mark.parametrize("method", ["get", "head", "put", "delete"])
def test_only_post_carries_calls(client, url, method):
    """Any other HTTP method is 405 on every JSON-RPC URL: a POST redirected into a GET never reads as a result."""
    response = getattr(client, method)(url)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    if method != "head":
        assert response.json()["error"]["code"] == -32600


def test_post_without_slash_dispatches_on_the_body(rpc, tenant):
    """POST /v1/job (QCOS's client) is /v1/job/: the method is the body's, no redirect."""
    assert result_of(rpc("get_jobs", {}, who=tenant, url="/v1/job")) == []


def test_openrpc_document_has_its_own_url(client):
    """GET /openrpc.json serves the OpenRPC document, outside every JSON-RPC URL."""
    document = client.get("/openrpc.json").json()
    assert document["openrpc"].startswith("1.")
    assert {m["name"] for m in document["methods"]} == METHODS


def test_rpc_discover_needs_no_token(rpc):
    """rpc.discover answers anyone, describing every method with its params."""
    document = result_of(rpc("rpc.discover"))
    methods = {m["name"]: m for m in document["methods"]}
    assert set(methods) == METHODS
    submit_params = {p["name"]: p for p in methods["submit_job"]["params"]}
    assert submit_params["code_type"]["required"] is True
    assert submit_params["code_type"]["schema"]["enum"] == ["qasm", "qasm2", "qasm3", "qubo"]
    assert submit_params["job_priority"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 10}


def test_body_over_limit_is_413(post_raw, tenant, settings):
    """A body over the size limit answers HTTP 413 with a JSON-RPC error."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_raw(
        json.dumps({"jsonrpc": "2.0", "method": "get_jobs", "id": 1, "params": {"x": "y" * 2000}}), who=tenant
    )
    assert response.status_code == 413
    assert response.json()["error"]["data"]["limit"] == 1000


def test_batch_over_cap(post_raw, tenant, settings):
    """A batch over JSONRPC_MAX_BATCH calls is refused whole with -32600."""
    settings.JSONRPC_MAX_BATCH = 3
    batch = [{"jsonrpc": "2.0", "method": "get_backends", "id": i} for i in range(4)]
    body = post_raw(json.dumps(batch), who=tenant).json()
    assert body["error"]["code"] == -32600
    assert body["error"]["data"]["limit"] == 3


def test_no_token_is_unauthenticated(rpc):
    """Every method but rpc.discover needs a caller."""
    error = error_of(rpc("get_jobs", {}))
    assert error["code"] == -401
    assert error["data"]["error_code"] == "unauthenticated"


@pytest.mark.parametrize("header", ["Bearer qp_nope", "Bearer ", "Token abc", "Basic dXNlcjpwYXNz"])
def test_bad_token_is_unauthenticated(client, header):
    """Unknown or malformed credentials answer -401."""
    payload = json.dumps({"jsonrpc": "2.0", "method": "get_jobs", "id": 1})
    body = client.post("/v1/job/", payload, content_type="application/json", HTTP_AUTHORIZATION=header).json()
    assert body["error"]["code"] == -401


def test_revoked_token_fails_at_once(rpc, tenant):
    """Revocation takes effect for the very next request."""
    assert "result" in rpc("get_jobs", {}, who=tenant)
    tokens_revoke(user=tenant.user)
    assert error_of(rpc("get_jobs", {}, who=tenant))["code"] == -401


def test_expired_token_is_refused(rpc, tenant):
    """An expired token answers -401 saying so."""
    ApiToken.objects.filter(user=tenant.user).update(expires_at=timezone.now() - timedelta(seconds=1))
    error = error_of(rpc("get_jobs", {}, who=tenant))
    assert error["code"] == -401
    assert "expired" in error["message"]


def test_token_last_used_is_recorded(rpc, tenant):
    """A used token shows when it was last used."""
    rpc("get_jobs", {}, who=tenant)
    assert ApiToken.objects.get(user=tenant.user).last_used_at is not None


def test_session_needs_csrf(tenant):
    """The web session authenticates too, but only with a valid CSRF token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant.user)
    payload = json.dumps({"jsonrpc": "2.0", "method": "get_jobs", "id": 1})
    body = client.post("/v1/job/", payload, content_type="application/json").json()
    assert body["error"]["code"] == -403
    client.get("/admin/login/")  # sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    body = client.post("/v1/job/", payload, content_type="application/json", HTTP_X_CSRFTOKEN=csrf).json()
    assert body["result"] == []


def test_internal_error_has_reference_and_no_traceback(rpc, tenant, monkeypatch, caplog):
    """A bug answers -32603 with a reference id the server log also shows; no internals leak."""

    def broken(ctx, params):
        raise RuntimeError("secret internal detail")

    monkeypatch.setitem(methods.METHODS, "get_jobs", methods.RpcMethod("get_jobs", broken, "broken"))
    error = error_of(rpc("get_jobs", {}, who=tenant))
    assert error["code"] == -32603
    ref = error["data"]["ref"]
    assert ref in error["message"]
    assert "secret internal detail" not in json.dumps(error)
    assert any(ref in record.getMessage() for record in caplog.records)
