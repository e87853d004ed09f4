"""Untrusted input for both APIs (SPEC §13): strict JSON in and out, and strict DRF serializers.

Strict JSON: a body is refused as a parse error before any of it is used when it nests deeper than
``MAX_JSON_DEPTH``, holds NaN, Infinity or a number beyond float range (``1e400``), or an integer
literal longer than Python converts; an answer never holds NaN or Infinity (they become null).

Strict serializers: unknown fields are rejected and JSON types are not coerced (``"5"`` is not an
integer, ``1`` is not a boolean), so typos and type slips never pass silently; every string, object
key included, is refused when it holds NUL or a lone surrogate (``text_problem``), which no database
stores and no page or UTF-8 answer can show; integers are bounded by what a column holds.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import sys
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.exceptions import InvalidParams, NotFound

logger = logging.getLogger(__name__)

# The deepest legitimate body is a batch of submissions with QUBO matrices (batch, request, params,
# body, source_code, matrix, row: 7) or results with nested metadata; 64 leaves room for any
# driver's options and stays far below the recursion limit of every parser and serializer after us.
MAX_JSON_DEPTH = 64
# Integer fields without a bound of their own hold what every integer column holds (PostgreSQL's
# ``integer``; beyond it PostgreSQL raises DataError and SQLite OverflowError).
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# Integers inside free-form JSON (options, results): 64-bit, what drivers (numpy) and jsonb take as integers.
JSON_INT_MIN, JSON_INT_MAX = -(2**63), 2**63 - 1
# An error list is cut here and a refused value echoed at most this long, so a huge malformed body
# cannot make a still larger answer.
MAX_REPORTED_ERRORS = 100
MAX_ECHO_LENGTH = 300


# --- Strict JSON --------------------------------------------------------------------------------


class JSONRejected(ValueError):
    """A body that is not JSON the portal accepts; the message says why."""


_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1
_NOT_STRUCTURE = bytes(code for code in range(256) if code not in b'"[]{}')
_CHUNK = 1 << 20


def _deepest(body: bytes) -> int:
    """How deep the arrays and objects of a UTF-8 body nest, brackets inside strings left out.

    Counted on the bytes before parsing rather than by catching RecursionError from json.loads:
    where that is raised depends on the stack the parser starts from, and a value nested just
    below it would then overflow the serializers, the error flattening or the encoder instead.
    Vectorised because a Python loop over a 32 MB body of brackets takes seconds; this is about a
    tenth of json.loads's own time on a dense QUBO body, and a third of a second at worst.
    """
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0
    # Escaped backslashes first, so that in \\" the quote still ends the string; UTF-8 continuation
    # bytes never equal a quote, a bracket or a backslash.
    marks = body.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    codes = np.frombuffer(marks, dtype=np.uint8)
    quotes, depth, deepest = 0, 0, 0
    for start in range(0, len(codes), _CHUNK):
        chunk = codes[start : start + _CHUNK]
        in_string = (np.cumsum(chunk == ord('"'), dtype=np.uint8) + quotes) & 1  # parity survives wrapping
        steps = _STEP[chunk]
        steps[in_string.astype(bool)] = 0
        running = np.cumsum(steps, dtype=np.int64) + depth
        deepest = max(deepest, int(running.max()))
        depth, quotes = int(running[-1]), int(in_string[-1])
    return deepest


def _refuse_constant(name: str) -> None:
    raise JSONRejected(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONRejected(f"the number {text[:40]} is out of range.")
    return value


def loads(body: bytes | str) -> Any:
    """A request body (or text a user typed) as JSON, or JSONRejected (a ValueError) saying why not.

    Bytes are UTF-8, or UTF-16/32 as json.loads detects them (then transcoded for the depth count),
    decoded strictly, so surrogates encoded into the bytes are a parse error too. Escaped lone
    surrogates (``"\\ud800"``) are valid JSON: the serializers refuse them, naming the field.
    """
    if isinstance(body, str):
        text, encoding = body, "utf-8"
        body = text.encode("utf-8", "surrogatepass")
    else:
        encoding = json.detect_encoding(body)
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError as exc:
            raise JSONRejected(f"the body is not valid {encoding.upper()}: {exc.reason} at byte {exc.start}.") from exc
    deepest = _deepest(body if encoding == "utf-8" else text.encode("utf-8"))
    if deepest > MAX_JSON_DEPTH:
        raise JSONRejected(f"arrays and objects nest {deepest} deep; the limit is {MAX_JSON_DEPTH}.")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (JSONRejected, json.JSONDecodeError):
        raise
    except ValueError as exc:  # int() refuses literals over sys.get_int_max_str_digits() digits
        raise JSONRejected(f"an integer literal has more than {sys.get_int_max_str_digits()} digits.") from exc


def shown(text: str, limit: int = MAX_ECHO_LENGTH) -> str:
    """``text`` fit to echo back: lone surrogates written as ``\\udxxx``, cut to ``limit`` characters."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as None and lone surrogates escaped: what an answer holds
    when a driver's result or an old row carries them (the faces fall back to this on failure)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return shown(value, limit=len(value) + 1)
    if isinstance(value, Mapping):
        return {json_safe(k) if isinstance(k, str) else k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def dumps(data: Any, **kwargs: Any) -> str:
    """Strict JSON text of an answer (ASCII, so a lone surrogate is an escape); NaN and Infinity,
    which no JSON parser need accept, are written as null and logged."""
    try:
        return json.dumps(data, cls=DjangoJSONEncoder, allow_nan=False, **kwargs)
    except ValueError:
        logger.warning("an answer held a non-finite number; written as null")
        return json.dumps(json_safe(data), cls=DjangoJSONEncoder, allow_nan=False, **kwargs)


# --- Strings and free-form values -----------------------------------------------------------------


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored or shown, if it cannot: the one rule for every string field."""
    if "\x00" in value:
        return "must not contain NUL (U+0000)"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must not contain a lone surrogate (U+D800 to U+DFFF)"
    return None


def json_problem(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first string, object key or integer of a free-form JSON value that cannot be stored, as
    ``(path, why)``; the path is relative (``a[1].b``), empty for ``value`` itself."""
    if isinstance(value, str):
        problem = text_problem(value)
        return (path, problem) if problem else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if JSON_INT_MIN <= value <= JSON_INT_MAX:
            return None
        return path, f"must be an integer from {JSON_INT_MIN} to {JSON_INT_MAX}"
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, "must be a finite number")
    if isinstance(value, Mapping):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            problem = text_problem(str(key))
            if problem:
                return inner, f"name {problem}"
            found = json_problem(item, inner)
            if found:
                return found
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = json_problem(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _raise_json_problem(found: tuple[str, str] | None) -> None:
    if found is not None:
        path, message = found
        raise serializers.ValidationError({path: [message]} if path else [message])


# --- Fields ---------------------------------------------------------------------------------------


class StrictIntegerField(serializers.IntegerField):
    """An integer, not a float, string or bool; within ``INT_MIN..INT_MAX`` unless told otherwise."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", INT_MIN)
        kwargs.setdefault("max_value", INT_MAX)
        super().__init__(**kwargs)

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
        problem = text_problem(data)
        if problem:
            raise serializers.ValidationError(problem)
        return super().to_internal_value(data)


class StrictListField(serializers.ListField):
    """A list whose length is checked before its items, so a list of a million costs one comparison
    rather than a million item validations (and a million errors)."""

    def to_internal_value(self, data):
        if self.max_length is not None and isinstance(data, list) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.ANY)
class JSONValueField(serializers.Field):
    """Any JSON value, checked by ``json_problem`` (DRF's JSONField would only re-encode it)."""

    def to_internal_value(self, data):
        _raise_json_problem(json_problem(data))
        return data

    def to_representation(self, value):
        return value


class StrictDictField(serializers.DictField):
    """An object whose names obey ``text_problem`` and whose values are free-form JSON checked by
    ``json_problem`` unless a ``child`` says otherwise; at most ``max_items`` entries if given."""

    def __init__(self, *, max_items: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("child", JSONValueField())
        self.max_items = max_items
        super().__init__(**kwargs)

    def run_child_validation(self, data):
        if self.max_items is not None and len(data) > self.max_items:
            raise serializers.ValidationError(f"at most {self.max_items} entries")
        names = {str(key): [f"name {problem}"] for key in data if (problem := text_problem(str(key)))}
        if names:
            raise serializers.ValidationError(names)
        return super().run_child_validation(data)


class IsoDateTimeField(serializers.DateTimeField):
    """Timestamps as JSON-RPC writes them (``2025-07-15T14:58:55.283302+00:00``), not DRF's ``Z``."""

    def to_representation(self, value):
        return self.enforce_timezone(value).isoformat() if value else None


def parse_uuid(value: str, what: str) -> uuid.UUID:
    """A URL's id, or the not-found that a missing object would be."""
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound(f"{what} {value} not found.") from exc


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know; ``aliases`` maps accepted alternative names to fields; null for an
    optional field that takes no null is the field not given (its default)."""

    aliases: dict[str, str] = {}

    def get_fields(self):
        # DRF deep-copies every declared field (nested ones too) for each instance, a fifth of the CPU
        # a submit's validation takes. These input serializers keep no per-request state in their fields
        # and read no context, so each instance takes shallow copies of one deep copy made per class.
        cls = type(self)
        template = cls.__dict__.get("_field_template")
        if template is None:
            template = copy.deepcopy(self._declared_fields)
            cls._field_template = template
        return {name: copy.copy(field) for name, field in template.items()}

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
            # Clients that send every field (QCOS's sends null for each unset one) mean "not given".
            for name in [name for name, value in data.items() if value is None]:
                field = self.fields[name]
                if not field.required and not field.allow_null:
                    del data[name]
        return super().to_internal_value(data)


# --- Errors ---------------------------------------------------------------------------------------


def _join(prefix: str, key: Any) -> str:
    if key == "non_field_errors":
        return prefix
    if isinstance(key, int):  # DRF's ListField keys its item errors by index
        return f"{prefix}[{key}]"
    key = str(key)
    return f"{prefix}{key}" if key.startswith("[") or not prefix else f"{prefix}.{key}"


def _flatten(detail: Any, prefix: str) -> list[dict[str, str]]:
    if isinstance(detail, Mapping):
        errors = []
        for key, value in detail.items():
            errors.extend(_flatten(value, _join(prefix, key)))
        return errors
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [{"field": prefix or "params", "message": " ".join(str(item) for item in detail)}] if detail else []
        errors = []
        for index, item in enumerate(detail):
            errors.extend(_flatten(item, f"{prefix}[{index}]"))
        return errors
    return [{"field": prefix or "params", "message": str(detail)}]


def flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error detail as a flat list of ``{"field": "a.b[0]", "message": ...}``; names and
    messages (which may echo the refused value) made safe to answer, at most MAX_REPORTED_ERRORS."""
    errors = [{"field": shown(e["field"]), "message": shown(e["message"])} for e in _flatten(detail, prefix)]
    if len(errors) > MAX_REPORTED_ERRORS:
        more = len(errors) - MAX_REPORTED_ERRORS
        errors = [*errors[:MAX_REPORTED_ERRORS], {"field": prefix or "params", "message": f"and {more} more errors"}]
    return errors


def validate(serializer_class: type[serializers.Serializer], data: Any, **context: Any) -> dict[str, Any]:
    """Validated data, or InvalidParams naming each offending field."""
    if not isinstance(data, Mapping):
        raise InvalidParams.field("params", "must be an object of named parameters")
    serializer = serializer_class(data=data, context=context)
    if not serializer.is_valid():
        raise InvalidParams(errors=flatten_errors(serializer.errors))
    return dict(serializer.validated_data)
