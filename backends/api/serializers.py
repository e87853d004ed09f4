"""REST shape of backends: the serializer made from the shape that renders ``get_backends``' entries."""

from __future__ import annotations

from backends.presenters import BACKEND

BackendSerializer = BACKEND.serializer
