"""The OpenAPI schema of the REST API (/api/schema/), its docs page (/api/docs/), and the output
serializers that document the JSON-RPC representations."""

from __future__ import annotations

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from rest_framework.test import APIClient

from backends.api.serializers import BackendSerializer
from backends.presenters import backend_view
from backends.selectors import backends_with_queue_length
from jobs import services
from jobs.api.serializers import JobResultsSerializer, JobSerializer, JobStatusSerializer, JobSummarySerializer
from jobs.presenters import job_full, job_results_view, job_status_view, job_summary, with_queue_position
from jobs.selectors import job_get_for_user
from tests.factories import BELL

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    "/api/v1/jobs/": {"get", "post"},
    "/api/v1/jobs/{job_id}/": {"get", "patch", "delete"},
    "/api/v1/jobs/{job_id}/cancel/": {"post"},
    "/api/v1/jobs/{job_id}/results/": {"get"},
    "/api/v1/jobs/{job_id}/payload/": {"get"},
    "/api/v1/jobs/{job_id}/cancel-entries/": {"post"},
    "/api/v1/projects/": {"get"},
    "/api/v1/projects/{project_id}/": {"get", "patch"},
    "/api/v1/projects/{project_id}/members/": {"get", "post"},
    "/api/v1/projects/{project_id}/members/{username}/": {"get", "patch", "delete"},
    "/api/v1/backends/": {"get"},
    "/api/v1/backends/{name}/": {"get"},
    "/api/v1/timeslots/": {"get", "post"},
    "/api/v1/timeslots/{timeslot_id}/": {"get", "patch", "delete"},
    "/api/v1/tokens/": {"get", "post"},
    "/api/v1/tokens/{id}/": {"get", "delete"},
}


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_schema_generates_without_warnings(tmp_path):
    """manage.py spectacular --validate --fail-on-warn passes: no warning, a valid OpenAPI 3 document."""
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out), "--validate", "--fail-on-warn")
    assert yaml.safe_load(out.read_text())["openapi"].startswith("3.")


def test_schema_lists_every_endpoint(schema):
    """/api/schema/ (public) documents every endpoint and method, and nothing else."""
    paths = {path: set(ops) - {"parameters"} for path, ops in schema["paths"].items()}
    assert paths == ENDPOINTS


def test_schema_documents_job_filters(schema):
    """The job list documents the filters, the ordering and the pagination parameters."""
    names = {p["name"] for p in schema["paths"]["/api/v1/jobs/"]["get"]["parameters"]}
    assert names == {"status", "backend", "code_type", "tag", "project", "user", "created_after", "created_before",
                     "q", "job_id", "ordering", "page", "page_size", "experiment_id", "metadata"}  # fmt: skip


def test_schema_documents_bearer_auth(schema):
    """Bearer tokens are a security scheme of every operation."""
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token: `Authorization: Bearer qp_...`.",
    }
    assert {"bearerAuth": []} in schema["paths"]["/api/v1/jobs/"]["get"]["security"]


