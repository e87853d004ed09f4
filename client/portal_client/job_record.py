"""What a portal job records of itself, beyond its state: IBMQJob's ``experiment_id``, ``client_version``,
``backend_options()``, ``circuits()``, ``header()``, ``scheduling_mode()`` and ``properties()``; Superstaq's
``metadata``, ``target()``, ``to_dict()`` and ``uuid``; IQM's ``payload()`` and ``use_timeslot()``. Mixed into
``PortalJob``, whose answers it reads."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from portal_client.statuses import FINAL_STATUSES

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from portal_client.client import RpcClient


class JobRecord:
    """Reads of what was submitted with a job and what it ran on. The host class provides ``_client``,
    ``_data`` (the last ``get_job_status`` answer), ``refresh()`` and ``job_id()``."""

    _client: RpcClient
    _data: dict[str, Any]

    def _field(self, name: str) -> Any:
        if name not in self._data:
            self.refresh()
        return self._data.get(name)

    @property
    def uuid(self) -> uuid.UUID:
        """The job id as a ``uuid.UUID`` (``job_id()`` is the string qiskit's ``JobV1`` promises)."""
        return uuid.UUID(self.job_id())

    @property
    def experiment_id(self) -> str | None:
        """The experiment the job belongs to (IBM's ``experiment_id``), as given at submit."""
        return self._field("experiment_id")

    @property
    def metadata(self) -> dict[str, Any]:
        """The user's own metadata object (Superstaq's), as given at submit."""
        return dict(self._field("metadata") or {})

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        # JobV1.__init__ stores its keyword arguments here (none are given): the portal's answer is the
        # job's metadata, never that.
        if value:
            raise AttributeError("a PortalJob's metadata is what was submitted with it")

    @property
    def client_version(self) -> dict[str, str]:
        """Client name -> version, as recorded with the job (IBM's ``client_version``)."""
        return dict(self._field("client_version") or {})

    def share_level(self) -> str:
        """Who else may read the job (IBM's): "none", or "project" (every member of its project)."""
        return self._field("share_level")

    def header(self) -> dict[str, Any]:
        """The client's header the job was submitted with (IBM's ``header()``), as the portal stored it:
        from ``PortalBackend.run``, ``{"circuits": [{"name": ..., "metadata": ...}, ...]}``; {} if none."""
        return dict(self._field("header") or {})

    def use_timeslot(self) -> bool:
        """Whether the job runs only in a timeslot booked for its project on its backend (IQM's)."""
        return bool(self._field("use_timeslot"))

    def scheduling_mode(self) -> str | None:
        """How the job's run got its backend (IBM's ``scheduling_mode``): "dedicated" in its project's
        booked timeslot, "fairshare" shared with every project; None until it starts (and for a job
        that ended without starting). Fetched anew until the job is final."""
        if "scheduling_mode" not in self._data or self._data.get("job_status") not in FINAL_STATUSES:
            self.refresh()
        return self._data.get("scheduling_mode")

    def target(self) -> str:
        """The backend's name (Superstaq's ``target``)."""
        return self._field("backend")

    def backend_options(self) -> dict[str, Any]:
        """The run options the job used, as stored: shots, driver options (seed, method, memory), the
        transpiler and its options (IBM's ``backend_options``)."""
        return {
            "shots": self._field("shots"),
            **(self._field("driver_options") or {}),
            "transpiler": self._field("transpiler"),
            "transpiler_options": self._field("transpiler_options") or {},
        }

    def circuits(self) -> list[QuantumCircuit]:
        """The submitted circuits, parsed back from the source the portal stored (IBM's ``circuits``)."""
        from qiskit import qasm2, qasm3

        full = self._client.get_job_results(self.job_id())
        if full["code_type"] == "qubo":
            raise TypeError(f"job {self.job_id()} is a QUBO job: it has matrices, not circuits")
        circuits = []
        for source in full.get("source_code") or []:
            reader = qasm2.loads if "OPENQASM 2" in source.split(";", 1)[0] else qasm3.loads
            circuits.append(reader(source, **({"custom_instructions": qasm2.LEGACY_CUSTOM_INSTRUCTIONS}
                                               if reader is qasm2.loads else {})))  # fmt: skip
        return circuits

    def properties(self) -> dict[str, Any] | None:
        """The backend as the job's run found it (IBM's ``properties()``): its limits, basis gates, coupling
        map, options, the driver's noise parameters and a ``config_hash``; None until the job runs."""
        return self._client.get_job_results(self.job_id()).get("backend_properties")

    def payload(self) -> dict[str, Any]:
        """The job's input as the portal stored it (``get_job_payload``)."""
        return self._client.get_job_payload(self.job_id())

    def to_dict(self) -> dict[str, Any]:
        """The job as last fetched, as a plain dict (Superstaq's ``to_dict``)."""
        return dict(self._data or self.refresh())
