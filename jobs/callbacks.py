"""Callbacks (SPEC §6): build, sign and send one delivery.

Stub: the callback engine is being built (issue 4). ``on_status_change`` is the one hook the state
machine calls, inside the transaction of every status change.
"""

from __future__ import annotations

import uuid
from datetime import datetime


def on_status_change(*, job_id: uuid.UUID, status: str, at: datetime) -> None:
    """Record the deliveries this status change owes (enqueued once the transaction commits)."""


def deliver(delivery_id: str) -> None:
    """Send one delivery (an RQ job on the callbacks queue)."""
