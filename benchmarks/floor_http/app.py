"""The floor's view, URLs and WSGI application."""

import hashlib
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "floor_http.settings")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework import serializers  # noqa: E402
from rest_framework.decorators import api_view  # noqa: E402
from rest_framework.response import Response  # noqa: E402

from floor_http.models import Submission, Token  # noqa: E402

REDIS = redis.Redis.from_url(settings.REDIS_URL)  # one pool per process


class SubmitSerializer(serializers.Serializer):
    code_type = serializers.ChoiceField(choices=["qasm2", "qasm3"])
    source_code = serializers.ListField(child=serializers.CharField(max_length=100_000), min_length=1, max_length=100)
    backend = serializers.CharField(max_length=64)
    shots = serializers.IntegerField(min_value=1, max_value=100_000)


@api_view(["POST"])
def submit(request):
    raw = request.headers.get("Authorization", "").removeprefix("Bearer ")
    token = Token.objects.filter(key_hash=hashlib.sha256(raw.encode()).hexdigest()).first()
    if token is None:
        return Response({"error": "unauthorized"}, status=401)
    body = request.data.get("params", {}).get("body", {})
    serializer = SubmitSerializer(data=body)
    serializer.is_valid(raise_exception=True)
    row = Submission.objects.create(token=token, **serializer.validated_data)
    REDIS.lpush("floor:submissions", str(row.job_id))
    return Response({"jsonrpc": "2.0", "id": request.data.get("id"), "result": {"job_id": str(row.job_id)}})


urlpatterns = [path("v1/job/submit_job", submit)]
application = get_wsgi_application()
