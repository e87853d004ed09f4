"""RQ entry point of callback deliveries, by the dotted name RQ stores with each one."""

from __future__ import annotations

from webhooks import sending


def deliver_callback(delivery_id: str) -> None:
    """Send one callback delivery (on the callbacks queue, so slow receivers never delay jobs)."""
    sending.deliver(delivery_id)
