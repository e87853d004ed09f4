"""State changes of jobs. Every face of the portal (JSON-RPC, REST, admin, web, workers) calls these,
and none of them writes a job's state any other way.

The package is split along the life of a job: ``submit``, ``lifecycle`` (owner actions and what
workers write), ``operators``, ``recovery``, over the state machine in ``state``. This module is
its public face, so callers need not know which file a service lives in.
"""

from jobs.services.drawings import job_draw_circuits
from jobs.services.lifecycle import (
    UNSET,
    job_cancel,
    job_cancel_entries,
    job_delete,
    job_fail,
    job_finish,
    job_record_entry,
    job_set_results,
    job_start,
    job_update,
    jobs_cancel,
    jobs_delete,
    jobs_enqueue_held,
)
from jobs.services.operators import REQUEUEABLE, job_force_stop, jobs_force_delete, jobs_operator_requeue, jobs_requeue
from jobs.services.recovery import MAX_ATTEMPTS, job_enqueue_unstarted, job_recover_lost, jobs_reconcile
from jobs.services.submit import JobSpec, job_submit

__all__ = [
    "MAX_ATTEMPTS",
    "REQUEUEABLE",
    "UNSET",
    "JobSpec",
    "job_cancel",
    "job_cancel_entries",
    "job_delete",
    "job_draw_circuits",
    "job_enqueue_unstarted",
    "job_fail",
    "job_finish",
    "job_force_stop",
    "job_record_entry",
    "job_recover_lost",
    "job_set_results",
    "job_start",
    "job_submit",
    "job_update",
    "jobs_cancel",
    "jobs_delete",
    "jobs_enqueue_held",
    "jobs_force_delete",
    "jobs_operator_requeue",
    "jobs_reconcile",
    "jobs_requeue",
]
