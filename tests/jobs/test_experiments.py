"""What a job carries of its user's bookkeeping: IBM's experiment_id and client_version, Superstaq's
metadata. Given at submit, in every answer, and experiment_id and metadata filter get_jobs and the
REST list."""

from __future__ import annotations

import pytest

from tests.conftest import error_of, result_of
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db


def ids(jobs) -> set[str]:
    return {job["job_id"] for job in jobs}


def test_submit_keeps_experiment_id_metadata_and_client_version(rpc, submit, tenant):
    job = submit(
        tenant,
        experiment_id="rb-2026-12",
        metadata={"run": 7, "stage": "calibration", "ok": True, "note": None, "ratio": 0.25},
        client_version={"portal_client": "0.1.0", "qiskit": "2.6.2"},
    )
    assert (job["experiment_id"], job["metadata"]["run"], job["client_version"]["qiskit"]) == ("rb-2026-12", 7, "2.6.2")
    status = result_of(rpc("get_job_status", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert status["metadata"] == {"run": 7, "stage": "calibration", "ok": True, "note": None, "ratio": 0.25}
    assert status["client_version"] == {"portal_client": "0.1.0", "qiskit": "2.6.2"}
    listed = result_of(rpc("get_jobs", {}, who=tenant))[0]
    assert (listed["experiment_id"], listed["metadata"]["stage"]) == ("rb-2026-12", "calibration")
    plain = submit(tenant)
    assert (plain["experiment_id"], plain["metadata"], plain["client_version"]) == (None, {}, {})


def test_get_jobs_filters_by_experiment_and_by_metadata_keys(rpc, submit, tenant):
    a = submit(tenant, experiment_id="exp-a", metadata={"run": 1, "stage": "x"})
    b = submit(tenant, experiment_id="exp-a", metadata={"run": 2, "stage": "x"})
    c = submit(tenant, experiment_id="exp-b", metadata={"run": 1, "stage": "y"})
    submit(tenant)

    def listed(**filters):
        return ids(result_of(rpc("get_jobs", {"filters": filters}, who=tenant)))

    assert listed(experiment_id="exp-a") == ids([a, b])
    assert listed(metadata={"run": 1}) == ids([a, c])
    assert listed(metadata={"run": 1, "stage": "x"}) == ids([a])
    assert listed(metadata={"run": "1"}) == set()  # the JSON value, not its text
    assert listed(experiment_id="exp-b", metadata={"stage": "y"}) == ids([c])
    assert listed(experiment_id="nope") == set()


def test_another_tenants_experiment_is_not_listed(rpc, submit, tenant):
    mine = submit(tenant, experiment_id="shared-name", metadata={"k": 1})
    other = make_tenant()
    submit(other, experiment_id="shared-name", metadata={"k": 1})
    assert ids(result_of(rpc("get_jobs", {"filters": {"experiment_id": "shared-name"}}, who=tenant))) == ids([mine])
    assert ids(result_of(rpc("get_jobs", {"filters": {"metadata": {"k": 1}}}, who=tenant))) == ids([mine])


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"a__contains": 1}, "metadata.a__contains"),
        ({"": 1}, "metadata."),
        ({"1st": 1}, "metadata.1st"),
        ({"nested": {"a": 1}}, "metadata.nested"),
        ({"list": [1, 2]}, "metadata.list"),
        ({"long": "x" * 1001}, "metadata.long"),
        ({f"k{i}": i for i in range(33)}, "metadata"),
        ("not an object", "metadata"),
    ],
)
def test_metadata_that_cannot_be_a_filter_is_refused(rpc, tenant, metadata, field):
    from tests.factories import BELL

    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "metadata": metadata}
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -32602
    assert any(e["field"].startswith(field) for e in error["data"]["errors"]), error


@pytest.mark.parametrize(
    "client_version", [{"qiskit": 2}, {"qiskit": "x" * 65}, {"x" * 65: "1"}, {f"c{i}": "1" for i in range(17)}]
)
def test_client_version_is_names_to_short_version_strings(rpc, tenant, client_version):
    from tests.factories import BELL

    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "client_version": client_version}
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -32602 and error["data"]["errors"][0]["field"].startswith("client_version")


def test_a_metadata_filter_that_is_not_one_is_refused(rpc, tenant):
    for filters in ({"metadata": {"a__b": 1}}, {"metadata": {"k": [1]}}, {"metadata": "k:1"}):
        error = error_of(rpc("get_jobs", {"filters": filters}, who=tenant))
        assert error["code"] == -32602, filters


def test_the_rest_list_filters_by_experiment_and_metadata(api, create, tenant):
    a = create(tenant, experiment_id="e1", metadata={"run": 7, "stage": "a"})
    b = create(tenant, experiment_id="e1", metadata={"run": "7"})
    create(tenant, experiment_id="e2")

    def listed(**params):
        response = api("get", "/api/v1/jobs/", who=tenant, params=params)
        assert response.status_code == 200, response.content
        return ids(response.json()["results"])

    assert listed(experiment_id="e1") == ids([a, b])
    assert listed(metadata="run:7") == ids([a])
    assert listed(metadata='run:"7"') == ids([b])
    assert listed(metadata=["run:7", "stage:a"]) == ids([a])
    for bad in ("run", "a__b:1", ":1"):
        response = api("get", "/api/v1/jobs/", who=tenant, params={"metadata": bad})
        assert response.status_code == 400, bad
