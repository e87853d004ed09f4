"""The OpenRPC document of a JSON-RPC method table (``rpc.discover``): each method's params from the
serializer that validates them, its result from the shape it answers with (``core.shapes``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _schema(field_obj) -> dict[str, Any]:
    """JSON Schema of a DRF field, enough for clients and docs."""
    from rest_framework import serializers as s

    schema: dict[str, Any]
    if isinstance(field_obj, s.Serializer):
        schema = _object_schema(field_obj)
    elif isinstance(field_obj, s.ListSerializer):
        schema = {"type": "array", "items": _schema(field_obj.child)}
    elif isinstance(field_obj, s.ChoiceField):
        schema = {"enum": list(field_obj.choices)}
    elif isinstance(field_obj, s.ListField):
        schema = {"type": "array", "items": _schema(field_obj.child)}
    elif isinstance(field_obj, s.DictField):
        schema = {"type": "object"}
    elif isinstance(field_obj, s.BooleanField):
        schema = {"type": "boolean"}
    elif isinstance(field_obj, s.IntegerField):
        schema = {"type": "integer"}
        if field_obj.min_value is not None:
            schema["minimum"] = field_obj.min_value
        if field_obj.max_value is not None:
            schema["maximum"] = field_obj.max_value
    elif isinstance(field_obj, s.FloatField):
        schema = {"type": "number"}
    elif isinstance(field_obj, s.UUIDField):
        schema = {"type": "string", "format": "uuid"}
    elif isinstance(field_obj, s.DateTimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(field_obj, s.CharField):
        schema = {"type": "string"}
    else:
        schema = {}
    if getattr(field_obj, "allow_null", False) and schema:
        schema = {"oneOf": [schema, {"type": "null"}]}
    return schema


def _object_schema(serializer) -> dict[str, Any]:
    fields = serializer.fields
    return {
        "type": "object",
        "properties": {name: _schema(f) for name, f in fields.items()},
        "required": [name for name, f in fields.items() if f.required],
        "additionalProperties": False,
    }


def result_schema(result: Any) -> dict[str, Any]:
    """JSON Schema of a method's answer: a ``core.shapes.Shape`` (what the method renders with), a list
    of one (``[SHAPE]``: an array of them), or a schema as it is."""
    if isinstance(result, list):
        return {"type": "array", "items": result_schema(result[0])}
    if isinstance(result, dict):
        return result
    return {"title": result.name, "description": result.doc, **_object_schema(result.serializer())}


def document(table: Mapping[str, Any], server_url: str) -> dict[str, Any]:
    """The ``rpc.discover`` answer for a method table (``portal.methods``), served at ``server_url``
    (absolute: the meta-schema wants a URI)."""
    methods = []
    for method in table.values():
        params = []
        if method.params is not None:
            serializer = method.params()
            params = [
                {"name": name, "required": f.required, "schema": _schema(f)} for name, f in serializer.fields.items()
            ]
        methods.append(
            {
                "name": method.name,
                "summary": method.summary,
                "paramStructure": "by-name",
                "params": params,
                "result": {"name": "result", "schema": result_schema(method.result)},
            }
        )
    return {
        "openrpc": "1.3.2",
        "info": {
            "title": "Quantum job portal",
            "version": "1.0.0",
            "description": "Seed 000's job API. Params may also be wrapped as params.body "
            "(and params.filters for get_jobs). Errors carry data.error_code.",
        },
        "servers": [{"name": "portal", "url": server_url}],
        "methods": methods,
    }
