"""Live updates (SPEC §9): the server-sent-events stream of a job, on a real ASGI server."""

from __future__ import annotations

import json
import socket
import threading

import pytest
import requests

from backends.models import Backend
from jobs import live
from jobs.services import jobs_delete
from tests.factories import BELL, make_tenant
from tests.workers import portal_server, read_events, wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def server():
    with portal_server(SSE_KEEPALIVE_SECONDS="1") as url:
        yield url


def submit(url: str, token: str, **fields) -> str:
    body = {"code_type": "qasm2", "source_code": [BELL, BELL], "backend": "dummy", **fields}
    payload = {"jsonrpc": "2.0", "id": 1, "method": "submit_job", "params": {"body": body}}
    answer = requests.post(f"{url}/v1/job/submit_job", json=payload, headers={"Authorization": f"Bearer {token}"})
    return answer.json()["result"]["job_id"]


def test_stream_follows_a_job_to_its_end(server, run_worker):
    """Current status at once, then RUNNING, progress per entry, COMPLETED, an end event, and the
    stream closes by itself."""
    tenant = make_tenant()
    job_id = submit(server, tenant.token)
    response = requests.get(
        f"{server}/v1/job/{job_id}/events", headers={"Authorization": f"Bearer {tenant.token}"}, stream=True,
        timeout=60,
    )  # fmt: skip
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    received: list = []
    reader = threading.Thread(target=read_events, args=(response, received))
    reader.start()
    wait_for(lambda: received, timeout=30, what="the first event")
    assert received[0] == ("status", {**received[0][1], "job_status": "QUEUED", "progress": 0})
    run_worker()
    reader.join(timeout=60)
    assert not reader.is_alive(), "the stream did not close after the final status"
    events = [(kind, data.get("job_status"), data.get("progress")) for kind, data in received if kind != "comment"]
    assert events == [
        ("status", "QUEUED", 0),
        ("status", "RUNNING", None),
        ("progress", "RUNNING", 50),
        ("progress", "RUNNING", 100),
        ("status", "COMPLETED", 100),
        ("end", "COMPLETED", None),
    ]


def test_finished_job_streams_its_status_and_ends(server, run_worker):
    """A job already final answers its status and the end at once."""
    tenant = make_tenant()
    job_id = submit(server, tenant.token)
    run_worker()
    response = requests.get(
        f"{server}/v1/job/{job_id}/events", headers={"Authorization": f"Bearer {tenant.token}"}, timeout=30
    )
    assert "event: status" in response.text and '"job_status": "COMPLETED"' in response.text
    assert response.text.rstrip().splitlines()[-2] == "event: end"


def test_keep_alive_comments(server):
    """A quiet stream sends keep-alive comments (every SSE_KEEPALIVE_SECONDS, at most 15)."""
    tenant = make_tenant()
    job_id = submit(server, tenant.token, backend="aer_simulator", job_priority=10)
    from backends.models import Backend

    Backend.objects.filter(name="aer_simulator").update(status="paused")  # nothing will happen to it
    response = requests.get(
        f"{server}/v1/job/{job_id}/events", headers={"Authorization": f"Bearer {tenant.token}"}, stream=True,
        timeout=30,
    )  # fmt: skip
    lines = response.iter_lines(decode_unicode=True)
    comments = 0
    for line in lines:
        if line.startswith(": keep-alive"):
            comments += 1
            if comments == 2:
                break
    response.close()
    assert comments == 2


def test_stream_of_someone_elses_job_is_not_found(server):
    """Another tenant's job answers 404, like a missing one; no token answers 401."""
    owner, stranger = make_tenant(), make_tenant()
    job_id = submit(server, owner.token)
    assert requests.get(f"{server}/v1/job/{job_id}/events", headers={"Authorization": f"Bearer {stranger.token}"},
                        timeout=30).status_code == 404  # fmt: skip
    missing = "00000000-0000-4000-8000-000000000042"
    assert requests.get(f"{server}/v1/job/{missing}/events", headers={"Authorization": f"Bearer {owner.token}"},
                        timeout=30).status_code == 404  # fmt: skip
    assert requests.get(f"{server}/v1/job/{job_id}/events", timeout=30).status_code == 401


