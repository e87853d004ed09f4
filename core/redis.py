"""One Redis client, and so one connection pool, per process and Redis address, for every use: the job
and callback queues, live events, rate limits, locks. django-rq builds a new client (a new pool, a new
TCP connection) on every ``get_connection``; on the submit path that was two connections a request.
redis-py's pool notices a fork (by pid) and starts afresh in the child, so a forked work horse never
shares its parent's sockets."""

from __future__ import annotations

import threading

from django.conf import settings
from django.utils.module_loading import import_string
from django_rq.connection_utils import get_redis_connection
from redis import Redis

_clients: dict[str, Redis] = {}
_lock = threading.Lock()


def ensure_server() -> None:
    """Before this process's first connection: ``settings.REDIS_ENSURE_SERVER``, when set, makes sure a
    server answers (the embedded Redis starts on first use, and lives as long as its users)."""
    hook = getattr(settings, "REDIS_ENSURE_SERVER", "")
    if hook:
        import_string(hook)()


def client(queue: str = "default") -> Redis:
    """The process's client for the Redis that RQ queue ``queue`` lives on (settings.RQ_QUEUES)."""
    config = settings.RQ_QUEUES[queue]
    key = repr(sorted(config.items()))  # the address and options: a test that points elsewhere gets its own
    found = _clients.get(key)
    if found is None:
        with _lock:
            found = _clients.get(key)
            if found is None:
                ensure_server()
                found = _clients[key] = get_redis_connection(config)
    return found
