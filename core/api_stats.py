"""How many requests the web processes answered (QCOS's ``get_api_stats``): in all, in the last hour,
in the last day.

A request is counted in the process's memory (a lock and an addition: nothing on the request's path
waits for Redis). A background thread of the process adds what it counted to per-minute counters in
Redis once a second; a reader adds up the minutes of the window it asks for. Counts a process had
not handed over when it died are lost: at most its last second.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter

from redis import RedisError

from core.redis import client as redis_client

logger = logging.getLogger(__name__)

TOTAL_KEY = "portal:requests:total"
MINUTE_KEY = "portal:requests:m:{}"
KEEP_SECONDS = 25 * 3600  # a day's minutes and some
FLUSH_SECONDS = 1.0


class _Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.minutes: Counter[int] = Counter()
        self.pid = os.getpid()
        threading.Thread(target=self._run, name="api-stats", daemon=True).start()

    def add(self) -> None:
        with self.lock:
            self.minutes[int(time.time() // 60)] += 1

    def flush(self) -> None:
        with self.lock:
            pending, self.minutes = self.minutes, Counter()
        if not pending:
            return
        try:
            with redis_client().pipeline(transaction=False) as pipe:
                for minute, count in pending.items():
                    pipe.incrby(MINUTE_KEY.format(minute), count)
                    pipe.expire(MINUTE_KEY.format(minute), KEEP_SECONDS)
                pipe.incrby(TOTAL_KEY, sum(pending.values()))
                pipe.execute()
        except RedisError:
            logger.debug("request counts not handed over (Redis unavailable)", exc_info=True)
            with self.lock:
                self.minutes.update(pending)  # the next flush tries again

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()


_tally: _Tally | None = None
_tally_lock = threading.Lock()


def _current() -> _Tally:
    """This process's tally (a forked child starts its own: threads do not survive a fork)."""
    global _tally
    tally = _tally
    if tally is None or tally.pid != os.getpid():
        with _tally_lock:
            if _tally is None or _tally.pid != os.getpid():
                _tally = _Tally()
            tally = _tally
    return tally


def count_request() -> None:
    _current().add()


def api_stats() -> dict[str, int]:
    """QCOS's answer: ``total_requests``, ``last_hour_requests``, ``last_day_requests``, this process's
    latest counts included."""
    _current().flush()
    minute = int(time.time() // 60)
    conn = redis_client()
    day = conn.mget([MINUTE_KEY.format(minute - back) for back in range(24 * 60)])
    counts = [int(n) if n is not None else 0 for n in day]
    return {
        "total_requests": int(conn.get(TOTAL_KEY) or 0),
        "last_hour_requests": sum(counts[:60]),
        "last_day_requests": sum(counts),
    }
