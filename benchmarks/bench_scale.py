"""How the cost of the hot calls grows with the data (issue 14): the database is filled through the
models in bulk, to each size in turn, and each call's p50 over sequential calls is printed beside its
p50 at the smallest size.

    .venv/bin/python benchmarks/bench_scale.py                       # 10k and 1M jobs, PostgreSQL
    .venv/bin/python benchmarks/bench_scale.py --sizes 10000,100000 --samples 20

One user owns every job (tags on one in ten, statuses spread as a busy portal has them); another
project holds ``--busy-queued`` QUEUED jobs, for a submit into a busy project against one into an idle
one. Calls go through Django's whole request path (django.test.Client: middleware, authentication,
the JSON-RPC protocol, serializers, the queries), in this process. Uses its own database
(``portal_scale`` on the local PostgreSQL unless DATABASE_URL says otherwise) and Redis database 9.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_scale")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ.setdefault("RATE_LIMIT", "0")
os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"


def ensure_database() -> None:
    url = os.environ["DATABASE_URL"]
    if not url.startswith("postgres"):
        return
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
            conn.execute(f'create database "{name}"')


ensure_database()

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from backends.models import Backend  # noqa: E402
from core.redis import client as redis_client  # noqa: E402
from jobs.models import Job, Tag  # noqa: E402
from jobs.services.recovery import active_counts_repair  # noqa: E402
from projects.models import Project  # noqa: E402
from tests.factories import BELL, make_project, make_tenant  # noqa: E402

STATUSES = ["COMPLETED"] * 6 + ["FAILED"] * 2 + ["CANCELLED", "DELETED"]
BATCH = 5000


def fill(*, tenant, backend, count: int, status: str | None = None, project=None, tag: Tag | None = None) -> None:
    """``count`` more jobs of ``tenant`` (in ``project``, default the tenant's), in bulk."""
    through = Job.tags.through
    start = Job.objects.count()
    now = timezone.now()
    for offset in range(0, count, BATCH):
        jobs, links = [], []
        for i in range(offset, min(count, offset + BATCH)):
            n = start + i
            job = Job(
                job_id=uuid.uuid4(), project=project or tenant.project, user=tenant.user, backend=backend,
                status=status or STATUSES[n % len(STATUSES)], code_type="qasm2", source_blob=b"[]",
                num_entries=1, shots=100, created_at=now - timedelta(seconds=n), updated_at=now,
                queued_at=now - timedelta(seconds=n),
            )  # fmt: skip
            jobs.append(job)
            if tag is not None and n % 10 == 0:
                links.append(through(job_id=job.job_id, tag_id=tag.pk))
        Job.objects.bulk_create(jobs, batch_size=BATCH)
        through.objects.bulk_create(links, batch_size=BATCH)
    active_counts_repair()  # rows written around the state machine: the projects' counts follow them
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # As a portal that grew over months stands: vacuumed, analyzed and checkpointed. Measured
            # right after a bulk fill, the insert-triggered autovacuum and the checkpoint of a
            # million rows' WAL ran beside the calls, and even a submit into an idle project (which
            # reads none of these rows) read 1.66x slower at 1M than at 10k.
            cursor.execute("VACUUM ANALYZE")
            cursor.execute("CHECKPOINT")


def rpc(client: Client, token: str, method: str, params: dict) -> dict:
    payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    response = client.post(
        f"/v1/job/{method}", json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    answer = response.json()
    assert "result" in answer, answer
    return answer["result"]


def p50(call, samples: int) -> float:
    call()  # warm: caches, prepared plans, the token's last_used_at write
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(client, owner, busy, idle, queued_job: str, samples: int) -> dict[str, float]:
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "bench", "shots": 10}
    filters = {"filters": {"tags": ["t1"], "job_status": ["COMPLETED"]}}
    return {
        "get_jobs, first 100": p50(lambda: rpc(client, owner.token, "get_jobs", {"limit": 100}), samples),
        "get_jobs, tag + status filter": p50(lambda: rpc(client, owner.token, "get_jobs", filters), samples),
        "get_jobs, status filter, offset 5000": p50(
            lambda: rpc(client, owner.token, "get_jobs", {"filters": {"job_status": "COMPLETED"}, "offset": 5000}),
            samples,
        ),
        "get_job_status of a queued job": p50(
            lambda: rpc(client, busy.token, "get_job_status", {"job_id": queued_job}), samples
        ),
        "submit_job": p50(lambda: rpc(client, owner.token, "submit_job", {"body": body}), samples),
        "submit_job into an idle project": p50(lambda: rpc(client, idle.token, "submit_job", {"body": body}), samples),
        "submit_job into the busy project": p50(lambda: rpc(client, busy.token, "submit_job", {"body": body}), samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000", help="stored jobs of the one user, in turn")
    parser.add_argument("--busy-queued", type=int, default=100_000, help="QUEUED jobs in the busy project")
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)  # the flush emptied the default backends too
    redis_client().flushdb()
    # A backend whose jobs stay QUEUED (paused), so the benchmark measures the portal, not a worker.
    backend = Backend.objects.create(name="bench", driver="aer", code_types=["qasm2"], status="paused")
    owner, idle = make_tenant(), make_tenant()
    busy = make_tenant(project=make_project(max_queued_jobs=10**9))
    Project.objects.filter(pk__in=[owner.project.pk, idle.project.pk]).update(max_queued_jobs=10**9)
    tag = Tag.objects.create(name="t1")
    started = time.perf_counter()
    fill(tenant=busy, backend=backend, count=args.busy_queued, status="QUEUED")
    queued_job = str(Job.objects.filter(project=busy.project).values_list("job_id", flat=True).first())
    print(f"{args.busy_queued} queued jobs in the busy project ({time.perf_counter() - started:.0f} s)", flush=True)

    client = Client(SERVER_NAME="127.0.0.1")  # an allowed host of the default settings
    results: dict[int, dict[str, float]] = {}
    stored = 0
    for size in sizes:
        started = time.perf_counter()
        fill(tenant=owner, backend=backend, count=size - stored, tag=tag)
        stored = size
        print(f"{size} jobs of one user stored ({time.perf_counter() - started:.0f} s)", flush=True)
        results[size] = measure(client, owner, busy, idle, queued_job, args.samples)

    first, last = sizes[0], sizes[-1]
    print(f"\np50 of {args.samples} sequential calls ({connection.vendor}), ms")
    print(f"{'call':40} {first:>12} {last:>12} {'growth':>8}")
    for name in results[first]:
        a, b = results[first][name], results[last][name]
        print(f"{name:40} {a:12.1f} {b:12.1f} {b / a:7.2f}x")
    idle_submit, busy_submit = (
        results[last]["submit_job into an idle project"],
        results[last]["submit_job into the busy project"],
    )
    ratio = busy_submit / idle_submit
    print(f"\nsubmit into the busy project ({args.busy_queued} queued) against an idle one: {ratio:.2f}x")


if __name__ == "__main__":
    main()
