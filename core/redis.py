"""One Redis client, and so one connection pool, per process and Redis address, for every use: the job
and callback queues, live events, rate limits, locks. django-rq builds a new client (a new pool, a new
TCP connection) on every ``get_connection``; on the submit path that was two connections a request.
redis-py's pool notices a fork (by pid) and starts afresh in the child, so a forked work horse never
shares its parent's sockets."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils.module_loading import import_string
from django_rq.connection_utils import get_redis_connection
from redis import Redis, RedisError
from redis.client import Pipeline

logger = logging.getLogger(__name__)

_clients: dict[str, Redis] = {}
_lock = threading.Lock()
_open = threading.local()  # the thread's ``batched`` block's batch


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


class _Batch:
    """The Redis writes one transaction owes after its commit, in order, sent in one round trip a
    Redis server."""

    def __init__(self, savepoints: tuple[str, ...]) -> None:
        self.savepoints = savepoints
        self.writes: list[tuple[Redis, Callable[[Pipeline], object], str]] = []
        self.sent = False

    def flush(self) -> None:
        self.sent = True  # a hook run early (the tests' captured commit hooks) takes no more writes
        by_client: dict[int, tuple[Redis, list]] = {}
        for redis, write, failure in self.writes:
            by_client.setdefault(id(redis), (redis, []))[1].append((write, failure))
        for redis, writes in by_client.values():
            try:
                # In order, not as a MULTI transaction: a subscriber woken by an event reads the
                # database, not Redis, and an enqueue is one command.
                with redis.pipeline(transaction=False) as pipe:
                    for write, _ in writes:
                        write(pipe)
                    pipe.execute()
            except RedisError:
                for _, failure in writes:
                    logger.warning(failure, exc_info=True)


def after_commit(
    redis: Redis, write: Callable[[Pipeline], object], *, failure: str, using: str = DEFAULT_DB_ALIAS
) -> None:
    """Run ``write`` (commands on a pipeline) once the surrounding transaction commits, in the same
    round trip as the transaction's other such writes (outside a transaction at once, or at the end of
    the ``batched`` block it is in). The database is the truth and Redis its follower, so a Redis
    failure is logged (``failure``), never raised.

    The writes of one transaction stay in their order, and a write made inside a savepoint goes with
    it if the savepoint rolls back: a batch takes writes only while it is the last of the
    transaction's commit hooks and at its savepoint level."""
    connection = connections[using]
    if not connection.in_atomic_block:
        batch = getattr(_open, "batch", None)
        if batch is not None:
            batch.writes.append((redis, write, failure))
            return
        batch = _Batch(())
        batch.writes.append((redis, write, failure))
        batch.flush()
        return
    # An atomic block without a savepoint (``savepoint=False``, Django's None) cannot roll back on its
    # own: its writes belong to the level around it (a job's finish: one batch, not three).
    savepoints = tuple(sid for sid in connection.savepoint_ids if sid is not None)
    batch = connection.__dict__.get("_redis_after_commit")
    hooks = connection.run_on_commit
    if batch is None or batch.sent or batch.savepoints != savepoints or not hooks or hooks[-1][1] != batch.flush:
        batch = connection.__dict__["_redis_after_commit"] = _Batch(savepoints)
        transaction.on_commit(batch.flush, using=using)
    batch.writes.append((redis, write, failure))


@contextmanager
def batched() -> Iterator[None]:
    """The block's writes made outside a transaction (after a change that is one autocommitted
    statement, ``core.prepared.PreparedChain``) sent in one round trip at its end, as a transaction's
    are after its commit. They are owed by what has committed, so they are sent even if the block raises."""
    if getattr(_open, "batch", None) is not None:
        yield  # an outer block sends them
        return
    _open.batch = batch = _Batch(())
    try:
        yield
    finally:
        _open.batch = None
        batch.flush()
