"""What a backend's state change tells the apps above it, without importing them."""

from django.dispatch import Signal

# Sent with ``backend=`` inside the transaction that put a paused or offline backend online again;
# the jobs app listens (jobs/receivers.py) and enqueues the jobs the backend held.
backend_online = Signal()

# Sent with ``backend=`` inside the transaction that booked, changed or removed one of its timeslots:
# the jobs app enqueues the jobs that may run now.
timeslots_changed = Signal()
