"""The one submit adapter (jobs.inputs): raw submit_job fields to a job in the right project."""

from __future__ import annotations

import uuid

import pytest

from core.exceptions import InvalidParams, NotFound, NotImplementedYet
from jobs.inputs import submit_from_input
from jobs.models import Job
from jobs.services import JobSpec
from projects.services import membership_set, token_authenticate, token_create
from tests.factories import BELL, make_project, make_tenant

pytestmark = pytest.mark.django_db


def body(**fields):
    return {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", **fields}


def test_valid_input_is_submitted_in_the_named_project(tenant):
    """The named project of the user's two gets the job, with the fields as given."""
    second = make_project()
    membership_set(project=second, user=tenant.user, role="member")
    data = body(
        project_id=str(second.project_id),
        shots=7,
        tags=["a", "a", "b"],
        transpiler_options={"optimization_level": 2},
        callbacks=[{"url": "http://127.0.0.1:8088/hook"}],
    )
    job = submit_from_input(user=tenant.user, token=None, data=data)
    job = Job.objects.get(pk=job.pk)
    assert (job.project, job.user, job.shots) == (second, tenant.user, 7)
    assert sorted(job.tags.values_list("name", flat=True)) == ["a", "b"]
    assert job.transpiler_options == {"optimization_level": 2}
    assert [callback["url"] for callback in job.callbacks] == ["http://127.0.0.1:8088/hook"]


def test_job_submit_gets_the_project_and_the_validated_spec(tenant, monkeypatch):
    """job_submit is given the caller, the project and a JobSpec of the validated fields, defaults filled in."""
    seen = {}
    monkeypatch.setattr("jobs.services.job_submit", lambda **kwargs: seen.update(kwargs))
    data = body(
        project_id=str(tenant.project.project_id),
        transpiler_options={"optimization_level": 1},
        callbacks=[{"url": "http://127.0.0.1:8088/hook", "method": "PUT"}],
    )
    submit_from_input(user=tenant.user, token=None, data=data)
    assert seen == {
        "user": tenant.user,
        "project": tenant.project,
        "spec": JobSpec(
            code_type="qasm2",
            source_code=[BELL],
            backend="dummy",
            transpiler_options={"optimization_level": 1},
            callbacks=[{"name": "callback", "type": "results", "method": "put", "url": "http://127.0.0.1:8088/hook"}],
        ),
    }


def test_without_project_id_the_only_project_or_the_tokens_is_used(tenant):
    """No project_id: the user's only project; with a project-bound token, that token's project."""
    assert submit_from_input(user=tenant.user, token=None, data=body()).project == tenant.project
    other = make_project()
    membership_set(project=other, user=tenant.user, role="member")
    token = token_authenticate(token_create(user=tenant.user, project=other)[1])
    assert submit_from_input(user=token.user, token=token, data=body()).project == other


def test_invalid_input_names_each_field(tenant):
    """A string for shots and a priority out of range are both reported, and no job is made."""
    with pytest.raises(InvalidParams) as raised:
        submit_from_input(user=tenant.user, token=None, data=body(shots="5", job_priority=11))
    assert {error["field"] for error in raised.value.extra["errors"]} == {"shots", "job_priority"}
    assert not Job.objects.exists()


def test_a_project_outside_the_callers_is_not_found(tenant, other_tenant):
    """Naming someone else's project, or one that does not exist, is NotFound; no job is made."""
    for project_id in (other_tenant.project.project_id, uuid.uuid4()):
        with pytest.raises(NotFound):
            submit_from_input(user=tenant.user, token=None, data=body(project_id=str(project_id)))
    assert not Job.objects.exists()


def test_a_bound_token_cannot_name_another_project(tenant):
    """A token bound to one of the user's projects naming the other: NotFound."""
    second = make_tenant().project
    membership_set(project=second, user=tenant.user, role="member")
    token = token_authenticate(token_create(user=tenant.user, project=tenant.project)[1])
    with pytest.raises(NotFound):
        submit_from_input(user=token.user, token=token, data=body(project_id=str(second.project_id)))


# --- QCOS's submit fields (SPEC §12) -------------------------------------------------------------

QCOS_NULLS = {
    "circuit_aggregation": None, "job_name": None, "job_type": "sampling", "description": None,
    "driver_options": None, "transpiler": None, "transpiler_options": None, "profiling": None, "callbacks": None,
    "qec_options": None, "qem_options": None,
}  # fmt: skip


def test_qcos_body_with_nulls_is_a_normal_run(tenant):
    """QCOS's client sends every field, null when unset, and job_type "sampling": a normal run."""
    job = submit_from_input(user=tenant.user, token=None, data=body(**QCOS_NULLS))
    assert (job.job_type, job.profiling, job.callbacks, job.enable_circuit_aggregation) == ("sampling", [], [], False)


@pytest.mark.parametrize(("mode", "enabled"), [(None, False), ("None", False), ("internal", True)])
def test_circuit_aggregation_is_the_portals_aggregation(tenant, mode, enabled):
    """circuit_aggregation "internal" turns on enable_circuit_aggregation; null and "None" leave it off."""
    job = submit_from_input(user=tenant.user, token=None, data=body(circuit_aggregation=mode))
    assert job.enable_circuit_aggregation is enabled


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("qec_options", {"qec_code": "surface"}),
        ("qem_options", {"zne": {"enabled": True}}),
        ("flavor_id", str(uuid.uuid4())),
        ("extra_specs", {"qc:min_qubits": 2}),
        ("circuit_aggregation", "external"),
    ],
)
def test_what_the_portal_cannot_honour_is_501_naming_it(tenant, field, value):
    """A non-empty option the portal cannot honour is -501 (not_implemented) naming the field; nothing is stored."""
    with pytest.raises(NotImplementedYet) as refused:
        submit_from_input(user=tenant.user, token=None, data=body(**{field: value}))
    assert refused.value.data["field"] == field
    assert not Job.objects.exists()


def test_qcos_all_profiling_means_every_stage(tenant):
    """QCOS's profiling "all" asks for every stage the drivers time."""
    job = submit_from_input(user=tenant.user, token=None, data=body(profiling=["all"]))
    assert job.profiling == ["driver:parse", "driver:transpile", "driver:run"]
