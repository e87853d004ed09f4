"""What every face accepts of jobs: the bounds of request lists, the serializers that validate each
method's fields (JSON-RPC params, REST bodies, the web's forms all go through them), and the one submit
adapter, so JSON-RPC's submit_job, REST's POST /jobs/ and the web's submit page validate, place and
build a submission alike and keep only their own answers."""

from __future__ import annotations

import itertools
import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.exceptions import NotImplementedYet
from core.metrics import SUBMIT_SECONDS
from core.validation import (
    JSONValueField,
    StrictBooleanField,
    StrictCharField,
    StrictDictField,
    StrictFloatField,
    StrictIntegerField,
    StrictListField,
    StrictSerializer,
    text_problem,
    validate,
)
from drivers import primitives
from drivers.base import PROFILING_STAGES
from drivers.transpilers import TRANSPILERS
from jobs import services
from jobs.choices import (
    CALLBACK_RESERVED_HEADERS,
    CALLBACK_RESERVED_PREFIX,
    CIRCUIT_CODE_TYPES,
    CallbackType,
    CodeType,
    JobStatus,
    ShareLevel,
)
from jobs.models import Job
from projects.models import ApiToken, User
from projects.selectors import project_for_submission

# Bounds of request lists (SPEC §13); the tag and job id bounds hold for the job filters of every
# face too (jobs/filtersets.py).
MAX_TAGS = 32
MAX_TAG_LENGTH = 64
MAX_JOB_IDS = 1000  # cancel_jobs, delete_jobs, and the job_ids / job_id filters
MAX_FILTER_VALUES = 100  # any other repeatable filter (job_status)
# QCOS's circuit_aggregation: "None" (a string) or null is off; "internal" is the portal's aggregation;
# "external" (across jobs) it does not do.
CIRCUIT_AGGREGATION = ("None", "internal", "external")
UNSUPPORTED_OPTIONS = ("qec_options", "qem_options", "flavor_id", "extra_specs")
MAX_CALLBACKS = 20  # each is a delivery per status change
MAX_CALLBACK_HEADERS = 20
MAX_HEADER_NAME_LENGTH = 100
# "" and QCOS's "sampling": a run; "estimation": its cost; "sampler" / "estimator": PUBs (issue 17).
JOB_TYPES = ("", "sampling", "estimation", *primitives.JOB_TYPES)
# A job's own metadata (Superstaq's): flat, so every key can be a filter. A key is a name (letters,
# digits, single underscores), never a Django lookup path; a value a JSON scalar.
MAX_METADATA_KEYS = 32
MAX_METADATA_STRING = 1000
METADATA_KEY = re.compile(r"[A-Za-z](?:_?[A-Za-z0-9])*")
MAX_METADATA_KEY_LENGTH = 64
MAX_CLIENT_VERSIONS = 16


def metadata_problem(key: Any, value: Any) -> str | None:
    """Why ``key: value`` cannot be a job's metadata (or a filter on it)."""
    if not isinstance(key, str) or len(key) > MAX_METADATA_KEY_LENGTH or not METADATA_KEY.fullmatch(key):
        return f"keys are names of 1 to {MAX_METADATA_KEY_LENGTH} letters, digits and single underscores"
    if isinstance(value, str):
        return f"at most {MAX_METADATA_STRING} characters" if len(value) > MAX_METADATA_STRING else text_problem(value)
    if value is None or isinstance(value, bool | int) or (isinstance(value, float) and np.isfinite(value)):
        return None
    return "values are strings, numbers, booleans or null"


# The same rules as metadata_problem, for the schema's readers (a key's 64 characters as a lookahead).
METADATA_KEY_PATTERN = "^(?=[A-Za-z0-9_]{1,64}$)[A-Za-z](?:_?[A-Za-z0-9])*$"
_METADATA_SCHEMA = {
    "type": "object",
    "maxProperties": MAX_METADATA_KEYS,
    # OpenAPI 3.0 has no propertyNames: the key rule is told in words.
    "description": f"Up to {MAX_METADATA_KEYS} keys, each matching {METADATA_KEY_PATTERN}, to JSON scalars.",
    "additionalProperties": {
        "oneOf": [
            {"type": "string", "maxLength": MAX_METADATA_STRING, "pattern": "^[^\\u0000]*$"},
            {"type": "number"},
            {"type": "boolean"},
        ],
        "nullable": True,
    },
}


