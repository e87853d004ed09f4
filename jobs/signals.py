"""What the job state machine announces, for the apps above it (webhooks) to hear without jobs
importing them."""

from django.dispatch import Signal

# Sent with ``job_id``, ``status`` and ``at`` inside the transaction of every status change, once the
# change has won; a receiver that records something records it in that transaction. ``callbacks`` is
# the job's callbacks when the sender has the row at hand, None when a receiver must read them. A
# change of a job with no callbacks (``[]``) may be one autocommitted statement, sent after it: its
# receivers owe it nothing to write.
job_status_changed = Signal()

# Sent with ``grace`` (seconds) by jobs_reconcile; each receiver repairs what it owns and answers a
# dict of counts, merged into the reconcile summary.
jobs_reconciling = Signal()
