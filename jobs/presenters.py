"""How jobs look to clients: the field sets of seed 000, shared by every API. Each answer is a shape
(core.shapes) declared once here: it renders the answers of JSON-RPC, REST, the web pages and the
callbacks, and makes the serializer the REST schema documents them with (jobs/api/serializers.py)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import TextField
from django.db.models.functions import Cast
from rest_framework import serializers as s

from core.shapes import Out, Shape
from core.validation import dumps
from drivers.base import DriverJob
from jobs import estimates, queues
from jobs.choices import CallbackType, CodeType, JobStatus, SchedulingMode, ShareLevel
from jobs.models import Job, JobResult


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _tags(job: Job) -> list[str]:
    return sorted(tag.name for tag in job.tags.all())


def _attr(name: str):
    return lambda obj: getattr(obj, name)


def _uuid(name: str):
    return lambda obj: str(getattr(obj, name))


def _when(name: str):
    return lambda obj: _ts(getattr(obj, name))


ATTEMPT = Shape(
    "CallbackAttemptOut",
    "One try at sending a callback delivery.",
    {
        "at": Out(_when("at"), s.DateTimeField()),
        "status_code": Out(_attr("status_code"), s.IntegerField(allow_null=True)),
        "error": Out(lambda attempt: attempt.error or None, s.CharField(allow_null=True)),
        "duration": Out(_attr("duration"), s.FloatField(allow_null=True)),
    },
)

DELIVERY = Shape(
    "CallbackDeliveryOut",
    "A message owed to one of the job's callbacks, and its attempts.",
    {
        "delivery_id": Out(
            _uuid("delivery_id"), s.UUIDField(help_text="The X-Portal-Delivery header, the same on every attempt.")
        ),
        "name": Out(_attr("name"), s.CharField()),
        "type": Out(_attr("type"), s.ChoiceField(choices=CallbackType.choices)),
        "event": Out(_attr("event"), s.CharField()),
        "job_status": Out(_attr("job_status"), s.ChoiceField(choices=JobStatus.choices)),
        "url": Out(_attr("url"), s.CharField()),
        "status": Out(_attr("status"), s.CharField()),
        "attempts": Out(_attr("attempts"), s.IntegerField()),
        "attempt_log": Out(
            lambda delivery: [
                ATTEMPT.render(attempt) for attempt in sorted(delivery.attempt_log.all(), key=lambda a: (a.at, a.id))
            ],
            ATTEMPT.serializer(many=True),
        ),
        "created_at": Out(_when("created_at"), s.DateTimeField()),
        "updated_at": Out(_when("updated_at"), s.DateTimeField()),
    },
)


def deliveries_view(job: Job) -> list[dict[str, Any]]:
    """A job's deliveries and their attempts, for whoever may read the job: two queries at most."""
    if not job.callbacks:
        return []
    # Through the reverse relations: the webhooks app that owns these rows sits above this one.
    return [DELIVERY.render(delivery) for delivery in job.callback_deliveries.all().prefetch_related("attempt_log")]


SUMMARY = Shape(
    "JobSummary",
    "An item of the job list, as ``get_jobs`` answers it.",
    {
        "job_id": Out(_uuid("job_id"), s.UUIDField()),
        "job_name": Out(_attr("job_name"), s.CharField(allow_null=True)),
        "job_status": Out(_attr("status"), s.ChoiceField(choices=JobStatus.choices)),
        "job_priority": Out(_attr("job_priority"), s.IntegerField(help_text="1 runs first.")),
        "project_id": Out(lambda job: str(job.project.project_id), s.UUIDField()),
        "user_id": Out(lambda job: str(job.user.user_id), s.UUIDField()),
        "code_type": Out(_attr("code_type"), s.ChoiceField(choices=CodeType.choices)),
        "backend": Out(lambda job: job.backend.name, s.CharField()),
        "transpiler": Out(_attr("transpiler"), s.CharField(allow_null=True)),
        "shots": Out(_attr("shots"), s.IntegerField()),
        "progress": Out(_attr("progress"), s.IntegerField(help_text="Percentage of entries that ended.")),
        "code_compress_level": Out(_attr("code_compress_level"), s.IntegerField()),
        "tags": Out(_tags, s.ListField(child=s.CharField())),
        "experiment_id": Out(
            _attr("experiment_id"), s.CharField(allow_null=True, help_text="Groups jobs into one experiment.")
        ),
        "metadata": Out(_attr("metadata"), s.DictField(help_text="The user's own key: value pairs, as submitted.")),
        "share_level": Out(
            _attr("share_level"),
            s.ChoiceField(choices=ShareLevel.choices, help_text='"project": every member of its project may read it.'),
        ),
        "created_at": Out(_when("created_at"), s.DateTimeField()),
        "started_at": Out(_when("started_at"), s.DateTimeField(allow_null=True)),
        "ended_at": Out(_when("ended_at"), s.DateTimeField(allow_null=True)),
    },
)