def test_schema_submit_body_is_submit_job(schema):
    """POST /jobs/ takes submit_job's fields; the answer is the full job."""
    post = schema["paths"]["/api/v1/jobs/"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/SubmitJob"
    assert {status for status in post["responses"] if status.startswith("2")} == {"201"}
    required = set(schema["components"]["schemas"]["SubmitJob"]["required"])
    assert required == {"code_type", "source_code", "backend"}


def test_docs_page_uses_only_local_assets(client):
    """/api/docs/ renders Swagger UI with every asset from /static/ (the sidecar), no external host."""
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 4
    assert all(url.startswith("/static/drf_spectacular_sidecar/") for url in assets)
    assert not re.search(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}", html, re.IGNORECASE)
    assert 'url: "/api/schema/"' in html


def test_docs_assets_are_shipped(client):
    """Every asset the docs page names is a static file the portal serves."""
    html = client.get("/api/docs/").content.decode()
    for url in re.findall(r'(?:src|href)="/static/([^"]+)"', html):
        assert finders.find(url), url


# --- the output serializers document what the representation functions answer --------------------


@pytest.fixture
def job(tenant, submit):
    created = submit(tenant, tags=["t"])
    return job_get_for_user(user=tenant.user, job_id=created["job_id"], with_results=True)


@pytest.mark.parametrize(
    ("serializer", "shape"),
    [
        (JobSummarySerializer, job_summary),
        (JobStatusSerializer, lambda job: with_queue_position(job_status_view(job), job)),
        (JobSerializer, job_full),
        (JobResultsSerializer, job_results_view),
    ],
)
def test_job_serializer_fields_match_representation(job, serializer, shape):
    """Each job serializer declares exactly the fields its representation function answers, and answers it."""
    assert list(serializer().fields) == list(shape(job))
    assert serializer(job).data == shape(job)


def test_backend_serializer_fields_match_representation(db):
    """The backend serializer declares exactly the fields of get_backends' entries."""
    backend = backends_with_queue_length().get(name="dummy")
    assert list(BackendSerializer().fields) == list(backend_view(backend))
    assert BackendSerializer(backend).data == backend_view(backend)


def test_schema_served_to_anonymous_callers(db):
    """The schema and the docs are public (they describe the API; every operation needs a token)."""
    assert APIClient().get("/api/schema/?format=json").json()["info"]["title"] == "Quantum job portal REST API"


def test_submit_example_matches_schema(schema, tenant, submit):
    """The schema's Job is what submit_job answers; SubmitJob takes every field of a submission."""
    answer = submit(tenant, source_code=[BELL])
    assert set(schema["components"]["schemas"]["Job"]["properties"]) == set(answer)
    assert services.JobSpec.__dataclass_fields__.keys() <= set(
        schema["components"]["schemas"]["SubmitJob"]["properties"]
    )


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":
                yield f"{method.upper()} {path}", operation


def test_every_operation_lists_its_error_answers_in_the_one_envelope(schema):
    """Each operation documents the errors it can answer, all with the shared Error schema; those that
    take a body also the ones only a body meets."""
    error = {"$ref": "#/components/schemas/Error"}
    for name, operation in _operations(schema):
        expected = {"400", "401", "403", "404", "405", "406", "429", "500"}
        if "requestBody" in operation:
            expected |= {"409", "413", "415", "422", "503"}
        documented = {status for status in operation["responses"] if not status.startswith("2")}
        assert expected <= documented, name
        for status in documented:  # a view's own (409 on a delete, ...) too
            assert operation["responses"][status]["content"]["application/json"]["schema"] == error, (name, status)


def test_the_error_schema_is_what_errors_answer(schema, api, tenant):
    """A 404, a 400 and a 401 each validate against the documented Error schema, and nothing else."""
    import jsonschema

    error = schema["components"]["schemas"]["Error"]
    data = error["properties"]["error"]["properties"]["data"]
    assert data.pop("nullable") is True
    data["type"] = ["object", "null"]  # OpenAPI 3.0's nullable, as JSON Schema says it
    answers = [
        api("get", "/api/v1/backends/nope/", who=tenant),
        api("get", "/api/v1/backends/", who=tenant, params={"page_size": 0}),
        APIClient().get("/api/v1/jobs/"),
    ]
    assert [answer.status_code for answer in answers] == [404, 400, 401]
    for answer in answers:
        jsonschema.validate(answer.json(), error)


def test_pagination_bounds_are_in_the_schema_as_the_code_enforces_them(schema, api, tenant):
    for name, operation in _operations(schema):
        parameters = {p["name"]: p["schema"] for p in operation.get("parameters", [])}
        if "page_size" in parameters:
            assert parameters["page_size"] == {"type": "integer", "minimum": 1, "maximum": 1000}, name
            assert parameters["page"] == {"type": "integer", "minimum": 1}, name
    status = {size: api("get", "/api/v1/jobs/", who=tenant, params={"page_size": size}).status_code
              for size in (0, 1, 1000, 1001)}  # fmt: skip
    assert status == {0: 400, 1: 200, 1000: 200, 1001: 400}
    assert api("get", "/api/v1/jobs/", who=tenant, params={"page": 0}).status_code == 404


def test_a_submission_needs_at_least_one_entry_as_the_schema_says(schema, api, tenant):
    assert schema["components"]["schemas"]["SubmitJob"]["properties"]["source_code"]["minItems"] == 1
    body = {"code_type": "qasm2", "source_code": [], "backend": "dummy"}
    assert api("post", "/api/v1/jobs/", body, who=tenant).status_code == 400


def test_strict_request_bodies_allow_no_unknown_field_and_take_null_as_not_given(schema):
    """What StrictSerializer does, said in the schema: unknown fields are refused, and null for an
    optional field is the field not given."""
    patch = schema["components"]["schemas"]["PatchedProjectPatch"]
    assert patch["additionalProperties"] is False
    assert patch["properties"]["max_queued_jobs"]["nullable"] is True
    assert schema["components"]["schemas"]["SubmitJob"]["additionalProperties"] is False


def test_an_empty_filter_is_documented_as_not_given(schema, api, tenant):
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/jobs/"]["get"]["parameters"]}
    assert {"type": "string", "maxLength": 0} in parameters["user"]["anyOf"]
    assert api("get", "/api/v1/jobs/", who=tenant, params={"user": "", "backend": ""}).status_code == 200
