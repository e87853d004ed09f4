"""PortalJob: qiskit's JobV1 contract and IBMQJob's extras, against a live portal and a real worker."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pytest
from qiskit.providers import JobStatus, JobV1
from qiskit.providers.jobstatus import JOB_FINAL_STATES
from qiskit.result import Result

from portal_client import JobError, JobNotSubmittedToQC, JobTimeout, NotFound, PortalClient
from portal_client.job import PortalJob
from portal_client.statuses import FINAL_STATUSES
from tests.factories import BELL, XX

BROKEN = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nnot_a_gate q[0];\n'


def test_status_words_map_onto_qiskit_job_status():
    """SPEC §11 through ``PortalJob.status()``, for every status the portal has: final exactly when the
    portal's is, the qiskit status of the same name where there is one, and for the others the one
    the spec gives."""
    from jobs.choices import JobStatus as PortalStatus

    def status_of(word: str) -> JobStatus:
        answers = SimpleNamespace(get_job_status=lambda job_id: {"job_id": job_id, "job_status": word})
        return PortalJob(client=answers, job_id="job").status()

    mapped = {word: status_of(word) for word in PortalStatus.values}
    for word, status in mapped.items():
        assert (status in JOB_FINAL_STATES) == (word in FINAL_STATUSES), (word, status)
        if word in JobStatus.__members__:
            assert status is JobStatus[word], (word, status)
    no_namesake = {word: status.name for word, status in mapped.items() if word not in JobStatus.__members__}
    assert no_namesake == {
        "UNKNOWN": "INITIALIZING",
        "CANCELLING": "RUNNING",
        "COMPLETED": "DONE",
        "FAILED": "ERROR",
        "DELETED": "CANCELLED",
    }


def test_a_completed_job_through_the_jobv1_contract(api):
    job = api.submit(code_type="qasm2", source_code=[BELL, XX], backend="aer_simulator", shots=500, job_name="pair")
    assert isinstance(job, JobV1)
    assert job.backend() == "aer_simulator"  # a name: jobs made by the provider hold its BackendV2
    result = job.result(timeout=60)
    assert isinstance(result, Result)
    assert job.status() is JobStatus.DONE
    assert job.done() and job.in_final_state() and not job.running() and not job.cancelled()
    assert set(result.get_counts(0)) == {"00", "11"} and sum(result.get_counts(0).values()) == 500
    assert result.get_counts(1) == {"11": 500}
    assert (job.name(), job.portal_status(), job.queue_position()) == ("pair", "COMPLETED", None)
    assert [job.status(0), job.status(1)] == [JobStatus.DONE, JobStatus.DONE]
    with pytest.raises(IndexError):
        job.status(2)


def test_memory_gives_one_bitstring_per_shot(api):
    job = api.submit(
        code_type="qasm2", source_code=[BELL], backend="aer_simulator", shots=50, driver_options={"memory": True}
    )
    memory = job.result(timeout=60).get_memory(0)
    assert len(memory) == 50 and set(memory) <= {"00", "11"}


def test_wait_follows_the_events_stream_and_calls_back_on_each_change(api, busy_worker, monkeypatch):
    """The job waits behind a held one; once its stream has said QUEUED, the held job is let go, so
    the stream carries every change: RUNNING, each entry's progress, COMPLETED."""
    from tests.sleepy_driver import release

    open_stream = api.events

    class ReleasingStream:
        def __init__(self, job_id):
            self.stream = open_stream(job_id)

        def __iter__(self):
            for number, item in enumerate(self.stream):
                yield item
                if number == 0:
                    release(busy_worker)

        def close(self):
            self.stream.close()

    monkeypatch.setattr(api, "events", ReleasingStream)
    seen = []
    job = api.submit(code_type="qasm2", source_code=[BELL] * 4, backend="aer_simulator")
    job.wait_for_final_state(timeout=60, callback=lambda job_id, status, j: seen.append((status, j.data["progress"])))
    statuses = [status for status, _ in seen]
    assert statuses[0] is JobStatus.RUNNING and statuses[-1] is JobStatus.DONE
    progress_while_running = [progress for status, progress in seen if status is JobStatus.RUNNING]
    assert len(set(progress_while_running)) >= 3  # started, then entries ending one by one