# get_job_status without its queue position: a get_jobs item and the rest, without source and results.
_STATUS = Shape(
    "JobStatusView",
    "A job without source and results.",
    {
        "description": Out(_attr("description"), s.CharField(allow_null=True)),
        "transpiler_options": Out(_attr("transpiler_options"), s.DictField(allow_null=True)),
        "driver_options": Out(_attr("driver_options"), s.DictField(allow_null=True)),
        "job_type": Out(
            _attr("job_type"),
            s.CharField(help_text='"" (a run), "estimation", or a primitive: "sampler", "estimator".'),
        ),
        "profiling": Out(_attr("profiling"), s.ListField(child=s.CharField())),
        "dry_run": Out(_attr("dry_run"), s.BooleanField()),
        "enable_circuit_aggregation": Out(_attr("enable_circuit_aggregation"), s.BooleanField()),
        "callbacks": Out(_attr("callbacks"), s.ListField(child=s.DictField())),
        "num_qubits": Out(
            _attr("num_qubits"), s.IntegerField(allow_null=True, help_text="The largest among the entries.")
        ),
        "updated_at": Out(_when("updated_at"), s.DateTimeField()),
        "client_version": Out(
            _attr("client_version"), s.DictField(help_text="Client name -> version, as it sent them.")
        ),
        "header": Out(_attr("header"), s.DictField(help_text="The client's header (circuit names, metadata).")),
        "use_timeslot": Out(
            _attr("use_timeslot"), s.BooleanField(help_text="Runs only in a timeslot booked for its project.")
        ),
        "scheduling_mode": Out(
            _attr("scheduling_mode"),
            s.ChoiceField(
                choices=SchedulingMode.choices,
                allow_null=True,
                help_text="How its (last) run got the backend: in its project's timeslot (dedicated) or shared "
                "(fairshare); null until it starts.",
            ),
        ),  # fmt: skip
        "callback_deliveries": Out(deliveries_view, DELIVERY.serializer(many=True)),
    },
    extends=SUMMARY,
)


def queue_position(job: Job) -> int | None:
    """1 for the next job to start in its priority; None unless the job waits in Redis."""
    return queues.position(job.job_id, job.job_priority) if job.status == JobStatus.QUEUED else None


def _queue_info(job: Job) -> tuple[int | None, estimates.Estimate]:
    """The job's place in the queue and its estimate, worked out once per answer."""
    if not hasattr(job, "_queue_info"):
        position = queue_position(job)
        job._queue_info = (position, estimates.estimate(job, position))
    return job._queue_info


STATUS = Shape(
    "JobStatus",
    "A job as ``get_job_status`` answers it: no source, no results; its place in the queue and when it "
    "should start and end, from what its backend has done lately (null where there is no basis).",
    {
        "queue_position": Out(
            lambda job: _queue_info(job)[0], s.IntegerField(allow_null=True, help_text="1 = next; null unless waiting.")
        ),
        "estimated_start_at": Out(lambda job: _ts(_queue_info(job)[1].start), s.DateTimeField(allow_null=True)),
        "estimated_end_at": Out(lambda job: _ts(_queue_info(job)[1].end), s.DateTimeField(allow_null=True)),
        "estimate_basis": Out(
            lambda job: _queue_info(job)[1].basis,
            s.CharField(allow_null=True, help_text="What the estimate rests on, or why there is none."),
        ),
    },
    extends=_STATUS,
)

