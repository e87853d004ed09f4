"""The RQ worker class of the portal (``manage.py rqworker --worker-class jobs.worker.JobWorker``)."""

from __future__ import annotations

import logging

from rq.worker import Worker

logger = logging.getLogger(__name__)


def prewarm() -> None:
    """Build each backend's simulator and default pass manager in the worker's main process.

    RQ forks a work horse per job; what the parent built before forking every horse inherits,
    so no job pays for building them (65-83 ms per pass manager here).
    """
    from drivers.models import Backend
    from drivers.registry import get_driver

    try:
        for backend in Backend.objects.all():
            try:
                get_driver(backend.driver).prepare(backend)
            except Exception:
                logger.exception("could not prepare backend %s", backend.name)
    except Exception:
        logger.exception("could not prepare backends (is the database migrated?)")


class JobWorker(Worker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        prewarm()
