"""What the webhooks tests share: a real HTTP receiver on 127.0.0.1, real RQ workers in burst mode for
the job and callback queues, and small readers of deliveries."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import django_rq
import pytest
from django.conf import settings
from rq import SimpleWorker

from jobs import queues
from webhooks.models import CallbackAttempt, CallbackDelivery

# --- A real receiver ------------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """An HTTP server on 127.0.0.1 in a thread. It records every request, then answers the next status
    planned for its path in ``plan`` (``default`` once that plan is used up); ``/redirect...`` answers 302
    to ``redirect_to``; ``delay`` holds every answer that long."""

    def __init__(self, host: str = "127.0.0.1"):
        self.requests: list[Received] = []
        self.plan: dict[str, list[int]] = {}
        self.default = 200
        self.delay = 0.0
        self.redirect_to = "/target"
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append(Received(self.command, self.path, self.headers, body))
                    planned = receiver.plan.get(self.path)
                    status = planned.pop(0) if planned else receiver.default
                if receiver.delay:
                    receiver.release.wait(receiver.delay)
                if self.path.startswith("/redirect"):
                    status = 302
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_PUT = do_GET = answer

            def log_message(self, format, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


def callbacks_allowed_to(settings, networks: list[str]):
    """DEBUG off, so destinations are allowed only in ``networks``; retries re-enqueue at once (RQ:
    interval 0). Answers ``settings``."""
    settings.DEBUG = False
    settings.CALLBACK_ALLOWED_NETWORKS = networks
    settings.CALLBACK_RETRY_DELAYS = [0, 0, 0, 0, 0]
    return settings


class BurstWorker(SimpleWorker):
    """RQ's SimpleWorker without its command channel: a burst run in a test takes no commands, and
    stopping the channel's thread costs a second per run."""

    def subscribe(self) -> None:
        pass


def run_callbacks() -> None:
    """A real RQ worker on the callbacks queue, in this process, until the queue is empty (retries with
    a zero delay are re-enqueued at once, so they run in the same burst)."""
    queue = django_rq.get_queue(settings.CALLBACK_QUEUE_NAME)
    BurstWorker([queue], connection=queue.connection).work(burst=True)


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Run the job queues; what the workers' transactions enqueue on commit (callbacks) is enqueued."""

    def work() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            BurstWorker(queues.job_queues(), connection=queues.connection(), queue_class=queues.JobQueue).work(
                burst=True
            )

    return work


def hook(url: str, **fields: Any) -> dict[str, Any]:
    return {"name": "hook", "type": "results", "method": "post", "url": url, **fields}


def deliveries(job: dict[str, Any]) -> list[CallbackDelivery]:
    return list(CallbackDelivery.objects.filter(job_id=job["job_id"]).order_by("created_at", "callback_index"))


def attempts(delivery: CallbackDelivery) -> list[CallbackAttempt]:
    return list(delivery.attempt_log.order_by("at", "id"))