FULL = Shape(
    "Job",
    "The whole job, as ``submit_job`` answers it (source decompressed; null once deleted).",
    {"source_code": Out(_attr("source_code"), s.ListField(child=s.JSONField(), allow_null=True))},
    extends=_STATUS,
)

ENTRY = Shape(
    "JobResultEntryOut",
    "One result entry in the seed's shape; ``error`` only on failure, ``memory`` when asked for.",
    {
        "index": Out(_attr("index"), s.IntegerField(help_text="Its place in source_code.")),
        "results": Out(_attr("results"), s.JSONField(help_text="Counts (circuits) or a list of solutions (QUBO).")),
        "num_qubits": Out(_attr("num_qubits"), s.IntegerField(allow_null=True)),
        "metadata": Out(_attr("metadata"), s.DictField()),
        "profiling": Out(_attr("profiling"), s.DictField(help_text="Seconds per requested stage.")),
        "error": Out(
            _attr("error"), s.DictField(help_text="Only when the entry failed: {code, message}."), omit=lambda v: not v
        ),
        "memory": Out(
            _attr("memory"),
            s.ListField(child=s.CharField(), help_text="One bitstring per shot."),
            omit=lambda v: v is None,
        ),
    },
)


def _backend_properties(job: Job) -> dict[str, Any] | None:
    snapshot = job.backend_snapshot
    if snapshot is None:
        return None
    return {**snapshot.properties, "config_hash": snapshot.config_hash}


RESULTS = Shape(
    "JobResults",
    "A job with its results, as ``get_job_results`` answers it: one entry per ``source_code`` entry, and the "
    "backend as the job's run found it.",
    {
        "backend_properties": Out(
            _backend_properties,
            s.DictField(
                allow_null=True,
                help_text="The backend's configuration when the job ran (limits, basis gates, coupling map, "
                "options, the driver's noise parameters) and its config_hash; null until it runs.",
            ),
        ),
        "results": Out(
            lambda job: [ENTRY.render(entry) for entry in sorted(job.entries.all(), key=lambda e: e.index)],
            ENTRY.serializer(many=True),
        ),
    },
    extends=FULL,
)

# A job's input, as IQM's GetJobPayloadV1 gives it back: what was submitted to run, nothing of its state.
PAYLOAD_HEAD = Shape(
    "JobPayloadHead",
    "A job's input without its source.",
    {
        "job_id": Out(_uuid("job_id"), s.UUIDField()),
        "backend": Out(lambda job: job.backend.name, s.CharField()),
        "code_type": Out(_attr("code_type"), s.ChoiceField(choices=CodeType.choices)),
        "shots": Out(_attr("shots"), s.IntegerField()),
        "job_type": Out(_attr("job_type"), s.CharField()),
        "dry_run": Out(_attr("dry_run"), s.BooleanField()),
        "transpiler": Out(_attr("transpiler"), s.CharField(allow_null=True)),
        "transpiler_options": Out(_attr("transpiler_options"), s.DictField(allow_null=True)),
        "driver_options": Out(_attr("driver_options"), s.DictField(allow_null=True)),
        "enable_circuit_aggregation": Out(_attr("enable_circuit_aggregation"), s.BooleanField()),
    },
)
PAYLOAD = Shape(
    "JobPayload",
    "A job's input, as ``get_job_payload`` answers it: the source as submitted (null once deleted) and the "
    "options it runs with.",
    {"source_code": Out(_attr("source_code"), s.ListField(child=s.JSONField(), allow_null=True))},
    extends=PAYLOAD_HEAD,
)
# Bytes of the source read out of the stored blob at a time, when a payload is streamed.
PAYLOAD_CHUNK = 256 * 1024