@extend_schema_field(_METADATA_SCHEMA)
class MetadataField(StrictDictField):
    """A job's metadata: up to MAX_METADATA_KEYS name -> scalar pairs (``metadata_problem``)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(child=JSONValueField(allow_null=True), max_items=MAX_METADATA_KEYS, **kwargs)

    def run_child_validation(self, data):
        values = super().run_child_validation(data)
        errors = {str(key): [problem] for key, value in values.items() if (problem := metadata_problem(key, value))}
        if errors:
            raise serializers.ValidationError(errors)
        return values


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": MAX_CLIENT_VERSIONS,
        "description": "Client name (at most 64 characters) -> version.",
        "additionalProperties": {"type": "string", "maxLength": 64, "pattern": "^[^\\u0000]*$"},
    }
)
class ClientVersionField(StrictDictField):
    """IBM's client_version: client name -> version string."""

    def __init__(self, **kwargs) -> None:
        super().__init__(child=StrictCharField(max_length=64), max_items=MAX_CLIENT_VERSIONS, **kwargs)

    def run_child_validation(self, data):
        values = super().run_child_validation(data)
        long = {str(name): ["at most 64 characters"] for name in values if len(name) > 64}
        if long:
            raise serializers.ValidationError(long)
        return values  # "" and QCOS's "sampling": a normal run


MAX_HEADER_BYTES = 64 * 1024


class HeaderField(StrictDictField):
    """IBM's job header: the client's own object (circuit names and metadata), stored as sent, at most
    64 KiB of JSON."""

    def __init__(self, **kwargs) -> None:
        super().__init__(child=JSONValueField(allow_null=True), **kwargs)

    def run_child_validation(self, data):
        values = super().run_child_validation(data)
        if len(json.dumps(values, separators=(",", ":"))) > MAX_HEADER_BYTES:
            raise serializers.ValidationError(f"at most {MAX_HEADER_BYTES} bytes of JSON")
        return values


# RFC 7230: a header name is a token; a value is visible ASCII, spaces and tabs (no CR, LF or NUL,
# which would split the request; nothing beyond ASCII, which http.client sends as Latin-1 or refuses).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


def header_problem(name: str, value: str) -> str | None:
    """Why a callback may not send header ``name: value``, checked at submit rather than failing at
    every delivery; the portal's own headers (jobs.choices.CALLBACK_RESERVED_*) are refused, not dropped."""
    if len(name) > MAX_HEADER_NAME_LENGTH or not _HEADER_NAME.fullmatch(name):
        return f"must be a header name of 1 to {MAX_HEADER_NAME_LENGTH} letters, digits or !#$%&'*+-.^_`|~"
    if name.lower() in CALLBACK_RESERVED_HEADERS or name.lower().startswith(CALLBACK_RESERVED_PREFIX):
        return "is set by the portal; a callback cannot set it"
    if not _HEADER_VALUE.fullmatch(value):
        return "must be printable ASCII on one line (no CR, LF, NUL or other control characters)"
    return None


class CallbackHeadersField(StrictDictField):
    """A callback's own headers: names and values checked by ``header_problem``."""

    def __init__(self, **kwargs) -> None:
        child = StrictCharField(max_length=1000, allow_blank=True)
        super().__init__(child=child, max_items=MAX_CALLBACK_HEADERS, **kwargs)

    def run_child_validation(self, data):
        headers = super().run_child_validation(data)
        errors = {name: [problem] for name, value in headers.items() if (problem := header_problem(name, value))}
        if errors:
            raise serializers.ValidationError(errors)
        return headers


