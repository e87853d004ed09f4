"""What the jobs app does when the apps below it announce a change (connected in JobsConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from backends.signals import backend_online, timeslots_changed
from jobs.services import jobs_enqueue_held


@receiver(backend_online, dispatch_uid="jobs.enqueue_held_jobs")
def enqueue_held_jobs(sender: Any, *, backend: Any, **kwargs: Any) -> None:
    jobs_enqueue_held(backend=backend)


@receiver(timeslots_changed, dispatch_uid="jobs.enqueue_jobs_a_timeslot_released")
def enqueue_released_jobs(sender: Any, *, backend: Any, **kwargs: Any) -> None:
    jobs_enqueue_held(backend=backend)