def test_hundreds_of_open_streams_do_not_block_the_api(server):
    """300 streams held open on one server process; the JSON-RPC API still answers."""
    tenant = make_tenant()
    job_id = submit(server, tenant.token, backend="aer_simulator")
    from backends.models import Backend

    Backend.objects.filter(name="aer_simulator").update(status="paused")
    host, port = server.removeprefix("http://").split(":")
    request = (
        f"GET /v1/job/{job_id}/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {tenant.token}\r\n\r\n"
    ).encode()
    streams = []
    try:
        for _ in range(300):
            sock = socket.create_connection((host, int(port)), timeout=30)
            sock.sendall(request)
            streams.append(sock)
        for sock in streams:  # every stream got its first event: all 300 are being served at once
            received = b""
            while b"event: status" not in received:
                chunk = sock.recv(4096)
                assert chunk, "stream closed before its first event"
                received += chunk
        answer = requests.post(
            f"{server}/v1/job/get_backends", json={"jsonrpc": "2.0", "id": 1, "method": "get_backends"},
            headers={"Authorization": f"Bearer {tenant.token}"}, timeout=30,
        )  # fmt: skip
        assert {b["name"] for b in answer.json()["result"]} >= {"dummy", "aer_simulator"}
    finally:
        for sock in streams:
            sock.close()


def test_a_project_bound_token_follows_only_its_projects_jobs(server):
    """A token bound to p2 of a user in p1 and p2: the p1 job's stream is 404, the p2 job's is 200."""
    from projects.services import membership_set, token_create

    first = make_tenant()
    second = make_tenant()
    membership_set(project=second.project, user=first.user, role="member")
    _, bound = token_create(user=first.user, project=second.project)
    in_first = submit(server, first.token, project_id=str(first.project.project_id))
    in_second = submit(server, bound)
    headers = {"Authorization": f"Bearer {bound}"}
    assert requests.get(f"{server}/v1/job/{in_first}/events", headers=headers, timeout=30).status_code == 404
    with requests.get(f"{server}/v1/job/{in_second}/events", headers=headers, stream=True, timeout=30) as response:
        assert response.status_code == 200


