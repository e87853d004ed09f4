import uuid

from django.db import models


class Token(models.Model):
    key_hash = models.CharField(max_length=64, unique=True)


class Submission(models.Model):
    job_id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    token = models.ForeignKey(Token, on_delete=models.CASCADE)
    code_type = models.CharField(max_length=16)
    source_code = models.JSONField()
    backend = models.CharField(max_length=64)
    shots = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
