"""JSON-RPC methods about backends (listed in portal/methods.py)."""

from __future__ import annotations

from typing import Any

from backends.presenters import backend_view
from backends.selectors import backends_with_queue_length
from core.calls import Caller
from core.validation import StrictSerializer, validate


class NoParams(StrictSerializer):
    pass


def get_backends(caller: Caller, params: dict[str, Any]) -> list[dict[str, Any]]:
    validate(NoParams, params)
    return [backend_view(backend) for backend in backends_with_queue_length()]
