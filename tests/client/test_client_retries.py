"""Retries: connection errors, HTTP 5xx and rate_limited are retried with backoff; nothing else is;
a submit whose answer was lost never makes a second job.

The network failures come from a proxy on 127.0.0.1 in front of the live portal that fails the
requests a test tells it to: the portal itself is real.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from portal_client import ConnectionFailed, NotFound, PortalClient, RateLimited, ServiceError
from tests.factories import BELL
from tests.workers import free_port, portal_server


class FlakyProxy:
    """Forwards requests to the portal; the next ``plan`` entries say how to fail instead:
    ``"503"`` answers 503 without forwarding, ``"drop"`` closes the connection without forwarding,
    ``"lose-answer"`` forwards the request and then closes the connection without answering."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.plan: deque[str] = deque()
        self.seen: list[str] = []  # the JSON-RPC method of every request that arrived
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.seen.append(self.path.rsplit("/", 1)[-1])
                action = proxy.plan.popleft() if proxy.plan else "forward"
                if action == "503":
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if action == "drop":
                    self.close_connection = True
                    return
                answer = requests.post(
                    proxy.upstream + self.path, data=body, headers={
                        "Content-Type": "application/json", "Authorization": self.headers["Authorization"],
                    }, timeout=30,
                )  # fmt: skip
                if action == "lose-answer":
                    self.close_connection = True
                    return
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(portal):
    proxy = FlakyProxy(portal.url)
    yield proxy
    proxy.close()


def recording_client(url: str, token: str, **options) -> tuple[PortalClient, list[float]]:
    """A client whose waits between retries are recorded instead of slept."""
    client = PortalClient(url, token, **options)
    waits: list[float] = []
    client._sleep = waits.append
    return client, waits


def test_5xx_and_dropped_connections_are_retried_with_growing_jittered_waits(portal, proxy):
    client, waits = recording_client(proxy.url, portal.alice.token, backoff=1.0, max_backoff=30)
    proxy.plan.extend(["503", "drop", "503"])
    backends = client.get_backends()
    assert "aer_simulator" in {backend["name"] for backend in backends}
    assert proxy.seen == ["get_backends"] * 4
    assert len(waits) == 3
    assert all(0 <= wait <= bound for wait, bound in zip(waits, [1.0, 2.0, 4.0], strict=True))


def test_retries_give_up_after_max_retries(portal, proxy):
    client, waits = recording_client(proxy.url, portal.alice.token, max_retries=2)
    proxy.plan.extend(["503"] * 10)
    with pytest.raises(ServiceError) as raised:
        client.get_backends()
    assert raised.value.data["http_status"] == 503
    assert len(proxy.seen) == 3 and len(waits) == 2


def test_other_errors_are_not_retried(portal, proxy):
    client, waits = recording_client(proxy.url, portal.alice.token)
    with pytest.raises(NotFound):
        client.get_job_status("00000000-0000-0000-0000-000000000000")
    assert proxy.seen == ["get_job_status"] and waits == []


def test_unreachable_portal_is_connection_failed(portal):
    client, waits = recording_client(f"http://127.0.0.1:{free_port()}", portal.alice.token, max_retries=2)
    with pytest.raises(ConnectionFailed):
        client.get_backends()
    assert len(waits) == 2


def test_submit_whose_answer_was_lost_makes_one_job(portal, proxy):
    """The first attempt reaches the portal and stores the job, but its answer never arrives; the retry
    meets -409 for its own job_id and answers the job that the first attempt made."""
    client, waits = recording_client(proxy.url, portal.alice.token)
    proxy.plan.append("lose-answer")
    job = client.submit_job(code_type="qasm2", source_code=[BELL], backend="dummy", job_name="once")
    assert proxy.seen[:2] == ["submit_job", "submit_job"] and len(waits) == 1
    assert job["job_name"] == "once" and job["source_code"] == [BELL]
    mine = PortalClient(portal.url, portal.alice.token).get_jobs()
    assert [summary["job_id"] for summary in mine] == [job["job_id"]]


def test_rate_limited_calls_wait_retry_after_then_succeed(portal):
    with portal_server(RATE_LIMIT="3/2") as url:
        client, waits = recording_client(url, portal.alice.token, backoff=0.01)

        def wait_for_real(seconds: float) -> None:  # the window has to pass on the portal's clock
            waits.append(seconds)
            time.sleep(seconds)

        client._sleep = wait_for_real
        # Fixed windows: on a loaded machine a few calls may straddle two, so call until one is limited.
        for _ in range(30):
            client.get_backends()
            if waits:
                break
        assert waits and min(waits) >= 1  # at least the retry_after the portal asked for

        impatient = PortalClient(url, portal.alice.token, max_retries=0)
        with pytest.raises(RateLimited) as raised:
            for _ in range(30):
                impatient.get_backends()
        assert raised.value.error_code == "rate_limited" and raised.value.retry_after >= 1
