"""The driver contract: how one job becomes per-entry results, in three timed stages.

A driver instance lives for the whole worker process (see ``registry.get_driver``), so what is
expensive to build -- simulators, pass managers -- is built once and reused across jobs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.metrics import STAGE_SECONDS

PROFILING_STAGES = ("driver:parse", "driver:transpile", "driver:run")


@dataclass(frozen=True)
class DriverJob:
    """What a driver gets of a job: plain data, no model instances."""

    job_id: str
    code_type: str
    source_code: list[Any]
    shots: int
    transpiler: str | None = None
    transpiler_options: dict[str, Any] = field(default_factory=dict)
    driver_options: dict[str, Any] = field(default_factory=dict)
    profiling: frozenset[str] = frozenset()
    dry_run: bool = False
    job_type: str = ""
    enable_circuit_aggregation: bool = False
    skip: frozenset[int] = frozenset()  # entries cancelled before the run: never run, never reported

    def pending(self) -> Iterator[tuple[int, Any]]:
        """The entries to run, with their indexes (those not in ``skip``)."""
        return ((index, source) for index, source in enumerate(self.source_code) if index not in self.skip)


@dataclass
class EntryResult:
    """The outcome of one ``source_code`` entry, stored as a JobResult row."""

    status: str  # "COMPLETED" or "FAILED"
    results: Any = None
    num_qubits: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    profiling: dict[str, float] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    memory: list[str] | None = None
    # The circuit as it ran (after transpiling), in OpenQASM 2 or 3, when it is small enough to be drawn
    # (``drivers.drawing``); what the job page draws beside the circuit as submitted.
    transpiled: str | None = None


@dataclass(frozen=True)
class Drawing:
    """One picture of an entry's circuit: ``stage`` is ``submitted`` or ``transpiled``; ``svg`` is None
    when it could not be drawn, and ``note`` says why."""

    index: int
    stage: str
    svg: str | None
    note: str = ""


Report = Callable[[int, EntryResult], None]


class Backend(Protocol):
    """What a driver reads of the backend it runs for (a ``backends.models.Backend`` row): its name,
    its driver options and its limits. Drivers never write it."""

    name: str
    options: dict[str, Any]
    max_qubits: int | None
    max_variables: int | None
    basis_gates: list[str] | None
    coupling_map: list[list[int]] | None


class StageTimer:
    """Times the stages of one entry; ``profiling`` keeps only the stages the job asked for. Every
    stage is counted in the ``portal_stage_seconds`` histogram too, under ``driver``."""

    def __init__(self, requested: frozenset[str], *, driver: str = ""):
        self.requested = requested
        self.driver = driver
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            took = time.perf_counter() - start
            self.seconds[name] = self.seconds.get(name, 0.0) + took
            STAGE_SECONDS.labels(driver=self.driver, stage=name.removeprefix("driver:")).observe(took)

    @property
    def profiling(self) -> dict[str, float]:
        return {name: secs for name, secs in self.seconds.items() if name in self.requested}


class Driver:
    """Base class of drivers. Subclasses register with ``@registry.register("name")``.

    ``run`` calls ``report(index, EntryResult)`` once per entry as soon as that entry has ended,
    so progress moves while a multi-entry job runs. An expected failure of an entry (a source
    that does not parse, say) is reported as a FAILED entry, never raised; an exception that
    escapes ``run`` is a bug and fails the job with an execution error.
    """

    name: str = ""
    results_fetch_mode: str = "sync"
    code_types: tuple[str, ...] = ()  # the code types it runs
    # The job types it runs: "" and QCOS's "sampling" (a run), "estimation"; the Aer driver adds the
    # primitives' "sampler" and "estimator". Submit refuses any other with job_type_not_supported.
    job_types: tuple[str, ...] = ("", "sampling", "estimation")
    transpilers: tuple[str, ...] = ()  # the transpilers its jobs may ask for
    option_names: tuple[str, ...] = ()  # the driver_options it takes
    tech_type: str = "generic_simulator"  # in QCOS's vocabulary (neutral_atom, superconducting, ...)

    def validate(self, backend: Backend, job: DriverJob) -> None:
        """Submit-time checks beyond the generic ones; raise ``core.exceptions.InvalidPayload``."""

    def prepare(self, backend: Backend) -> None:
        """Build what the backend's jobs will reuse (called when a worker starts)."""

    def run(self, backend: Backend, job: DriverJob, report: Report) -> None:
        raise NotImplementedError

    def properties(self, backend: Backend) -> dict[str, Any]:
        """What the backend is beyond its limits, as the driver knows it: the simulator or solver, its
        noise parameters. Shown on the backend's page; plain JSON values."""
        return {}

    def draw(self, backend: Backend, job: DriverJob, transpiled: list[str | None]) -> list[Drawing]:
        """Pictures of the job's circuits, as submitted and as they ran (``transpiled``: each entry's
        ``EntryResult.transpiled``). Called by a worker after the job ended, never while it runs.
        Drivers of matrices draw nothing."""
        return []