class CallbackSerializer(StrictSerializer):
    """A place to push a job's outcome (SPEC §6)."""

    name = StrictCharField(max_length=100, required=False, default="callback")
    type = serializers.ChoiceField(choices=CallbackType.choices, default=CallbackType.RESULTS)
    method = serializers.ChoiceField(choices=["post", "put"], default="post")
    url = StrictCharField(max_length=2000)
    headers = CallbackHeadersField(required=False)
    timeout = StrictFloatField(min_value=0.1, max_value=60, required=False)
    retries = StrictIntegerField(min_value=0, max_value=10, required=False)

    def to_internal_value(self, data):
        if isinstance(data, dict) and isinstance(data.get("method"), str):
            data = {**data, "method": data["method"].lower()}
        return super().to_internal_value(data)

    def validate_url(self, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise serializers.ValidationError("must be an http:// or https:// URL")
        return value


class TranspilerOptionsSerializer(StrictSerializer):
    optimization_level = StrictIntegerField(min_value=0, max_value=3, required=False)
    seed_transpiler = StrictIntegerField(min_value=0, required=False, allow_null=True)
    basis_gates = serializers.ListField(child=StrictCharField(max_length=32), required=False, allow_null=True)
    coupling_map = serializers.ListField(
        child=serializers.ListField(child=StrictIntegerField(min_value=0), min_length=2, max_length=2),
        required=False,
        allow_null=True,
    )


class ParsedJSONField(serializers.Field):
    """A ``source_code`` entry, checked by ``validate_source_code`` (DRF's JSONField would re-encode
    it to check that it is JSON: 0.2 s for a dense 1,000-variable QUBO, which a walk over every
    number would cost too). A string is checked here; a matrix there holds numbers only."""

    def to_internal_value(self, data):
        problem = text_problem(data) if isinstance(data, str) else None
        if problem:
            raise serializers.ValidationError(problem)
        return data

    def to_representation(self, value):
        return value


def _numeric_matrix(rows: list) -> bool:
    """Every element an int or a float (not a bool, not a string) and finite; C-speed on 10^6 elements."""
    if not set(map(type, itertools.chain.from_iterable(rows))) <= {int, float}:
        return False
    try:
        return bool(np.isfinite(np.asarray(rows, dtype=float)).all())
    except OverflowError:  # an integer beyond float range
        return False


def validate_source_code(code_type: str, source_code: list) -> None:
    """Circuits are strings; QUBO matrices square, numeric and finite."""
    errors = {}
    for index, entry in enumerate(source_code):
        if code_type in CIRCUIT_CODE_TYPES:
            if not isinstance(entry, str) or not entry.strip():
                errors[f"source_code[{index}]"] = "must be a non-empty string of OpenQASM source"
        elif code_type == CodeType.QUBO:
            if not isinstance(entry, list) or not entry or not all(isinstance(row, list) for row in entry):
                errors[f"source_code[{index}]"] = "must be a square matrix: a non-empty list of rows"
                continue
            size = len(entry)
            if any(len(row) != size for row in entry):
                errors[f"source_code[{index}]"] = f"must be square: {size} rows, each of {size} numbers"
            elif not _numeric_matrix(entry):
                errors[f"source_code[{index}]"] = "every element must be a finite number"
    if errors:
        raise serializers.ValidationError(errors)


def validate_pubs(job_type: str, code_type: str, source_code: list, shots: int) -> None:
    """A sampler or estimator job's PUBs, or those an estimation job estimates
    (``drivers.primitives.read_pub``), each field named, as ``source_code[2].observables``; what
    needs the backend its driver checks at submit."""
    if code_type != CodeType.QASM3:
        raise serializers.ValidationError({"code_type": [f"a {job_type} job's circuits are OpenQASM 3: qasm3"]})
    errors = primitives.source_errors(job_type, source_code, shots)
    if errors:
        raise serializers.ValidationError(errors)


class SubmitJobSerializer(StrictSerializer):
    """The fields of ``submit_job`` (seed 000, SPEC §3)."""

    aliases = {"code_compression_level": "code_compress_level"}

    job_id = serializers.UUIDField(required=False, allow_null=True)
    project_id = serializers.UUIDField(required=False, allow_null=True)
    job_name = StrictCharField(max_length=200, required=False, allow_null=True, allow_blank=True)
    description = StrictCharField(max_length=10_000, required=False, allow_null=True, allow_blank=True)
    code_type = serializers.ChoiceField(choices=CodeType.choices)
    source_code = serializers.ListField(child=ParsedJSONField(), allow_empty=False, min_length=1)  # minItems
    backend = StrictCharField(max_length=64)
    transpiler = serializers.ChoiceField(choices=TRANSPILERS, required=False, allow_null=True)
    transpiler_options = TranspilerOptionsSerializer(required=False, allow_null=True)
    driver_options = StrictDictField(required=False, allow_null=True)
    job_type = serializers.ChoiceField(choices=JOB_TYPES, required=False, allow_blank=True, allow_null=True)
    job_priority = StrictIntegerField(min_value=1, max_value=10, default=5)
    shots = StrictIntegerField(min_value=1, default=1024)
    profiling = serializers.ListField(child=serializers.ChoiceField(choices=(*PROFILING_STAGES, "all")), default=list)
    dry_run = StrictBooleanField(default=False)
    code_compress_level = StrictIntegerField(min_value=0, max_value=9, default=0)
    tags = StrictListField(child=StrictCharField(max_length=MAX_TAG_LENGTH), max_length=MAX_TAGS, default=list)
    callbacks = StrictListField(child=CallbackSerializer(), max_length=MAX_CALLBACKS, default=list, allow_null=True)
    enable_circuit_aggregation = StrictBooleanField(default=False)
    experiment_id = StrictCharField(max_length=200, required=False, allow_null=True, allow_blank=False)
    metadata = MetadataField(required=False, allow_null=True)
    share_level = serializers.ChoiceField(choices=ShareLevel.choices, required=False, allow_null=True)
    client_version = ClientVersionField(required=False, allow_null=True)
    header = HeaderField(required=False, allow_null=True, help_text="The client's header: circuit names, metadata.")
    use_timeslot = StrictBooleanField(
        default=False, help_text="Run only in a timeslot booked for the job's project on its backend (IQM's)."
    )
    # QCOS's other submit fields (SPEC §12): its name for circuit aggregation, and options the portal
    # takes only empty (-501 naming the field otherwise, rather than silently ignoring them).
    circuit_aggregation = serializers.ChoiceField(choices=CIRCUIT_AGGREGATION, required=False, allow_null=True)
    qec_options = StrictDictField(required=False, allow_null=True)
    qem_options = StrictDictField(required=False, allow_null=True)
    flavor_id = serializers.UUIDField(required=False, allow_null=True)
    extra_specs = StrictDictField(required=False, allow_null=True)

    def validate(self, attrs):
        for name in UNSUPPORTED_OPTIONS:
            if attrs.pop(name, None) not in (None, {}):
                raise NotImplementedYet(
                    f"{name} is not supported by this portal; send it null or leave it out.", field=name
                )
        mode = attrs.pop("circuit_aggregation", None)
        if mode == "external":
            raise NotImplementedYet(
                "circuit_aggregation 'external' is not supported by this portal.", field="circuit_aggregation"
            )
        if mode not in (None, "None"):
            if "enable_circuit_aggregation" in self.initial_data and not attrs["enable_circuit_aggregation"]:
                raise serializers.ValidationError(
                    {"circuit_aggregation": ["conflicts with enable_circuit_aggregation"]}
                )
            attrs["enable_circuit_aggregation"] = True
        attrs["job_type"] = attrs.get("job_type") or ""
        if primitives.is_pub_job(attrs["job_type"], attrs["code_type"], attrs["source_code"]):
            validate_pubs(attrs["job_type"], attrs["code_type"], attrs["source_code"], attrs["shots"])
        else:
            validate_source_code(attrs["code_type"], attrs["source_code"])
        attrs["callbacks"] = attrs.get("callbacks") or []
        stages = PROFILING_STAGES if "all" in attrs["profiling"] else attrs["profiling"]  # QCOS's "all"
        attrs["profiling"] = list(dict.fromkeys(stages))
        attrs["tags"] = list(dict.fromkeys(attrs["tags"]))
        attrs["metadata"] = dict(attrs.get("metadata") or {})
        attrs["share_level"] = attrs.get("share_level") or ShareLevel.NONE
        attrs["client_version"] = dict(attrs.get("client_version") or {})
        attrs["header"] = dict(attrs.get("header") or {})
        return attrs


class JobIdSerializer(StrictSerializer):
    job_id = serializers.UUIDField()


class CancelEntriesSerializer(StrictSerializer):
    job_id = serializers.UUIDField()
    indexes = StrictListField(child=StrictIntegerField(min_value=0), allow_empty=False, max_length=10_000)


class JobIdsSerializer(StrictSerializer):
    job_ids = StrictListField(child=serializers.UUIDField(), allow_empty=False, max_length=MAX_JOB_IDS)


class DeleteJobsSerializer(JobIdsSerializer):
    # QCOS's client always sends it: false is the seed's delete; true (operators) stops RUNNING ones first.
    force = StrictBooleanField(default=False)


class UpdateJobSerializer(StrictSerializer):
    job_id = serializers.UUIDField()
    job_name = StrictCharField(max_length=200, required=False, allow_null=True, allow_blank=True)
    description = StrictCharField(max_length=10_000, required=False, allow_null=True, allow_blank=True)
    tags = StrictListField(child=StrictCharField(max_length=MAX_TAG_LENGTH), max_length=MAX_TAGS, required=False)
    job_priority = StrictIntegerField(min_value=1, max_value=10, required=False)


class ResultEntrySerializer(StrictSerializer):
    results = JSONValueField(allow_null=True)
    num_qubits = StrictIntegerField(min_value=0, required=False, allow_null=True)
    metadata = StrictDictField(required=False)
    profiling = StrictDictField(required=False)
    error = StrictDictField(required=False, allow_null=True)
    memory = serializers.ListField(child=StrictCharField(), required=False, allow_null=True)


class SetJobResultsSerializer(StrictSerializer):
    job_id = serializers.UUIDField()
    results = serializers.ListField(child=ResultEntrySerializer(), allow_empty=False)


class _StringOrList(StrictListField):
    """Accepts ``"QUEUED"`` as well as ``["QUEUED", "RUNNING"]``."""

    def to_internal_value(self, data):
        return super().to_internal_value([data] if isinstance(data, str) else data)


class JobFiltersSerializer(StrictSerializer):
    """``get_jobs`` filters (SPEC §3); conditions AND together."""

    all_projects = StrictBooleanField(default=False)
    all_users = StrictBooleanField(default=False)
    project_id = serializers.UUIDField(required=False, allow_null=True)
    user_id = serializers.UUIDField(required=False, allow_null=True)
    job_ids = StrictListField(child=serializers.UUIDField(), required=False, max_length=MAX_JOB_IDS)
    job_status = _StringOrList(
        child=serializers.ChoiceField(choices=JobStatus.choices), required=False, max_length=MAX_FILTER_VALUES
    )
    backend = StrictCharField(max_length=64, required=False)
    tags = _StringOrList(child=StrictCharField(max_length=MAX_TAG_LENGTH), required=False, max_length=MAX_TAGS)
    code_type = serializers.ChoiceField(choices=CodeType.choices, required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    experiment_id = StrictCharField(max_length=200, required=False)
    metadata = MetadataField(required=False, help_text="Jobs whose metadata has every one of these key: value pairs.")


ORDERINGS = ("created_at", "-created_at", "job_priority", "-job_priority", "ended_at", "-ended_at")


class GetJobsSerializer(StrictSerializer):
    filters = JobFiltersSerializer(required=False)
    limit = StrictIntegerField(min_value=1, max_value=1000, default=100)
    offset = StrictIntegerField(min_value=0, default=0)
    order = serializers.ChoiceField(choices=ORDERINGS, default="-created_at")


# --- The submit adapter ----------------------------------------------------------------------


def submit_from_input(*, user: User, token: ApiToken | None, data: Any) -> Job:
    """Submit the job ``data`` (the fields of ``submit_job``) describes, in the project it names or implies.

    InvalidParams names each offending field; a project the caller cannot submit to is NotFound."""
    started = time.perf_counter()
    try:
        job = _submit(user=user, token=token, data=data)
    except Exception:
        SUBMIT_SECONDS.labels(outcome="refused").observe(time.perf_counter() - started)
        raise
    SUBMIT_SECONDS.labels(outcome="accepted").observe(time.perf_counter() - started)
    return job


def _submit(*, user: User, token: ApiToken | None, data: Any) -> Job:
    fields = validate(SubmitJobSerializer, data)
    project = project_for_submission(user=user, token=token, project_id=fields.pop("project_id", None))
    # The nested serializers' values, as the plain dicts the JSON columns and callbacks expect.
    if fields.get("transpiler_options") is not None:
        fields["transpiler_options"] = dict(fields["transpiler_options"])
    fields["callbacks"] = [dict(callback) for callback in fields["callbacks"]]
    return services.job_submit(user=user, project=project, spec=services.JobSpec(**fields))
