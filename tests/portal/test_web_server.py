"""How the web server is put together (portal/asgi.py, runportal): event streams on the event loop,
everything else on a thread pool, and as many processes as asked."""

from __future__ import annotations

import uuid

import pytest
from django.core.management import CommandError, call_command

from portal.asgi import _is_async_view
from portal.management.commands.runportal import _build_children


def test_only_the_event_streams_run_on_the_event_loop():
    assert _is_async_view(f"/v1/job/{uuid.uuid4()}/events")
    assert not _is_async_view("/v1/job/submit_job")
    assert not _is_async_view("/api/v1/jobs/")
    assert not _is_async_view("/no/such/page")


def test_runportal_starts_as_many_web_processes_as_asked():
    web = next(child for child in _build_children("127.0.0.1", 8000, 1, False, 3) if child.name == "web")
    assert web.argv[web.argv.index("--workers") + 1] == "3"
    assert "portal.asgi:application" in web.argv


def test_runportal_refuses_no_web_process():
    with pytest.raises(CommandError, match="--web-workers must be 1 or more"):
        call_command("runportal", web_workers=0)


@pytest.mark.django_db
def test_postgresql_connections_price_index_reads_as_an_ssd_does():
    """random_page_cost 1.1 on every connection (settings.PG_RANDOM_PAGE_COST): at PostgreSQL's 4 the
    planner walked the global created_at index past other tenants' rows (benchmarks/bench_scale.py)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL planner setting")
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        assert float(cursor.fetchone()[0]) == 1.1


@pytest.mark.django_db
def test_postgresql_prepares_a_statement_run_again_and_again():
    """Values bound on the server (settings.PG_PREPARED_STATEMENTS): a fixed-shape statement run a
    fifth time in a connection is prepared, and PostgreSQL no longer parses and plans it each time."""
    from django.db import connection

    from backends.selectors import backend_get

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL connection setting")
    for _ in range(6):
        backend_get("dummy")
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "drivers_backend"' in statement for statement in prepared), prepared


@pytest.mark.django_db
def test_a_bulk_write_past_the_bound_parameters_limit_is_split():
    """Values bound on the server allow 65,535 a statement: 7,000 entries of 11 columns go in batches."""
    from django.db import connection

    from drivers.base import EntryResult
    from jobs.models import JobResult
    from jobs.services.state import result_row
    from tests.factories import make_tenant, submit_bell

    job = submit_bell(make_tenant())
    rows = [result_row(job.job_id, i, EntryResult(status="FAILED"), ended_at=job.created_at) for i in range(7000)]
    JobResult.objects.bulk_create(rows)
    assert JobResult.objects.filter(job=job).count() == 7000
    if connection.vendor == "postgresql":
        assert connection.ops.bulk_batch_size(JobResult._meta.concrete_fields, rows) < 7000
