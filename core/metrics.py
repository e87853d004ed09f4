"""The portal's Prometheus metrics that processes count as things happen, defined once (prometheus_client).

Web processes, workers and their work processes all count into these. With ``PROMETHEUS_MULTIPROC_DIR``
set (the settings set it: ``var/metrics/``, or the environment's), each process writes its values
to files there, and ``/metrics`` sums the files of every process (the client library's multiprocess
mode). The figures read at scrape time from the database and Redis (jobs by status, queue depths,
live workers) are not here: ``portal/metrics.py`` collects them.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Seconds, from a tiny circuit's parse (~0.1 ms) to a long run (the default time limit is 600 s).
_STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600)
_REQUEST_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10)

JOB_STATUS_CHANGES = Counter(
    "portal_job_status_changes_total", "Job status changes, by the status entered.", ["status"]
)
STAGE_SECONDS = Histogram(
    "portal_stage_seconds", "Seconds an entry spent in each driver stage.", ["driver", "stage"], buckets=_STAGE_BUCKETS
)
SUBMIT_SECONDS = Histogram(
    "portal_submit_seconds",
    "Seconds a submit takes in the portal, from its parsed fields to its answer (accepted or refused).",
    ["outcome"],
    buckets=_REQUEST_BUCKETS,
)
CALLBACK_ATTEMPTS = Counter(
    "portal_callback_attempts_total",
    "Callback delivery attempts, by outcome: delivered, retrying (failed, attempts left), failed (none left), "
    "refused (the destination is not allowed).",
    ["outcome"],
)
RECONCILE_REPAIRS = Counter(
    "portal_reconcile_repairs_total", "What reconcile_jobs repaired, by kind (its summary's keys).", ["kind"]
)
