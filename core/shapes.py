"""An answer's shape, declared once: each field's name, how it is read from the object, and the DRF field
that documents it. The shape renders answers (``render``, a plain dict, fast enough for every list) and
makes the serializer the OpenAPI schema is generated from (``serializer``), so the two cannot drift.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from rest_framework import serializers


@dataclass(frozen=True)
class Out:
    """One field of an answer: ``get(obj)`` reads it, ``doc`` documents it; with ``omit``, a value for
    which ``omit(value)`` is true is left out of the answer (and the field is not required)."""

    get: Callable[[Any], Any]
    doc: serializers.Field
    omit: Callable[[Any], bool] | None = None


class Shape:
    """The fields of one kind of answer, in their order; ``extends`` puts another shape's fields first."""

    def __init__(self, name: str, doc: str, fields: dict[str, Out], *, extends: Shape | None = None) -> None:
        self.name = name
        self.doc = doc
        self.fields = {**(extends.fields if extends is not None else {}), **fields}
        self._reads = tuple((key, out.get) for key, out in self.fields.items() if out.omit is None)
        self._optional = tuple((key, out.get, out.omit) for key, out in self.fields.items() if out.omit is not None)

    def render(self, obj: Any, *, without: str | None = None) -> dict[str, Any]:
        """The answer for ``obj``; ``without``: a field left out (and never read), for an answer whose
        field is written apart, as a stream writes a large one."""
        data = {key: get(obj) for key, get in self._reads if key != without}
        for key, get, omit in self._optional:
            if key == without:
                continue
            value = get(obj)
            if not omit(value):
                data[key] = value
        if self._optional:  # keep the declared order
            data = {key: data[key] for key in self.fields if key in data}
        return data

    @cached_property
    def serializer(self) -> type[serializers.Serializer]:
        """The serializer that documents this shape (``<name>Serializer``, made once: the schema's
        component) and answers with ``render``."""
        declared: dict[str, Any] = {}
        for key, out in self.fields.items():
            # A DRF field is copied by building it again from its arguments, so "not required" is one.
            args, kwargs = out.doc._args, dict(out.doc._kwargs)
            if out.omit is not None:
                kwargs["required"] = False
            declared[key] = type(out.doc)(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        shape = self
        declared["to_representation"] = lambda _serializer, instance: shape.render(instance)
        declared["__doc__"] = self.doc
        declared["__module__"] = __name__
        return type(f"{self.name}Serializer", (serializers.Serializer,), declared)