def job_payload_stream(job: Job) -> Iterator[bytes]:
    """``PAYLOAD`` as JSON bytes, the source copied out of its stored (compressed) JSON a chunk at a
    time: a large input is never parsed, nor held decompressed whole."""
    head = json.dumps(PAYLOAD_HEAD.render(job), separators=(",", ":"))
    yield (head[:-1] + ',"source_code":').encode()
    if job.source_blob is None:
        yield b"null"
    else:
        blob = memoryview(job.source_blob)
        inflate = zlib.decompressobj() if job.code_compress_level > 0 else None
        for start in range(0, len(blob), PAYLOAD_CHUNK):
            chunk = bytes(blob[start : start + PAYLOAD_CHUNK])
            if inflate is None:
                yield chunk
                continue
            # Bounded on the way out too: a chunk of a well-compressed source inflates a hundredfold.
            while chunk:
                yield inflate.decompress(chunk, PAYLOAD_CHUNK)
                chunk = inflate.unconsumed_tail
        if inflate is not None:
            yield inflate.flush()
    yield b"}"


def job_results_stream(job: Job) -> Iterator[bytes]:
    """``RESULTS`` as JSON bytes, one entry at a time (REST's results and the results download). Each
    entry's per-shot ``memory`` is copied as the database's own JSON text, never read into Python
    objects: a million-shot result never sits whole in memory, as a list of strings or as one answer."""
    head = dumps(RESULTS.render(job, without="results"), separators=(",", ":"))
    yield (head[:-1] + ',"results":[').encode()
    entries = (
        JobResult.objects.filter(job_id=job.job_id)
        .defer("memory", "transpiled")
        .annotate(memory_text=Cast("memory", TextField()))
        .order_by("index")
    )
    for position, entry in enumerate(entries.iterator(chunk_size=1)):
        text = dumps(ENTRY.render(entry, without="memory"), separators=(",", ":"))
        if entry.memory_text is not None and entry.memory_text != "null":
            text = text[:-1] + ',"memory":' + entry.memory_text + "}"
        yield ((b"," if position else b"") + text.encode())
    yield b"]}"


# What cancel_jobs and delete_jobs answer per job, and set_job_results for its one.
CHANGED = Shape(
    "JobChanged",
    "A job the call changed, and its status now.",
    {"job_id": Out(_uuid("job_id"), s.UUIDField()), "job_status": Out(_attr("status"), s.CharField())},
)
STORED = Shape(
    "JobResultsStored",
    "The job whose results were stored, its backend and its status now.",
    {"backend": Out(lambda job: job.backend.name, s.CharField())},
    extends=CHANGED,
)

job_summary = SUMMARY.render
job_status_view = _STATUS.render
job_status = STATUS.render  # get_job_status's answer
job_full = FULL.render
job_results_view = RESULTS.render
job_payload = PAYLOAD.render
job_changed = CHANGED.render
job_stored = STORED.render
entry_view = ENTRY.render


def with_queue_position(data: dict[str, Any], job: Job) -> dict[str, Any]:
    """``data`` with get_job_status's queue fields (the web page's: results and place in line)."""
    extra = {name: STATUS.fields[name].get(job) for name in QUEUE_FIELDS}
    return {**data, **extra}


QUEUE_FIELDS = ("queue_position", "estimated_start_at", "estimated_end_at", "estimate_basis")


def driver_job(job: Job) -> DriverJob:
    """What the driver sees of a job."""
    return DriverJob(
        job_id=str(job.job_id),
        code_type=job.code_type,
        source_code=job.source_code or [],
        shots=job.shots,
        transpiler=job.transpiler,
        transpiler_options=job.transpiler_options or {},
        driver_options=job.driver_options or {},
        profiling=frozenset(job.profiling or []),
        dry_run=job.dry_run,
        job_type=job.job_type,
        enable_circuit_aggregation=job.enable_circuit_aggregation,
    )