def test_wait_polls_when_the_events_stream_is_not_available(api, monkeypatch):
    from portal_client import ConnectionFailed

    def no_stream(job_id):
        raise ConnectionFailed("no stream here")

    monkeypatch.setattr(api, "events", no_stream)
    job = api.submit(code_type="qasm2", source_code=[BELL], backend="dummy")
    job.wait_for_final_state(timeout=60, wait=0.05)
    assert job.status() is JobStatus.DONE


def test_wait_times_out_on_a_job_that_stays_queued(api, paused_dummy):
    job = api.submit(code_type="qasm2", source_code=[BELL], backend="dummy")
    with pytest.raises(JobTimeout):
        job.wait_for_final_state(timeout=0.5)
    with pytest.raises(JobTimeout):
        job.result(timeout=0.5)
    assert job.status() is JobStatus.QUEUED


def test_running_job_and_queue_positions_behind_it(api, busy_worker):
    running = api.job(busy_worker)
    assert running.status() is JobStatus.RUNNING and running.running()
    assert running.queue_position() is None
    first = api.submit(code_type="qasm2", source_code=[BELL], backend="dummy")
    second = api.submit(code_type="qasm2", source_code=[BELL], backend="dummy")
    urgent = api.submit(code_type="qasm2", source_code=[BELL], backend="dummy", job_priority=1)
    assert [urgent.queue_position(), first.queue_position(), second.queue_position()] == [1, 2, 3]


def test_queued_job_can_be_cancelled(api, paused_dummy):
    second = api.submit(code_type="qasm2", source_code=[BELL], backend="dummy")
    assert second.status(0) is JobStatus.QUEUED
    assert second.cancel() is True
    assert second.status() is JobStatus.CANCELLED and second.cancelled() and second.in_final_state()
    with pytest.raises(JobNotSubmittedToQC) as refused:
        second.cancel()
    assert (refused.value.code, refused.value.error_code) == (-409, "job_not_submitted_to_qc")
    with pytest.raises(JobError) as raised:
        second.result()
    assert raised.value.job_status == "CANCELLED"


def test_failed_job_raises_with_the_entry_errors(api):
    job = api.submit(code_type="qasm2", source_code=[BELL, BROKEN], backend="aer_simulator")
    with pytest.raises(JobError) as raised:
        job.result(timeout=60)
    assert raised.value.job_status == "FAILED"
    assert [(error["index"], error["code"]) for error in raised.value.entry_errors] == [(1, -102)]
    assert "entry 1: -102" in str(raised.value)
    assert job.status() is JobStatus.ERROR
    assert job.status(0) is JobStatus.DONE and job.status(1) is JobStatus.ERROR
    assert job.error_message().startswith("entry 1: -102")


def test_name_tags_and_dates(api, paused_dummy):
    job = api.submit(code_type="qasm2", source_code=[BELL], backend="dummy", job_name="a", tags=["x", "y"])
    assert job.update_name("b") == "b" and job.name() == "b"
    assert job.update_tags(additional_tags=["z"], removal_tags=["x"]) == ["y", "z"]
    assert job.update_tags(replacement_tags=["only"]) == ["only"] and job.tags() == ["only"]
    assert isinstance(job.creation_date(), datetime) and job.creation_date().tzinfo is not None
    assert list(job.time_per_step()) == ["CREATED"]
    assert job.error_message() is None


def test_time_per_step_of_a_finished_job(api):
    job = api.submit(code_type="qasm2", source_code=[BELL], backend="dummy")
    job.wait_for_final_state(timeout=60)
    steps = job.time_per_step()
    assert list(steps) == ["CREATED", "RUNNING", "COMPLETED"]
    assert steps["CREATED"] <= steps["RUNNING"] <= steps["COMPLETED"]


def test_job_by_id_and_someone_elses_job(portal, api):
    job = api.submit(code_type="qasm2", source_code=[BELL], backend="dummy")
    again = api.job(job.job_id())
    assert again.job_id() == job.job_id() and set(again.result(timeout=60).get_counts()) == {"00", "11"}
    with pytest.raises(NotFound):
        PortalClient(portal.url, portal.bob.token).job(job.job_id())


def test_estimation_job_answers_the_estimates(api):
    job = api.submit(code_type="qasm2", source_code=[BELL], backend="aer_simulator", job_type="estimation")
    (estimate,) = job.result(timeout=60)
    assert estimate["num_qubits"] == 2 and estimate["depth"] >= 2


