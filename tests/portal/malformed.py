"""The values the malformed-request tests send (the raw calls that carry them: tests/portal/raw.py)."""

from __future__ import annotations

from typing import Any

from tests.factories import BELL

OUT_OF_RANGE_DATES = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"]
BAD_TEXT = ["\ud800", "\udfff", "a\x00b"]
RESERVED_HEADERS = [
    "Content-Type",
    "content-length",
    "HOST",
    "Transfer-Encoding",
    "Connection",
    "X-Portal-Event",
    "x-portal-delivery",
    "X-PORTAL-SIGNATURE",
]


def submit_body(**fields: Any) -> dict[str, Any]:
    return {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "shots": 100, **fields}


def nested(depth: int, kind: str) -> str:
    """A JSON value with ``depth`` arrays or objects around a number."""
    if kind == "array":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth
