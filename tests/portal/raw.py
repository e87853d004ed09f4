"""JSON-RPC and REST calls that bypass the clients' own encoding (so lone surrogates, huge literals and
bad headers reach the portal as sent), and strict parsing of every answer."""

from __future__ import annotations

import json
from typing import Any

JOBS, TOKENS, PROJECTS = "/api/v1/jobs/", "/api/v1/tokens/", "/api/v1/projects/"


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
