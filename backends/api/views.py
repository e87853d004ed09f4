"""REST views of backends: read-only, looked up by name."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from backends.api.serializers import BackendSerializer
from backends.selectors import backends_with_queue_length


@extend_schema_view(
    list=extend_schema(summary="Every backend with its status, limits and queue length"),
    retrieve=extend_schema(summary="One backend"),
)
class BackendViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = backends_with_queue_length()
    serializer_class = BackendSerializer
    lookup_field = "name"