def _stream_many(server: str, token: str | None, job_ids: str, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{server}/v1/jobs/events", params={"job_ids": job_ids}, headers=headers, timeout=60, **kwargs)


def test_one_stream_follows_several_jobs_to_their_ends(server, run_worker):
    """/v1/jobs/events (the job list's stream): each job's state at once, every change naming its job,
    and one end once all of them are final. Another tenant's job among the ids is left out."""
    tenant, stranger = make_tenant(), make_tenant()
    mine = [submit(server, tenant.token, source_code=[BELL]) for _ in range(2)]
    theirs = submit(server, stranger.token)
    response = _stream_many(server, tenant.token, ",".join([*mine, theirs]), stream=True)
    assert response.status_code == 200
    received: list = []
    reader = threading.Thread(target=read_events, args=(response, received))
    reader.start()
    wait_for(lambda: len(received) >= 2, timeout=30, what="the first events")
    assert sorted((data["job_id"], data["job_status"]) for _, data in received[:2]) == sorted(
        (job_id, "QUEUED") for job_id in mine
    )
    run_worker()
    reader.join(timeout=60)
    assert not reader.is_alive(), "the stream did not close once every job was final"
    named = [data for kind, data in received if kind in ("status", "progress")]
    assert {data["job_id"] for data in named} == set(mine)
    for job_id in mine:
        statuses = [data["job_status"] for kind, data in received if kind == "status" and data["job_id"] == job_id]
        assert statuses == ["QUEUED", "RUNNING", "COMPLETED"]
    assert received[-1] == ("end", {"job_statuses": dict.fromkeys(mine, "COMPLETED")})
    assert theirs not in json.dumps(received)


def test_the_several_jobs_stream_refuses_what_it_cannot_follow(server):
    tenant, stranger = make_tenant(), make_tenant()
    theirs = submit(server, stranger.token)
    assert _stream_many(server, tenant.token, theirs).status_code == 404  # only others' jobs: not found
    for bad in ("", "not-a-uuid", ",".join(["00000000-0000-4000-8000-000000000042"] * 101)):
        response = _stream_many(server, tenant.token, bad)
        assert response.status_code == 400, bad
        assert response.json()["error"]["data"]["errors"][0]["field"] == "job_ids"
    assert _stream_many(server, None, theirs).status_code == 401


def test_a_job_deleted_while_followed_ends_its_stream_with_job_deleted(server):
    """IQM's SubscribeToJobV1: the stream's last event is job_deleted, then it closes."""
    tenant = make_tenant()
    job_id = submit(server, tenant.token, backend="aer_simulator")
    other = submit(server, tenant.token, backend="aer_simulator")
    headers = {"Authorization": f"Bearer {tenant.token}"}
    one = requests.get(f"{server}/v1/job/{job_id}/events", headers=headers, stream=True, timeout=60)
    many = requests.get(f"{server}/v1/jobs/events", params={"job_ids": f"{job_id},{other}"}, headers=headers,
                        stream=True, timeout=60)  # fmt: skip
    received_one, received_many = [], []
    readers = [threading.Thread(target=read_events, args=args) for args in ((one, received_one), (many, received_many))]
    for reader in readers:
        reader.start()
    wait_for(lambda: received_one and len(received_many) >= 2, timeout=30, what="the first events")
    jobs_delete(user=tenant.user, job_ids=[job_id, other])
    for reader in readers:
        reader.join(timeout=30)
        assert not reader.is_alive(), "a stream did not close after its job was deleted"
    events = [(kind, data.get("job_status")) for kind, data in received_one if kind != "comment"]
    assert events == [("status", "QUEUED"), ("status", "DELETED"), ("job_deleted", "DELETED")]
    deleted = sorted(data["job_id"] for kind, data in received_many if kind == "job_deleted")
    assert deleted == sorted([job_id, other])
    assert received_many[-1] == ("end", {"job_statuses": {job_id: "DELETED", other: "DELETED"}})


def test_a_stopping_server_ends_its_streams_with_server_cancel():
    """What runportal announces before it stops its web server (jobs.live.announce_server_cancel) ends
    that server's streams with server_cancel; another server's streams go on."""
    with portal_server(SSE_KEEPALIVE_SECONDS="1", PORTAL_INSTANCE="web-a") as a, portal_server(
        SSE_KEEPALIVE_SECONDS="1", PORTAL_INSTANCE="web-b"
    ) as b:  # fmt: skip
        tenant = make_tenant()
        job_id = submit(a, tenant.token, backend="aer_simulator", job_priority=10)
        Backend.objects.filter(name="aer_simulator").update(status="paused")  # the job stays queued
        headers = {"Authorization": f"Bearer {tenant.token}"}
        streams = {url: requests.get(f"{url}/v1/job/{job_id}/events", headers=headers, stream=True, timeout=60)
                   for url in (a, b)}  # fmt: skip
        received = {a: [], b: []}
        readers = {url: threading.Thread(target=read_events, args=(streams[url], received[url])) for url in (a, b)}
        for reader in readers.values():
            reader.start()
        wait_for(lambda: received[a] and received[b], timeout=30, what="the first events")
        live.announce_server_cancel("web-a", "the server is stopping")
        readers[a].join(timeout=30)
        assert not readers[a].is_alive(), "the stream of the stopping server did not close"
        assert received[a][-1] == ("server_cancel", {"reason": "the server is stopping"})
        comments = len([1 for kind, _ in received[b] if kind == "comment"])
        wait_for(lambda: len([1 for kind, _ in received[b] if kind == "comment"]) > comments + 1, timeout=30,
                 what="more keep-alives on the other server")  # fmt: skip
        assert readers[b].is_alive() and all(kind != "server_cancel" for kind, _ in received[b])
        streams[b].close()


def test_the_stream_of_a_job_deleted_before_it_began_says_so_and_ends(server):
    tenant = make_tenant()
    job_id = submit(server, tenant.token)
    jobs_delete(user=tenant.user, job_ids=[job_id])
    response = requests.get(f"{server}/v1/job/{job_id}/events", headers={"Authorization": f"Bearer {tenant.token}"},
                            timeout=30)  # fmt: skip
    assert [line for line in response.text.splitlines() if line.startswith("event: ")] == [
        "event: status", "event: job_deleted",
    ]  # fmt: skip
