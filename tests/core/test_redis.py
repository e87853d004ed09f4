"""core.redis: one client, and so one connection pool, per process and Redis address."""

from __future__ import annotations

from core.redis import client


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
