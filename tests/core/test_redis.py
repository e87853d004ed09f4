"""core.redis: one client, and so one connection pool, per process and Redis address."""

from __future__ import annotations

import contextlib
import logging
import socket

import pytest
from django.db import transaction
from redis import Redis

from core.redis import after_commit, batched, client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_every_use_shares_one_client():
    """Queues, events and rate limits get the same client: no new pool (and TCP connection) per call."""
    assert client() is client("default")
    assert client().ping()


def test_another_address_gets_its_own_client(settings):
    """A Redis elsewhere (settings pointing at another database) is a client of its own."""
    first = client()
    settings.RQ_QUEUES = {**settings.RQ_QUEUES, "default": {**settings.RQ_QUEUES["default"], "DB": 14}}
    assert client() is not first
    assert client() is client()


def _pushed(key: str) -> list[str]:
    return [item.decode() for item in client().lrange(key, 0, -1)]


@pytest.mark.django_db
def test_a_transactions_writes_go_after_its_commit_in_one_round_trip(
    redis_pipelines, django_capture_on_commit_callbacks
):
    redis = client()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for item in ("a", "b", "c"):
            after_commit(redis, lambda pipe, item=item: pipe.rpush("t:after", item), failure="")
        assert _pushed("t:after") == []  # nothing before the commit
    assert _pushed("t:after") == ["a", "b", "c"] and redis_pipelines == [
        ["RPUSH"] * 3
    ]  # the three writes: one round trip


@pytest.mark.django_db
def test_a_write_in_a_savepoint_rolled_back_is_dropped(django_capture_on_commit_callbacks):
    redis = client()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        after_commit(redis, lambda pipe: pipe.rpush("t:after", "kept"), failure="")
        with contextlib.suppress(ValueError), transaction.atomic():
            after_commit(redis, lambda pipe: pipe.rpush("t:after", "dropped"), failure="")
            raise ValueError
        after_commit(redis, lambda pipe: pipe.rpush("t:after", "also kept"), failure="")
    assert _pushed("t:after") == ["kept", "also kept"]


@pytest.mark.django_db
def test_a_block_without_a_savepoint_joins_the_round_trip_around_it(
    redis_pipelines, django_capture_on_commit_callbacks
):
    """``atomic(savepoint=False)`` (the state machine's inside a caller's transaction) cannot roll back
    alone, so its writes go in the same round trip as those before and after it."""
    redis = client()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        after_commit(redis, lambda pipe: pipe.rpush("t:after", "before"), failure="")
        with transaction.atomic(savepoint=False):
            after_commit(redis, lambda pipe: pipe.rpush("t:after", "inside"), failure="")
        after_commit(redis, lambda pipe: pipe.rpush("t:after", "after"), failure="")
    assert _pushed("t:after") == ["before", "inside", "after"] and redis_pipelines == [["RPUSH"] * 3]


def test_outside_a_transaction_at_once():
    after_commit(client(), lambda pipe: pipe.rpush("t:after", "now"), failure="")
    assert _pushed("t:after") == ["now"]


def test_a_batched_blocks_writes_outside_a_transaction_go_at_its_end_in_one_round_trip(redis_pipelines):
    """After a change that is one autocommitted statement (core.prepared.PreparedChain), as after a commit."""
    with batched():
        after_commit(client(), lambda pipe: pipe.rpush("t:after", "a"), failure="")
        with batched():  # an inner block adds to the outer one's round trip
            after_commit(client(), lambda pipe: pipe.rpush("t:after", "b"), failure="")
        assert _pushed("t:after") == []
    assert _pushed("t:after") == ["a", "b"] and redis_pipelines == [["RPUSH", "RPUSH"]]


def test_a_batched_block_that_raises_still_sends_what_was_owed():
    with contextlib.suppress(ValueError), batched():
        after_commit(client(), lambda pipe: pipe.rpush("t:after", "owed"), failure="")
        raise ValueError
    assert _pushed("t:after") == ["owed"]


@pytest.mark.django_db
def test_a_batch_sent_early_takes_no_more_writes(django_capture_on_commit_callbacks):
    """A commit hook run before the commit (the tests' captured hooks) sent its batch: a later write
    of the same transaction goes in a batch of its own, not into one already sent."""
    with transaction.atomic():
        with django_capture_on_commit_callbacks(execute=True):
            after_commit(client(), lambda pipe: pipe.rpush("t:after", "first"), failure="")
        with django_capture_on_commit_callbacks(execute=True):
            after_commit(client(), lambda pipe: pipe.rpush("t:after", "second"), failure="")
        assert _pushed("t:after") == ["first", "second"]


def test_redis_down_is_logged_not_raised(caplog):
    down = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    with caplog.at_level(logging.WARNING, logger="core.redis"):
        after_commit(down, lambda pipe: pipe.rpush("t:after", "lost"), failure="could not write t:after")
    assert "could not write t:after" in caplog.text
