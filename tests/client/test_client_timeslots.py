"""Timeslots and job headers through the client, against the live portal and its real worker: IQM's
``use_timeslot`` and its two refusals (``TimeslotRequired``, ``NoBookedTimeslots``), IBM's
``scheduling_mode()`` and ``header()``, and the provider's header naming a retrieved job's experiments.

The portal's processes run on the test database, so the tests change its state (a backend that
requires timeslots, a booked slot) through the server's own models and services.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from qiskit import QuantumCircuit

from portal_client import Conflict, InvalidParams, NoBookedTimeslots, PortalClient, PortalProvider, TimeslotRequired
from tests.client.test_cli import ok, qportal, write
from tests.client.test_client_retries import FlakyProxy, recording_client
from tests.factories import BELL


@pytest.fixture
def provider(portal) -> PortalProvider:
    return PortalProvider(portal.url, portal.alice.token)


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def ghz3() -> QuantumCircuit:
    circuit = QuantumCircuit(3, 3, name="ghz3")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.measure(range(3), range(3))
    return circuit


def book(portal, backend: str, tenant=None):
    """A slot on ``backend`` for ``tenant``'s project (alice's), running from a minute ago for an hour."""
    from django.utils import timezone

    from backends.models import Backend
    from backends.services import timeslot_book

    now = timezone.now()
    return timeslot_book(
        user=portal.staff.user, backend=Backend.objects.get(name=backend), project=(tenant or portal.alice).project,
        start_at=now - timedelta(minutes=1), end_at=now + timedelta(hours=1),
    )  # fmt: skip


def require_timeslots(backend: str) -> None:
    """The backend runs jobs only in booked timeslots (the flush after the test restores it)."""
    from backends.models import Backend

    assert Backend.objects.filter(name=backend).update(requires_timeslot=True) == 1


def test_submit_with_a_header_reads_it_back(api, paused_dummy):
    """The header is stored as sent and read back by header(), on the submitted job and on one fetched
    by id; use_timeslot defaults to false, and scheduling_mode is None while the job has not started."""
    header = {"circuits": [{"name": "bell", "metadata": {"theta": 0.5, "tags": ["a"], "none": None}}], "run": 1}
    job = api.submit(code_type="qasm2", source_code=[BELL], backend="dummy", header=header)
    assert job.header() == header
    again = api.job(job.job_id())
    assert again.header() == header
    assert api.get_job_status(job.job_id())["header"] == header
    assert api.get_job_results(job.job_id())["header"] == header
    assert (again.use_timeslot(), again.data["use_timeslot"]) == (False, False)
    assert again.scheduling_mode() is None and again.data["scheduling_mode"] is None
    plain = api.submit(code_type="qasm2", source_code=[BELL], backend="dummy")
    assert plain.header() == {} and api.job(plain.job_id()).header() == {}
    with pytest.raises(InvalidParams) as too_big:
        api.submit(code_type="qasm2", source_code=[BELL], backend="dummy", header={"x": "a" * (64 * 1024)})
    assert {error["field"] for error in too_big.value.errors} == {"header"}


def test_a_header_may_hold_null_at_its_top_level(api):
    job = api.submit(code_type="qasm2", source_code=[BELL], backend="dummy", header={"note": None})
    assert job.header() == {"note": None}


def test_the_provider_sends_circuit_names_and_a_job_fetched_by_id_names_its_experiments(provider, api):
    """run() sends {"circuits": [{name, metadata}]} with the metadata made JSON-safe (numpy values as
    numbers and lists; objects, NaN and non-string keys dropped); a job fetched later by id, without
    the circuits at hand, answers its counts by those names and carries their metadata."""
    first, second = bell(), ghz3()
    first.metadata = {"theta": np.float64(0.5), "qubits": np.array([0, 1]), "ok": np.bool_(True),
                      "nested": {"n": np.int64(3), "drop": object()}, "nan": float("nan"), 7: "int key",
                      "gone": object()}  # fmt: skip
    backend = provider.get_backend("aer_simulator")
    job = backend.run([first, second], shots=200)
    sent_metadata = {"theta": 0.5, "qubits": [0, 1], "ok": True, "nested": {"n": 3}}
    expected = {"circuits": [{"name": "bell", "metadata": sent_metadata}, {"name": "ghz3", "metadata": {}}]}
    assert job.header() == expected
    assert set(job.result(timeout=60).get_counts("bell")) == {"00", "11"}

    for retrieved in (provider.retrieve_job(job.job_id()), provider.job(job.job_id()), api.job(job.job_id())):
        assert retrieved._circuits is None  # nothing local: the names come from the stored header
        assert retrieved.header() == expected
        result = retrieved.result(timeout=60)
        assert set(result.get_counts("bell")) == {"00", "11"} and sum(result.get_counts("bell").values()) == 200
        assert set(result.get_counts("ghz3")) == {"000", "111"}
        assert [experiment.header["name"] for experiment in result.results] == ["bell", "ghz3"]
        assert result.results[0].header["metadata"] == sent_metadata


def test_the_run_header_keeps_only_what_the_portal_stores():
    """circuits_header, on its own: strings with NUL or a lone surrogate, integers past 64 bits and a
    container inside itself are dropped; metadata that would pass 64 KiB leaves the names alone."""
    from portal_client.provider import MAX_HEADER_BYTES, circuits_header

    loop: dict = {"keep": 1}
    loop["self"] = loop
    circuit = bell()
    circuit.metadata = {"nul": "a\x00b", "surrogate": "\ud800", "big": 2**63, "small": -(2**63), "loop": loop,
                        "tuple": (1, "x"), "np": np.arange(2.0)}  # fmt: skip
    assert circuits_header([circuit]) == {
        "circuits": [{"name": "bell", "metadata": {"small": -(2**63), "loop": {"keep": 1}, "tuple": [1, "x"],
                                                   "np": [0.0, 1.0]}}]
    }  # fmt: skip
    huge = ghz3()
    huge.metadata = {"blob": "x" * MAX_HEADER_BYTES}
    assert circuits_header([bell(), huge]) == {"circuits": [{"name": "bell"}, {"name": "ghz3"}]}


def test_a_job_without_a_header_names_its_experiments_by_entry(api):
    job = api.submit(code_type="qasm2", source_code=[BELL], backend="aer_simulator", shots=50)
    job.wait_for_final_state(timeout=60)
    result = api.job(job.job_id()).result(timeout=60)
    assert result.results[0].header["name"] == "entry-0" and set(result.get_counts("entry-0")) == {"00", "11"}


def test_scheduling_mode_is_fairshare_after_a_normal_run(api, provider):
    job = api.submit(code_type="qasm2", source_code=[BELL], backend="dummy")
    job.wait_for_final_state(timeout=60)
    assert job.scheduling_mode() == "fairshare"
    assert api.job(job.job_id()).scheduling_mode() == "fairshare"
    assert api.get_job_results(job.job_id())["scheduling_mode"] == "fairshare"
    run = provider.get_backend("aer_simulator").run(bell(), shots=20)
    run.result(timeout=60)
    assert (run.scheduling_mode(), run.use_timeslot()) == ("fairshare", False)


def test_use_timeslot_without_a_booked_slot_is_refused(portal, api, provider, tmp_path):
    """-409 no_booked_timeslots from submit, the provider's run option and qportal --use-timeslot; a
    slot of another project on the backend does not count, nor one of the project on another backend.
    Nothing is stored."""
    book(portal, "aer_simulator", tenant=portal.bob)
    book(portal, "dummy")
    with pytest.raises(NoBookedTimeslots) as refused:
        api.submit(code_type="qasm2", source_code=[BELL], backend="aer_simulator", use_timeslot=True)
    assert isinstance(refused.value, Conflict)
    assert (refused.value.code, refused.value.error_code) == (-409, "no_booked_timeslots")
    assert refused.value.data.get("field") == "use_timeslot"
    with pytest.raises(NoBookedTimeslots):
        provider.get_backend("aer_simulator").run(bell(), use_timeslot=True)
    source = write(tmp_path, "bell.qasm", BELL)
    result = ok(qportal(portal, "submit", source, "--backend", "aer_simulator", "--use-timeslot"), 1)
    assert result.stderr.startswith("error: ") and "[-409 no_booked_timeslots]" in result.stderr
    assert api.get_jobs() == []


def test_a_backend_that_requires_timeslots_refuses_a_plain_submit(api, provider):
    require_timeslots("dummy")
    with pytest.raises(TimeslotRequired) as refused:
        api.submit(code_type="qasm2", source_code=[BELL], backend="dummy")
    assert isinstance(refused.value, Conflict)
    assert (refused.value.code, refused.value.error_code) == (-409, "timeslot_required")
    with pytest.raises(TimeslotRequired):
        provider.get_backend("dummy").run(bell())
    with pytest.raises(NoBookedTimeslots):  # asking for a slot, with none booked
        provider.get_backend("dummy").run(bell(), use_timeslot=True)
    assert api.get_jobs() == []


def test_a_refusal_on_a_retried_submit_is_raised_not_taken_for_a_replay(portal):
    """The first attempt never reaches the portal (503); the retry's -409 timeslot_required is the
    answer to this very submit, not the sign of an earlier attempt that went through."""
    require_timeslots("dummy")
    proxy = FlakyProxy(portal.url)
    try:
        client, waits = recording_client(proxy.url, portal.alice.token)
        proxy.plan.append("503")
        with pytest.raises(TimeslotRequired):
            client.submit_job(code_type="qasm2", source_code=[BELL], backend="dummy")
        assert proxy.seen == ["submit_job", "submit_job"] and len(waits) == 1
    finally:
        proxy.close()


def test_a_job_in_its_projects_booked_slot_runs_dedicated(portal, api, provider):
    """With a slot of alice's project running on aer_simulator: her use_timeslot job runs "dedicated";
    bob's plain job waits QUEUED while the slot lasts, and runs "fairshare" once it is cancelled."""
    from backends.services import timeslot_cancel

    slot = book(portal, "aer_simulator")
    bob = PortalClient(portal.url, portal.bob.token)
    waiting = bob.submit(code_type="qasm2", source_code=[BELL], backend="aer_simulator", shots=10)
    job = provider.get_backend("aer_simulator").run(bell(), shots=100, use_timeslot=True)
    assert set(job.result(timeout=60).get_counts("bell")) == {"00", "11"}
    assert (job.scheduling_mode(), job.use_timeslot()) == ("dedicated", True)
    assert api.job(job.job_id()).scheduling_mode() == "dedicated"
    assert waiting.portal_status() == "QUEUED" and waiting.scheduling_mode() is None
    timeslot_cancel(user=portal.staff.user, timeslot=slot)
    waiting.wait_for_final_state(timeout=60)
    assert (waiting.portal_status(), waiting.scheduling_mode()) == ("COMPLETED", "fairshare")


def test_a_backend_that_requires_timeslots_runs_its_projects_jobs_in_their_slot(portal, api):
    require_timeslots("dummy")
    book(portal, "dummy")
    job = api.submit(code_type="qasm2", source_code=[BELL], backend="dummy", use_timeslot=True)
    job.wait_for_final_state(timeout=60)
    assert (job.portal_status(), job.scheduling_mode(), job.use_timeslot()) == ("COMPLETED", "dedicated", True)
