"""core.shapes: one declaration renders an answer and documents it."""

from __future__ import annotations

from types import SimpleNamespace

from rest_framework import serializers

from core.shapes import Out, Shape

BASE = Shape("Base", "A base.", {"a": Out(lambda o: o.a, serializers.IntegerField())})
ITEM = Shape(
    "Item",
    "An item.",
    {
        "b": Out(lambda o: o.b, serializers.CharField(allow_null=True)),
        "c": Out(lambda o: o.c, serializers.IntegerField(), omit=lambda v: v is None),
        "d": Out(lambda o: o.d, serializers.IntegerField()),
    },
    extends=BASE,
)


def test_render_follows_the_declared_order_and_leaves_out_omitted_values():
    """Fields come in declaration order, the extended shape's first; an omitted value has no key."""
    assert ITEM.render(SimpleNamespace(a=1, b=None, c=3, d=4)) == {"a": 1, "b": None, "c": 3, "d": 4}
    assert list(ITEM.render(SimpleNamespace(a=1, b="x", c=None, d=4))) == ["a", "b", "d"]


def test_serializer_documents_every_field_and_answers_with_render():
    """The serializer declares the same fields (an omittable one not required) and renders the same dict."""
    serializer = ITEM.serializer
    assert serializer.__name__ == "ItemSerializer" and serializer.__doc__ == "An item."
    fields = serializer().fields
    assert list(fields) == ["a", "b", "c", "d"]
    assert (fields["c"].required, fields["d"].required) == (False, True)
    obj = SimpleNamespace(a=1, b="x", c=None, d=4)
    assert serializer(obj).data == ITEM.render(obj)


def test_serializer_is_made_once():
    """The same class every time: one schema component per shape."""
    assert ITEM.serializer is ITEM.serializer
