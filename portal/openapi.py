"""What the REST API's OpenAPI schema says beyond what drf-spectacular reads off the views: every
operation's error answers, in the one error envelope (``portal.errors.rest_error``), declared once
here (``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``) rather than per view; and that strict request
bodies allow no unknown field (``PortalAutoSchema``, DRF's ``DEFAULT_SCHEMA_CLASS``)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from drf_spectacular.openapi import AutoSchema

from core.validation import StrictSerializer

ERROR = "Error"

# Whatever the operation: bad parameters or JSON, no or a bad token, a role that does not allow it,
# not found (or not yours), an HTTP method or Accept the operation does not serve, the rate limit,
# and a bug (answered with a reference).
EVERY_OPERATION = (400, 401, 403, 404, 405, 406, 429, 500)
# An operation that takes a body may also meet a conflict (a job_id already used, a state that no
# longer allows the change), a body over MAX_REQUEST_BYTES, a body that is not JSON, an option this
# portal does not honour, and a backend that is offline.
WITH_A_BODY = (409, 413, 415, 422, 503)

PAGINATION = ("page", "page_size")  # not filters: an empty one is refused

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error answer: the JSON-RPC error object of the same failure, plus error_code.",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "error_code", "message", "data"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "integer", "description": "Seed 000's code: -32602, -401, -404, -429, ..."},
                "error_code": {"type": "string", "description": "A stable name: invalid_params, not_found, ..."},
                "message": {"type": "string"},
                "data": {
                    "type": "object",
                    "nullable": True,
                    "description": "Details: errors per field, limit, retry_after, ref (a bug's reference).",
                },
            },
        }
    },
}


def add_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular's postprocessing hook: the Error component, and each operation's error answers."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR] = ERROR_SCHEMA
    answer = {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR}"}}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if (
                    parameter.get("in") == "query"
                    and parameter["name"] not in PAGINATION
                    and schema.get("type") != "array"
                ):
                    # A filter given empty is not given (django-filter's rule, which HTML forms rely on).
                    parameter["schema"] = {"anyOf": [schema, {"type": "string", "maxLength": 0}]}
            responses = operation["responses"]
            statuses = EVERY_OPERATION + (WITH_A_BODY if "requestBody" in operation else ())
            for status in statuses:
                responses.setdefault(str(status), {"description": HTTPStatus(status).phrase})
            for status, response in responses.items():
                if not status.startswith("2"):  # a view's own error answers keep their descriptions
                    response.update(answer)
    return result


class PortalAutoSchema(AutoSchema):
    """drf-spectacular's, saying what strict serializers do: a request body's unknown fields are
    refused (``core.validation.StrictSerializer``), so its schema allows none."""

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
            # null for an optional field means "not given" (QCOS's client sends null for every unset one)
            required = set(schema.get("required", ()))
            for name, prop in schema.get("properties", {}).items():
                if name not in required and not prop.get("readOnly") and not prop.get("nullable"):
                    schema["properties"][name] = (
                        {"allOf": [prop], "nullable": True} if "$ref" in prop else {**prop, "nullable": True}
                    )
        return schema
