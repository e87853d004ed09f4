"""``PortalJob``: a portal job as qiskit's ``JobV1`` (plus what IBM's ``IBMQJob`` and Superstaq's
``Job`` offer: queue position, name and tags, per-entry status, time per step).

Portal statuses map onto qiskit's ``JobStatus`` as SPEC §11 says; the portal's own word is always
at hand as ``portal_status()``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from qiskit.providers import JobStatus, JobV1
from qiskit.result import Result
from qiskit.result.models import ExperimentResult, ExperimentResultData

from portal_client import errors
from portal_client.job_record import JobRecord
from portal_client.statuses import FINAL_STATUSES

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from portal_client.client import RpcClient
    from portal_client.qubo_problem import QuboProblem

QISKIT_STATUS = {
    "UNKNOWN": JobStatus.INITIALIZING,
    "QUEUED": JobStatus.QUEUED,
    "RUNNING": JobStatus.RUNNING,
    "CANCELLING": JobStatus.RUNNING,
    "COMPLETED": JobStatus.DONE,
    "FAILED": JobStatus.ERROR,
    "CANCELLED": JobStatus.CANCELLED,
    "DELETED": JobStatus.CANCELLED,
}

_STREAM_GONE = object()
# Seconds between polls once a stream ended with server_cancel.
POLL_AFTER_SERVER_CANCEL = 1.0


def _datetime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class QueueInfo:
    """Where a job stands in line and when it should start and end (IBM's ``QueueInfo``), as the portal
    estimates it from what the backend has done lately; ``basis`` says what the estimate rests on."""

    job_id: str
    status: str
    position: int | None
    estimated_start_time: datetime | None
    estimated_complete_time: datetime | None
    basis: str | None


class PortalJob(JobRecord, JobV1):
    """One job on the portal. Made by ``PortalClient.submit``/``submit_qubo``/``job``, by
    ``PortalBackend.run`` or by ``PortalSampler``; its state is fetched when asked for."""

    def __init__(
        self,
        *,
        client: RpcClient,
        job_id: str,
        backend: Any = None,
        data: dict[str, Any] | None = None,
        circuits: Sequence[QuantumCircuit] | None = None,
        qubo: QuboProblem | None = None,
    ):
        super().__init__(backend, job_id)
        self._client = client
        self._data: dict[str, Any] = dict(data or {})
        self._circuits = list(circuits) if circuits is not None else None
        self._qubo = qubo
        self._full: dict[str, Any] | None = None  # get_job_results' answer once the job is final

    @classmethod
    def from_submitted(cls, client: RpcClient, data: dict[str, Any], **kwargs: Any) -> PortalJob:
        return cls(client=client, job_id=data["job_id"], data=data, **kwargs)

    @classmethod
    def fetch(cls, client: RpcClient, job_id: str) -> PortalJob:
        """An existing job, its state fetched at once (raises ``NotFound`` if the caller may not read it)."""
        job = cls(client=client, job_id=job_id)
        job.refresh()
        return job

    def __repr__(self) -> str:
        return f"<PortalJob {self.job_id()} {self._data.get('job_status', '?')}>"

    def backend(self) -> Any:
        """The ``PortalBackend`` the job was run on, or the backend's name for jobs made otherwise."""
        return self._backend if self._backend is not None else self._data.get("backend")

    def submit(self):
        raise NotImplementedError("A PortalJob is submitted when it is made (PortalClient.submit or backend.run).")

    # --- state ----------------------------------------------------------------------------------

    def refresh(self) -> dict[str, Any]:
        """Fetch the job's current state (``get_job_status``); answers it."""
        self._data = self._client.get_job_status(self.job_id())
        return self._data

    @property
    def data(self) -> dict[str, Any]:
        """The job as last fetched (``get_job_status``'s fields)."""
        return self._data

    def portal_status(self) -> str:
        """The portal's own status word (QUEUED, RUNNING, CANCELLING, COMPLETED, FAILED, CANCELLED, DELETED)."""
        if self._data.get("job_status") not in FINAL_STATUSES:
            self.refresh()
        return self._data["job_status"]

    def status(self, index: int | None = None) -> JobStatus:
        """The job's status as qiskit's ``JobStatus``; with ``index``, the status of that entry alone
        (DONE or ERROR once it has ended, else the job's)."""
        status = QISKIT_STATUS[self.portal_status()]
        if index is None:
            return status
        entries = self._entries()  # get_job_results' answer also holds source_code: one entry per source
        if not 0 <= index < len((self._full or self._data)["source_code"]):
            raise IndexError(f"job {self.job_id()} has no entry {index}")
        by_index = {entry.get("index", i): entry for i, entry in enumerate(entries)}
        if index in by_index:
            entry = by_index[index]
            if (entry.get("metadata") or {}).get("status") == "CANCELLED":
                return JobStatus.CANCELLED
            return JobStatus.ERROR if entry.get("error") else JobStatus.DONE
        return status

    def _entries(self) -> list[dict[str, Any]]:
        """The result entries so far (cached once the job is final)."""
        if self._full is None:
            full = self._client.get_job_results(self.job_id())
            if full["job_status"] in FINAL_STATUSES:
                self._full = full
            self._data.update({key: value for key, value in full.items() if key != "results"})
            return full["results"]
        return self._full["results"]

    def queue_position(self, refresh: bool = True) -> int | None:
        """Place in the queue (1 = next) while QUEUED, else None."""
        if refresh:
            self.refresh()
        return self._data.get("queue_position")

    def queue_info(self) -> QueueInfo | None:
        """The job's place in line and its estimated start and end, fetched now; None once it has ended."""
        data = self.refresh()
        if data["job_status"] in FINAL_STATUSES:
            return None
        return QueueInfo(
            job_id=self.job_id(),
            status=data["job_status"],
            position=data.get("queue_position"),
            estimated_start_time=_datetime(data.get("estimated_start_at")),
            estimated_complete_time=_datetime(data.get("estimated_end_at")),
            basis=data.get("estimate_basis"),
        )

    def progress(self) -> str | None:
        return self.refresh().get("progress")

    def creation_date(self) -> datetime:
        if "created_at" not in self._data:
            self.refresh()
        return _datetime(self._data["created_at"])

    def time_per_step(self) -> dict[str, datetime]:
        """When the job reached each step so far: CREATED, RUNNING, and its final status."""
        data = self.refresh()
        steps = {"CREATED": _datetime(data.get("created_at"))}
        if data.get("started_at"):
            steps["RUNNING"] = _datetime(data["started_at"])
        if data["job_status"] in FINAL_STATUSES and data.get("ended_at"):
            steps[data["job_status"]] = _datetime(data["ended_at"])
        return steps

    def name(self) -> str | None:
        if "job_name" not in self._data:
            self.refresh()
        return self._data.get("job_name")

    def update_name(self, name: str) -> str | None:
        self._data = self._client.update_job(self.job_id(), job_name=name)
        return self._data.get("job_name")

    def tags(self) -> list[str]:
        if "tags" not in self._data:
            self.refresh()
        return list(self._data.get("tags") or [])

    def update_tags(
        self,
        replacement_tags: Sequence[str] | None = None,
        additional_tags: Sequence[str] | None = None,
        removal_tags: Sequence[str] | None = None,
    ) -> list[str]:
        """IBMQJob's ``update_tags``: replace the tags, or add and remove some; answers the new tags."""
        if replacement_tags is not None:
            tags = list(dict.fromkeys(replacement_tags))
        else:
            removal = set(removal_tags or ())
            tags = [tag for tag in dict.fromkeys([*self.refresh().get("tags", []), *(additional_tags or ())])]
            tags = [tag for tag in tags if tag not in removal]
        self._data = self._client.update_job(self.job_id(), tags=tags)
        return list(self._data.get("tags") or [])

    def error_message(self) -> str | None:
        """Why the job failed, one line per failed entry; None unless it is FAILED."""
        if self.portal_status() != "FAILED":
            return None
        lines = [
            f"entry {index}: {entry['error'].get('code')} {entry['error'].get('message')}"
            for index, entry in enumerate(self._entries())
            if entry.get("error")
        ]
        return "\n".join(lines) or "The job failed."

    # --- actions --------------------------------------------------------------------------------

    def cancel(self, index: int | None = None) -> bool:
        """Cancel the job while it is queued; answers whether it was cancelled (False while it runs).
        A job that has ended raises ``JobNotSubmittedToQC``, as IQM's client does. With ``index``, cancel
        only that entry (Superstaq's): it never runs, and the job ends CANCELLED unless another entry fails."""
        if index is not None:
            self._full = None
            answer = self._client.cancel_job_entries(self.job_id(), [index])
            self._data.update({key: value for key, value in answer.items() if key != "results"})
            return True
        cancelled = self._client.cancel_jobs([self.job_id()])
        status = self.refresh()["job_status"]
        if not cancelled and status in FINAL_STATUSES:
            raise errors.JobNotSubmittedToQC(
                f"Job {self.job_id()} is {status}: it has ended, there is nothing to cancel.", code=-409
            )
        return bool(cancelled)

    def delete(self) -> bool:
        deleted = self._client.delete_jobs([self.job_id()])
        self.refresh()
        return bool(deleted)

    # --- waiting --------------------------------------------------------------------------------

    def wait_for_final_state(
        self,
        timeout: float | None = None,
        wait: float = 5,
        callback: Callable[[str, JobStatus, PortalJob], None] | None = None,
    ) -> None:
        """Block until the job is final. Follows the job's events stream, so the answer comes as soon as
        the job ends; polls every ``wait`` seconds where the stream is not available. ``callback(job_id,
        status, job)`` is called on each change of status and, on the stream, as each entry ends
        (``job.data["progress"]``). Raises ``JobTimeout`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if self.portal_status() in FINAL_STATUSES:
            return
        try:
            self._wait_streaming(deadline, callback)
        except (errors.ConnectionFailed, errors.ServiceError):
            self._wait_polling(deadline, wait, callback)

    def wait_until_complete(
        self, index: int | None = None, timeout_seconds: float | None = None, polling_seconds: float = 5
    ) -> JobStatus:
        """Superstaq's wait: until the job is final (it follows the events stream; ``polling_seconds``
        where there is none), then the status of the job, or of entry ``index``."""
        self.wait_for_final_state(timeout=timeout_seconds, wait=polling_seconds)
        return self.status(index)

    def _remaining(self, deadline: float | None) -> float | None:
        if deadline is None:
            return None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise errors.JobTimeout(
                f"Job {self.job_id()} is still {self._data.get('job_status')} after the time allowed.",
                data={"job_id": self.job_id(), "job_status": self._data.get("job_status")},
            )
        return remaining

    def _changed(self, status: str, callback) -> None:
        self._data["job_status"] = status
        if callback is not None:
            callback(self.job_id(), QISKIT_STATUS[status], self)

    def _wait_streaming(self, deadline: float | None, callback) -> None:
        # The stream is read in a thread, so the deadline holds however long the stream stays silent.
        events: queue.Queue = queue.Queue()
        stream = self._client.events(self.job_id())

        def pump() -> None:
            try:
                for item in stream:
                    events.put(item)
            except errors.PortalError as exc:
                events.put(exc)
            finally:
                events.put(_STREAM_GONE)

        threading.Thread(target=pump, name=f"events-{self.job_id()}", daemon=True).start()
        try:
            while True:
                try:
                    item = events.get(timeout=self._remaining(deadline))
                except queue.Empty:
                    self._remaining(deadline)  # raises JobTimeout
                    continue
                if isinstance(item, errors.PortalError):
                    raise item
                if item is _STREAM_GONE:
                    if self.refresh()["job_status"] not in FINAL_STATUSES:
                        raise errors.ConnectionFailed("The events stream ended before the job did.")
                    return
                event, data = item
                if event == "server_cancel":  # the server is stopping: its successor is polled
                    self._wait_polling(deadline, POLL_AFTER_SERVER_CANCEL, callback)
                    return
                status = data.get("job_status")
                if "progress" in data:
                    self._data["progress"] = data["progress"]
                if event == "status" and status and status != self._data.get("job_status"):
                    self._changed(status, callback)
                elif event == "progress" and callback is not None:  # an entry ended: same status, more done
                    callback(self.job_id(), QISKIT_STATUS[self._data["job_status"]], self)
                if event == "end" or status in FINAL_STATUSES:
                    self._entries()  # one round trip: the final job and its results, kept for result()
                    return
        finally:
            stream.close()

    def _wait_polling(self, deadline: float | None, wait: float, callback) -> None:
        last = self._data.get("job_status")
        while True:
            status = self.refresh()["job_status"]
            if status != last:
                self._changed(status, callback)
                last = status
            if status in FINAL_STATUSES:
                return
            remaining = self._remaining(deadline)
            time.sleep(wait if remaining is None else min(wait, remaining))

    # --- results --------------------------------------------------------------------------------

    def results(self, timeout: float | None = None) -> list[dict[str, Any]]:
        """The portal's result entries (SPEC §3) once the job is final, as the API answers them."""
        self.wait_for_final_state(timeout=timeout)
        return self._entries()

    def result(self, timeout: float | None = None, wait: float = 5) -> Any:
        """Wait for the job, then its results: a qiskit ``Result`` for circuits; for a QUBO a
        ``dimod.SampleSet`` (a list of them, one per matrix, for a job of several); for an estimation
        job each entry's estimates; for a sampler or estimator job the primitives' ``PrimitiveResult``.
        A FAILED or CANCELLED job raises ``JobError`` carrying the entries' errors."""
        self.wait_for_final_state(timeout=timeout, wait=wait)
        entries = self._entries()
        status = self._data["job_status"]
        if status != "COMPLETED":
            entry_errors = [
                {"index": index, **entry["error"]} for index, entry in enumerate(entries) if entry.get("error")
            ]
            message = f"Job {self.job_id()} is {status}"
            if entry_errors:
                message += ": " + "; ".join(
                    f"entry {e['index']}: {e.get('code')} {e.get('message')}" for e in entry_errors
                )
            raise errors.JobError(message, job_id=self.job_id(), job_status=status, entry_errors=entry_errors)
        if self._data.get("job_type") == "estimation":
            return [entry["results"] for entry in entries]
        if self._data.get("job_type") in ("sampler", "estimator"):
            from portal_client.primitives_results import primitive_result

            return primitive_result(self._data, entries)
        if self._data.get("code_type") == "qubo":
            from portal_client.qubo_problem import sampleset_from_entry  # imports dimod: only for QUBO jobs

            samplesets = [
                sampleset_from_entry(entry, self._qubo, info={"job_id": self.job_id(), "index": index})
                for index, entry in enumerate(entries)
            ]
            return samplesets[0] if len(samplesets) == 1 else samplesets
        return self._qiskit_result(entries)

    def decoded(self, timeout: float | None = None) -> list[Any]:
        """For a job submitted from a compiled pyqubo model: its ``decode_sampleset`` of the result,
        best first (arrays, sub-Hamiltonians and broken constraints by the model's own names)."""
        model = self._qubo.model if self._qubo is not None else None
        if model is None:
            raise TypeError(f"job {self.job_id()} was not submitted from a pyqubo model in this process")
        return model.decode_sampleset(self.result(timeout=timeout))

    def _qiskit_result(self, entries: list[dict[str, Any]]) -> Result:
        backend = self._backend
        backend_name = getattr(backend, "name", None) or self._data.get("backend")
        experiments = []
        sent = _sent_circuits(self._data.get("header")) if self._circuits is None else []
        for index, entry in enumerate(entries):
            counts = entry.get("results") or {}
            circuit = self._circuits[index] if self._circuits and index < len(self._circuits) else None
            header = _experiment_header(circuit, counts, index, sent[index] if index < len(sent) else {})
            data: dict[str, Any] = {"counts": {_hex(key): value for key, value in counts.items()}}
            if entry.get("memory") is not None:
                data["memory"] = [_hex(bits) for bits in entry["memory"]]
            metadata = entry.get("metadata") or {}
            experiments.append(
                ExperimentResult(
                    shots=sum(counts.values()) or self._data.get("shots"),
                    success=True,
                    data=ExperimentResultData(**data),
                    status="DONE",
                    seed=metadata.get("seed_simulator", metadata.get("seed")),
                    header=header,
                    metadata=metadata,
                )
            )
        return Result(
            backend_name=backend_name,
            backend_version="1",
            job_id=self.job_id(),
            success=True,
            results=experiments,
            date=self._data.get("ended_at"),
            status="COMPLETED",
        )


