"""core.prepared: a hot read compiled once, giving exactly what its queryset gives."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import CharField, DateTimeField, F, IntegerField, JSONField, UUIDField
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.prepared import Param, Prepared, PreparedChain, PreparedInsert, PreparedUpdate
from jobs.models import Job, JobEvent
from projects.models import ApiToken, Project
from projects.services import token_create
from tests.factories import make_project, make_tenant, submit_bell

pytestmark = pytest.mark.django_db


def _token_read(calls: list | None = None) -> Prepared:
    def build():
        if calls is not None:
            calls.append(1)
        return ApiToken.objects.select_related("user", "project").filter(key_hash=Param("digest", CharField()))[:1]

    return Prepared(build)


def test_instances_with_their_related_rows_in_one_query(django_assert_num_queries):
    tenant = make_tenant()
    token, _ = token_create(user=tenant.user, project=tenant.project)
    read = _token_read()
    with django_assert_num_queries(1):
        found = read.first(digest=token.key_hash)
        assert (found.user.username, found.project.slug) == (tenant.user.username, tenant.project.slug)
    expected = ApiToken.objects.get(pk=token.pk)
    assert [getattr(found, f.attname) for f in ApiToken._meta.concrete_fields] == [
        getattr(expected, f.attname) for f in ApiToken._meta.concrete_fields
    ]
    assert found._state.adding is False and found._state.db == "default"


def test_a_null_relation_and_no_row():
    tenant = make_tenant()  # its token is bound to no project
    token = ApiToken.objects.get(user=tenant.user)
    read = _token_read()
    assert read.first(digest=token.key_hash).project is None
    assert read.first(digest="0" * 64) is None


def test_compiled_once_then_bound_per_call():
    calls: list = []
    read = _token_read(calls)
    first, second = make_tenant(), make_tenant()
    digests = {t.user.username: ApiToken.objects.get(user=t.user).key_hash for t in (first, second)}
    assert read.first(digest=digests[first.user.username]).user == first.user
    assert read.first(digest=digests[second.user.username]).user == second.user
    assert len(calls) == 1


def test_each_thread_compiles_for_its_own_connection():
    tenant = make_tenant()
    digest = ApiToken.objects.get(user=tenant.user).key_hash
    read = _token_read()
    assert read.first(digest=digest).user == tenant.user
    _, (_, here, *_) = read._compiled()
    seen = []

    def compile_in_thread():
        try:
            seen.append(read._compiled())
        finally:
            connections.close_all()

    # Another thread has its own connection: it compiles for itself rather than share this
    # thread's compiler, which holds this thread's connection.
    thread = threading.Thread(target=compile_in_thread)
    thread.start()
    thread.join(timeout=10)
    ((connection, (_, there, *_)),) = seen
    assert there is not here and there.connection is connection and here.connection is not connection
    assert read._compiled()[1][1] is here  # and this thread's stays its own
    # Compiling adds joins to its query: each compiler has its own, the template none of their joins.
    template = read._queryset.query
    assert here.query is not there.query and template not in (here.query, there.query)
    assert len(template.alias_map) == 1 and len(here.query.alias_map) == 3


def test_values_list_with_datetime_and_uuid_parameters():
    tenant = make_tenant()
    job = submit_bell(tenant)
    at = JobEvent.objects.get(job=job).at
    read = Prepared(
        lambda: (
            JobEvent.objects.filter(job_id=Param("job", UUIDField()), at__gte=Param("since", DateTimeField()))
            .order_by("id")
            .values_list("status", "at")
        )
    )
    assert read.all(job=job.job_id, since=at) == [("QUEUED", at)]
    assert read.all(job=job.job_id, since=at + timedelta(microseconds=1)) == []
    assert read.all(job=job.job_id, since=timezone.now() - timedelta(days=1)) == [("QUEUED", at)]


def test_a_parameter_used_twice_and_json_fields_converted():
    project = make_project()
    tenant = make_tenant(project=project)
    job = submit_bell(tenant, metadata={"a": [1, 2]})
    read = Prepared(
        lambda: Job.objects.filter(
            num_entries=Param("n", IntegerField()), shots__gte=Param("n", IntegerField())
        ).values_list("metadata", "job_id")
    )
    assert read.all(n=1) == [({"a": [1, 2]}, job.job_id)]
    assert read.all(n=2) == []


def test_only_instances_and_tuples():
    read = Prepared(lambda: ApiToken.objects.values("id"))
    with pytest.raises(TypeError):
        read.all()


def test_an_update_writes_as_the_orm_would_and_counts_its_rows():
    job = submit_bell(make_tenant())
    update = PreparedUpdate(
        lambda: Job.objects.filter(pk=Param("job", UUIDField()), status=Param("status", CharField())),
        lambda: {"metadata": Param("metadata", JSONField()), "job_name": Param("name", CharField(null=True))},
    )
    assert update.run(job=job.job_id, status="RUNNING", metadata={"x": 1}, name="n") == 0
    assert update.run(job=job.job_id, status="QUEUED", metadata={"x": [1, None]}, name=None) == 1
    job.refresh_from_db()
    assert (job.metadata, job.job_name) == ({"x": [1, None]}, None)


def test_an_insert_of_one_row():
    job = submit_bell(make_tenant())
    insert = PreparedInsert(JobEvent, ("job_id", "status", "at", "detail"))
    at = timezone.now()
    insert.run(job_id=job.job_id, status="RUNNING", at=at, detail="d")
    assert list(JobEvent.objects.filter(job=job).values_list("status", "at", "detail")) == [
        ("QUEUED", job.queued_at, ""),
        ("RUNNING", at, "d"),
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_failed_write_dooms_its_transaction():
    """As the ORM's writes do: the surrounding atomic block rolls back even if the error is caught."""
    job = submit_bell(make_tenant())
    insert = PreparedInsert(JobEvent, ("job_id", "status", "at", "detail"))
    with pytest.raises(TransactionManagementError), transaction.atomic():
        insert.run(job_id=job.job_id, status="RUNNING", at=timezone.now(), detail="")
        with contextlib.suppress(IntegrityError):
            insert.run(job_id=job.job_id, status=None, at=timezone.now(), detail="")  # NOT NULL
        JobEvent.objects.count()
    assert not JobEvent.objects.filter(job=job, status="RUNNING").exists()