def test_experiment_metadata_client_version_and_what_the_job_ran(api):
    """IBMQJob's experiment_id, client_version, backend_options() and circuits(); Superstaq's metadata,
    target(), to_dict() and uuid; get_jobs by experiment and metadata."""
    import uuid

    from qiskit import QuantumCircuit

    import portal_client

    job = api.submit(
        code_type="qasm2", source_code=[BELL, XX], backend="aer_simulator", shots=300, experiment_id="exp-client",
        metadata={"run": 3, "who": "alice"}, driver_options={"seed_simulator": 11},
    )  # fmt: skip
    other = api.submit(code_type="qasm2", source_code=[BELL], backend="aer_simulator", experiment_id="exp-other")
    assert job.uuid == uuid.UUID(job.job_id()) and isinstance(job.job_id(), str)
    assert (job.experiment_id, job.metadata, job.target()) == (
        "exp-client",
        {"run": 3, "who": "alice"},
        "aer_simulator",
    )
    assert job.client_version == {"portal_client": portal_client.__version__}
    assert job.backend_options() == {
        "shots": 300, "seed_simulator": 11, "transpiler": None, "transpiler_options": {},
    }  # fmt: skip
    circuits = job.circuits()
    assert all(isinstance(c, QuantumCircuit) for c in circuits) and [c.num_qubits for c in circuits] == [2, 2]
    assert circuits[1].count_ops()["x"] == 2
    assert job.to_dict()["job_id"] == job.job_id()
    assert job.payload()["source_code"] == [BELL, XX] and job.payload()["shots"] == 300
    assert job.share_level() == "none"
    assert api.submit(code_type="qasm2", source_code=[BELL], backend="dummy", share_level="project").share_level() == (
        "project"
    )
    assert [j["job_id"] for j in api.get_jobs(experiment_id="exp-client")] == [job.job_id()]
    assert [j["job_id"] for j in api.get_jobs(metadata={"who": "alice"})] == [job.job_id()]
    assert other.experiment_id == "exp-other"


def test_the_provider_records_the_qiskit_version_it_ran_with(portal):
    import qiskit
    from qiskit import QuantumCircuit

    import portal_client
    from portal_client import PortalProvider

    backend = PortalProvider(portal.url, portal.alice.token).get_backend("aer_simulator")
    circuit = QuantumCircuit(1, 1)
    circuit.x(0)
    circuit.measure(0, 0)
    job = backend.run(circuit, shots=10, experiment_id="via-provider", metadata={"k": "v"})
    assert job.client_version == {"portal_client": portal_client.__version__, "qiskit": qiskit.__version__}
    assert (job.experiment_id, job.metadata) == ("via-provider", {"k": "v"})


def test_queue_info_and_wait_until_complete(api, paused_dummy):
    """IBM's queue_info() while the job waits (held on a paused backend: no estimate, and
    why not), None once it has ended; Superstaq's wait_until_complete() gives the final status."""
    from portal_client.job import QueueInfo

    job = api.submit(code_type="qasm2", source_code=[BELL, XX], backend="dummy")
    info = job.queue_info()
    assert isinstance(info, QueueInfo) and (info.job_id, info.status) == (job.job_id(), "QUEUED")
    assert (info.position, info.estimated_start_time, info.estimated_complete_time) == (None, None, None)
    assert info.basis.startswith("no estimate: ")
    done = api.submit(code_type="qasm2", source_code=[BELL, XX], backend="aer_simulator")
    assert done.wait_until_complete(timeout_seconds=60) is JobStatus.DONE
    assert done.wait_until_complete(index=1, timeout_seconds=60) is JobStatus.DONE
    assert done.queue_info() is None


def test_one_entry_can_be_cancelled_while_the_job_waits(api, paused_dummy):
    """Superstaq's cancel(index=i): that entry is CANCELLED, the others still to run."""
    job = api.submit(code_type="qasm2", source_code=[BELL, XX], backend="dummy")
    assert job.cancel(index=1) is True
    assert job.status(1) is JobStatus.CANCELLED and job.status(0) is JobStatus.QUEUED
    assert job.status() is JobStatus.QUEUED
