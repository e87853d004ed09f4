"""Job statuses and their groups (SPEC §2)."""

from django.db import models


class JobStatus(models.TextChoices):
    UNKNOWN = "UNKNOWN"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    FAILED = "FAILED"
    COMPLETED = "COMPLETED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    DELETED = "DELETED"


# A job in one of these holds a place in the queue or a worker.
ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING})
# A job in one of these has ended: its results (if any) are committed and never change.
FINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.DELETED})
# A job in one of these ran and ended (a CANCELLED job never ran; a DELETED one has no source left).
RAN = frozenset({JobStatus.COMPLETED, JobStatus.FAILED})
CANCELLABLE = frozenset({JobStatus.QUEUED})
# A job's status from its entries' (Superstaq's STATUS_PRIORITY_ORDER): the first of these that any
# entry has. One failed entry fails the job; cancelled entries beside completed ones cancel it.
ENTRY_STATUS_PRIORITY = (
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
    JobStatus.COMPLETED,
)
DELETABLE = frozenset({JobStatus.QUEUED, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
UPDATABLE = frozenset(JobStatus) - {JobStatus.DELETED}


class ShareLevel(models.TextChoices):
    """Who else may read a job (IBM's ``share_level``): no one but its owner and its project's admins,
    or every member of its project. Changing it stays with the owner, the admins and operators."""

    NONE = "none"
    PROJECT = "project"


class SchedulingMode(models.TextChoices):
    """How a job got its backend (IBM's ``scheduling_mode``), recorded when it starts: in its project's
    booked timeslot (``dedicated``), or sharing the backend with every project (``fairshare``)."""

    FAIRSHARE = "fairshare"
    DEDICATED = "dedicated"


class CodeType(models.TextChoices):
    QASM = "qasm"
    QASM2 = "qasm2"
    QASM3 = "qasm3"
    QUBO = "qubo"


CIRCUIT_CODE_TYPES = frozenset({CodeType.QASM, CodeType.QASM2, CodeType.QASM3})


class CallbackType(models.TextChoices):
    RESULTS = "results"
    STATUS = "status"


# Headers a callback's own ``headers`` cannot set: the portal's (``X-Portal-*``), and those that
# describe the message itself. Refused at submit, and never sent (webhooks.sending).
CALLBACK_RESERVED_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding", "host", "connection"})
CALLBACK_RESERVED_PREFIX = "x-portal-"