def _renamed_then_noted() -> PreparedChain:
    """A job renamed if it is QUEUED, then an event of it, then its project's counter moved."""
    return PreparedChain(
        PreparedUpdate(
            lambda: Job.objects.filter(pk=Param("job", UUIDField()), status=Param("status", CharField())),
            lambda: {"job_name": Param("name", CharField())},
        ),
        PreparedInsert(JobEvent, ("job_id", "status", "at", "detail")),
        PreparedUpdate(
            lambda: Project.objects.filter(pk=Param("project", IntegerField())),
            lambda: {"active_jobs": F("active_jobs") + Param("delta", IntegerField())},
        ),
    )


def _steps(job, *, name="renamed", status="RUNNING", at=None) -> tuple[dict, ...]:
    return (
        {"job": job.job_id, "status": "QUEUED", "name": name},
        {"job_id": job.job_id, "status": status, "at": at or timezone.now(), "detail": "noted"},
        {"project": job.project_id, "delta": 5},
    )


def test_a_chain_makes_each_write_and_answers_the_first_ones_rows():
    job = submit_bell(make_tenant())
    before = Project.objects.get(pk=job.project_id).active_jobs
    with CaptureQueriesContext(connection) as ran:
        assert _renamed_then_noted().run(*_steps(job)) == 1
    job.refresh_from_db()
    assert job.job_name == "renamed"
    assert JobEvent.objects.filter(job=job, status="RUNNING", detail="noted").count() == 1
    assert Project.objects.get(pk=job.project_id).active_jobs == before + 5
    # One round trip on PostgreSQL (a data-modifying WITH); one per write elsewhere.
    assert len(ran) == (1 if connection.vendor == "postgresql" else 3)


def test_a_chain_whose_first_write_finds_no_row_writes_nothing():
    job = submit_bell(make_tenant())
    Job.objects.filter(pk=job.pk).update(status="RUNNING")
    before = Project.objects.get(pk=job.project_id).active_jobs
    assert _renamed_then_noted().run(*_steps(job)) == 0
    job.refresh_from_db()
    assert job.job_name != "renamed"
    assert not JobEvent.objects.filter(job=job, detail="noted").exists()
    assert Project.objects.get(pk=job.project_id).active_jobs == before


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_chain_that_fails_part_way_writes_nothing_even_outside_a_transaction():
    """Atomic by itself: a later write's error leaves the earlier ones undone, with no transaction around."""
    job = submit_bell(make_tenant())
    with pytest.raises(IntegrityError):
        _renamed_then_noted().run(*_steps(job, status=None))  # the event's status is NOT NULL
    job.refresh_from_db()
    assert job.job_name != "renamed"
    assert not JobEvent.objects.filter(job=job, detail="noted").exists()


def test_a_chain_keeps_each_writes_values_apart_and_typed():
    """Values of the same name in two writes (``status``) stay each its own; a datetime and a UUID go in
    typed."""
    job = submit_bell(make_tenant())
    at = timezone.now() - timedelta(days=3)
    steps = _steps(job, name="RUNNING", status="CANCELLED", at=at)
    assert _renamed_then_noted().run(*steps) == 1
    job.refresh_from_db()
    assert job.job_name == "RUNNING"
    assert list(JobEvent.objects.filter(job=job, detail="noted").values_list("status", "at")) == [("CANCELLED", at)]
