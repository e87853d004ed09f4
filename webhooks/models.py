"""Callback deliveries and their attempts: what a job's callbacks are owed, and each try at sending it."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from jobs.choices import CallbackType, JobStatus


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    REFUSED = "refused"


class CallbackDelivery(models.Model):
    """One message owed to one of a job's callbacks for one status change, retried until it is
    delivered or out of attempts (SPEC §6).

    ``delivery_id`` is the ``X-Portal-Delivery`` header, the same on every attempt, and the RQ job
    id. The callback's headers, timeout and retries are read from ``job.callbacks[callback_index]``
    when sending, so user headers (often credentials) are stored once. ``body`` holds the exact
    bytes that are signed and sent: a status body is built with the row, a results body on the
    first attempt (after the transaction that made the job final, and its results, committed).
    """

    delivery_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="callback_deliveries")
    callback_index = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    type = models.CharField(max_length=16, choices=CallbackType.choices)
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=2000)
    event = models.CharField(max_length=32)
    job_status = models.CharField(max_length=16, choices=JobStatus.choices, help_text="The status it reports.")
    body = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "callback_index"]
        indexes = [models.Index(fields=["job", "created_at"], name="delivery_job_created")]
        db_table = "jobs_callbackdelivery"  # born in the jobs app; moved here without copying rows

    def __str__(self) -> str:
        return f"{self.event} {self.job_status} -> {self.name} ({self.status})"


class CallbackAttempt(models.Model):
    """One try at sending a delivery: the answer's status code, or the error (network error,
    timeout, refused destination) and how long it took."""

    delivery = models.ForeignKey(CallbackDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration = models.FloatField(default=0.0, help_text="Seconds.")

    class Meta:
        ordering = ["at", "id"]
        db_table = "jobs_callbackattempt"
