"""Strict DRF serializers for the APIs: unknown fields are rejected and JSON types are not coerced
(``"5"`` is not an integer, ``1`` is not a boolean), so typos and type slips never pass silently."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from portal.errors import InvalidParams


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float) or not math.isfinite(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know; ``aliases`` maps accepted alternative names to fields."""

    aliases: dict[str, str] = {}

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            data = dict(data)
            for alias, name in self.aliases.items():
                if alias in data:
                    if name in data and data[name] != data[alias]:
                        raise serializers.ValidationError({alias: [f"conflicts with {name}; give one of them"]})
                    data[name] = data.pop(alias)
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["unknown field"] for name in unknown})
        return super().to_internal_value(data)


def flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error detail as a flat list of ``{"field": "a.b[0]", "message": ...}``."""
    if isinstance(detail, Mapping):
        errors = []
        for key, value in detail.items():
            name = prefix if key == "non_field_errors" else (f"{prefix}.{key}" if prefix else str(key))
            errors.extend(flatten_errors(value, name))
        return errors
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [{"field": prefix or "params", "message": " ".join(str(item) for item in detail)}] if detail else []
        errors = []
        for index, item in enumerate(detail):
            errors.extend(flatten_errors(item, f"{prefix}[{index}]"))
        return errors
    return [{"field": prefix or "params", "message": str(detail)}]


def validate(serializer_class: type[serializers.Serializer], data: Any, **context: Any) -> dict[str, Any]:
    """Validated data, or InvalidParams naming each offending field."""
    if not isinstance(data, Mapping):
        raise InvalidParams.field("params", "must be an object of named parameters")
    serializer = serializer_class(data=data, context=context)
    if not serializer.is_valid():
        raise InvalidParams(errors=flatten_errors(serializer.errors))
    return dict(serializer.validated_data)
