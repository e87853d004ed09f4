"""Pictures of a job's circuits (the job page's "as submitted" and "as transpiled"), made once by a
worker after the job ended (``jobs.tasks.draw_job``) and stored: a page view only reads them."""

from __future__ import annotations

import uuid

from django.db import transaction

from drivers.registry import get_driver
from jobs.choices import CIRCUIT_CODE_TYPES, RAN
from jobs.models import CircuitDrawing, Job, JobResult
from jobs.presenters import driver_job


def job_draw_circuits(*, job_id: uuid.UUID | str) -> int:
    """Draw and store the job's circuits, unless they are drawn already; answers how many pictures
    were stored. Nothing for a job that is not a circuit job, not ended, or deleted meanwhile."""
    job = Job.objects.select_related("backend").filter(pk=job_id, status__in=RAN).first()
    if job is None or job.code_type not in CIRCUIT_CODE_TYPES or job.drawings.exists():
        return 0
    ran = dict(JobResult.objects.filter(job_id=job.job_id).values_list("index", "transpiled"))
    transpiled = [ran.get(index) for index in range(job.num_entries)]
    # Drawn outside any transaction (it takes a while); stored under the job's row lock, so a delete
    # that came meanwhile either waits for these rows (and purges them) or has already won.
    drawings = get_driver(job.backend.driver).draw(job.backend, driver_job(job), transpiled)
    with transaction.atomic():
        if not Job.objects.select_for_update().filter(pk=job.job_id, status__in=RAN).exists():
            return 0
        created = CircuitDrawing.objects.bulk_create(
            [
                CircuitDrawing(
                    job_id=job.job_id,
                    index=d.index,
                    stage=d.stage,
                    svg_blob=None if d.svg is None else CircuitDrawing.pack(d.svg),
                    note=d.note[:300],
                )
                for d in drawings
            ],
            ignore_conflicts=True,  # two workers drew the same job: the first one's pictures stand
        )
    return len(created)