def _hex(bitstring: str) -> str:
    bits = bitstring.replace(" ", "")
    return hex(int(bits, 2)) if bits else "0x0"


def _sent_circuits(header: Any) -> list[dict[str, Any]]:
    """The circuits a job's header names (``PortalBackend.run`` sends ``{"circuits": [{"name", "metadata"}]}``)."""
    circuits = header.get("circuits") if isinstance(header, dict) else None
    return [c if isinstance(c, dict) else {} for c in circuits] if isinstance(circuits, list) else []


def _experiment_header(
    circuit: QuantumCircuit | None, counts: dict[str, int], index: int, sent: dict[str, Any]
) -> dict[str, Any]:
    """What qiskit's ``Result`` needs to print bitstrings back (register sizes, width) and to find an
    experiment by circuit or name; without the circuit, the name (and metadata) it was ``sent`` with."""
    sample = next(iter(counts), "")
    if circuit is not None and circuit.num_clbits == len(sample.replace(" ", "")):
        creg_sizes = [[creg.name, creg.size] for creg in circuit.cregs]
        return {
            "name": circuit.name,
            "creg_sizes": creg_sizes,
            "memory_slots": circuit.num_clbits,
            "metadata": circuit.metadata,
        }
    # A job fetched by id, or a circuit without classical bits (the portal measured every qubit): the
    # registers are those the answered bitstrings show.
    sizes = [len(part) for part in reversed(sample.split(" "))] if sample else []
    name = circuit.name if circuit is not None else sent.get("name")
    header = {
        "name": name if isinstance(name, str) else f"entry-{index}",
        "creg_sizes": [[f"c{position}", size] for position, size in enumerate(sizes)],
        "memory_slots": sum(sizes),
    }
    if circuit is None and isinstance(sent.get("metadata"), dict):
        header["metadata"] = sent["metadata"]
    return header
