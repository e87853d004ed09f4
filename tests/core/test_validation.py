"""Strict serializers (core.validation) share one deep copy of their declared fields per class: each
instance still gets fields of its own, bound to it, and one instance's input never shows in another's."""

from __future__ import annotations

from rest_framework import serializers

from core.validation import StrictSerializer


class Inner(StrictSerializer):
    n = serializers.IntegerField(min_value=1)


class Outer(StrictSerializer):
    name = serializers.CharField(max_length=5)
    items = serializers.ListField(child=Inner(), required=False)


def test_each_instance_has_its_own_bound_fields():
    a, b = Outer(data={}), Outer(data={})
    assert a.fields["name"] is not b.fields["name"]
    assert a.fields["name"].parent is a and b.fields["name"].parent is b


def test_one_instances_input_and_errors_stay_its_own():
    bad = Outer(data={"name": "toolong", "items": [{"n": 0}], "extra": 1})
    good = Outer(data={"name": "ok", "items": [{"n": 2}]})
    assert not bad.is_valid()
    assert good.is_valid(), good.errors
    assert set(bad.errors) == {"extra"}  # unknown fields are refused before the others are looked at
    assert good.validated_data == {"name": "ok", "items": [{"n": 2}]}
    again = Outer(data={"name": "toolong", "items": [{"n": 0}]})
    assert not again.is_valid()
    assert set(again.errors) == {"name", "items"}
    assert Outer(data={"name": "fine"}).is_valid()
