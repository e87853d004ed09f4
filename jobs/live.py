"""Live job updates (SPEC §9): status changes and entry progress pushed over Redis pub/sub, streamed
to clients as server-sent events.

The state machine publishes after each commit (``publish_on_commit``); a stream subscribes first,
then reads the job's current state from the database, so nothing falls between the two. Pub/sub is
fire-and-forget, so every keep-alive also re-reads the job: a missed message costs at most one
keep-alive interval, never a stream stuck on a stale status. Streams are async (ASGI), so hundreds
of them hold no server threads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings
from redis import RedisError

from core.redis import after_commit, ensure_server
from core.redis import client as redis_client
from jobs.choices import FINAL, JobStatus

logger = logging.getLogger(__name__)

CHANNEL = "portal:job-events:{}"
# Where the process manager (runportal) tells one web server's streams that it is stopping: per
# server instance (PORTAL_INSTANCE), so a restart of one host never ends the streams of another.
SERVER_CHANNEL = "portal:server:{}"
SERVER_CANCEL = "server_cancel"


def channel(job_id: uuid.UUID | str) -> str:
    return CHANNEL.format(job_id)


def publish_on_commit(job_id: uuid.UUID | str, event: dict[str, Any]) -> None:
    """Publish ``event`` once the surrounding transaction commits (subscribers then read committed rows),
    in one round trip with the transaction's other Redis writes."""
    payload = json.dumps({"job_id": str(job_id), **event})
    after_commit(
        redis_client(),
        lambda pipe: pipe.publish(channel(job_id), payload),
        failure=f"could not publish an event of job {job_id}",
    )


def server_channel() -> str | None:
    instance = getattr(settings, "PORTAL_INSTANCE", "")
    return SERVER_CHANNEL.format(instance) if instance else None


def announce_server_cancel(instance: str, reason: str) -> None:
    """Tell every event stream of web server ``instance`` to end now with ``event: server_cancel``
    (IQM's SubscribeToJobV1), before the server stops: a client then knows to reconnect, rather than
    finding its stream cut."""
    try:
        redis_client().publish(SERVER_CHANNEL.format(instance), json.dumps({"event": SERVER_CANCEL, "reason": reason}))
    except RedisError:
        logger.warning("could not announce the server's stop to its event streams", exc_info=True)


async def _subscribe(pubsub, channels: list[str]) -> None:
    server = server_channel()
    await pubsub.subscribe(*channels, *([server] if server else []))


def _server_cancel(message: dict[str, Any]) -> str | None:
    """The ``server_cancel`` event to end a stream with, if ``message`` came on the server's channel."""
    server = server_channel()
    name = message.get("channel")
    name = name.decode() if isinstance(name, bytes) else name
    if server is None or name != server:
        return None
    data = json.loads(message["data"])
    return sse(SERVER_CANCEL, {"reason": data.get("reason", "the server is stopping")})


def _ending(job_id: str, status: str) -> str:
    """The last event of a job's stream: ``job_deleted`` when it was deleted (IQM's), else ``end``."""
    if status == JobStatus.DELETED:
        return sse("job_deleted", {"job_id": job_id, "job_status": status})
    return sse("end", {"job_id": job_id, "job_status": status})


def snapshot(job) -> dict[str, Any]:
    return {
        "job_id": str(job.job_id),
        "job_status": job.status,
        "progress": job.progress,
        "updated_at": job.updated_at.isoformat(),
    }


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


# The most jobs one stream follows (a page of the job list is 25).
MAX_STREAMED_JOBS = 100


async def _follow(job_ids: list[uuid.UUID], load, statuses: dict[str, str]) -> AsyncIterator[str]:
    """What every event stream does: subscribe first, then each job's state at once (``await load()``
    answers the current snapshots of those the caller may read), each change, keep-alives (re-reading
    the jobs, in case a message was missed), ``job_deleted`` for a job deleted meanwhile, until every
    job is final or the server announces its stop. ``statuses`` keeps each job's status as sent; it is
    emptied when the server's stop ended the stream, which then owes no ending of its own."""
    from redis import asyncio as aioredis

    if settings.REDIS_ENSURE_SERVER:  # the embedded Redis, in a process that has not used it yet
        await asyncio.to_thread(ensure_server)
    client = aioredis.Redis.from_url(settings.RQ_QUEUES["default"]["URL"])
    pubsub = client.pubsub()

    def changed(job_id: str, status: str) -> str:
        ended = statuses.get(job_id) == JobStatus.DELETED  # said already (a re-read and its event both tell it)
        statuses[job_id] = status
        return _ending(job_id, status) if status == JobStatus.DELETED and not ended else ""

    try:
        await _subscribe(pubsub, [channel(job_id) for job_id in job_ids])
        for current in await load():
            yield sse("status", current) + changed(current["job_id"], current["job_status"])
        while any(status not in FINAL for status in statuses.values()):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=settings.SSE_KEEPALIVE_SECONDS)
            if message is None:
                yield ": keep-alive\n\n"
                for current in await load():
                    if statuses.get(current["job_id"]) != current["job_status"]:
                        yield sse("status", current) + changed(current["job_id"], current["job_status"])
                continue
            if (cancel := _server_cancel(message)) is not None:
                statuses.clear()
                yield cancel
                return
            event = json.loads(message["data"])
            if statuses.get(event.get("job_id"), JobStatus.DELETED) == JobStatus.DELETED:
                continue  # not one of these jobs, or one whose deletion was told (a re-read may tell it first)
            kind = event.pop("event", "status")
            status = event.get("job_status", statuses[event["job_id"]])
            yield sse(kind, event) + changed(event["job_id"], status)
    finally:
        try:
            await pubsub.aclose()
            await client.aclose()
        except (RedisError, asyncio.CancelledError):
            pass


async def stream(job_id: uuid.UUID, load) -> AsyncIterator[str]:
    """The event stream of one job: its state at once, then each change, keep-alives, and ``end`` after
    the final status (``job_deleted`` if it was deleted; ``server_cancel`` if the server stops first).
    ``await load()`` answers the job's current snapshot."""

    async def load_one() -> list[dict[str, Any]]:
        return [await load()]

    statuses: dict[str, str] = {}
    async for text in _follow([job_id], load_one, statuses):
        yield text
    status = statuses.get(str(job_id))
    if status is not None and status != JobStatus.DELETED:  # a deleted job's stream ended with job_deleted
        yield _ending(str(job_id), status)


async def stream_many(job_ids: list[uuid.UUID], load) -> AsyncIterator[str]:
    """The event stream of several jobs at once (the job list): each job's state at once, then each
    change (every event names its ``job_id``), ``job_deleted`` for each one deleted, keep-alives, and
    ``end`` with every job's status once all of them are final. ``await load()`` answers the current
    snapshots of those of ``job_ids`` the caller may read."""
    statuses: dict[str, str] = {}
    async for text in _follow(job_ids, load, statuses):
        yield text
    if statuses:  # empty: the server's stop ended the stream
        yield sse("end", {"job_statuses": statuses})
