"""A per-caller request rate limit on Redis (fixed windows), shared by every API.

``RATE_LIMIT`` is "<requests>/<seconds>" (default 1200/60; 0 turns it off). A batch costs one per
call. If Redis cannot be reached the request is let through: the limit protects the service, it
must not become the reason it is down.
"""

from __future__ import annotations

import logging
import math
import time

from django.conf import settings
from redis import RedisError

from core.exceptions import RateLimited
from core.redis import client as redis_client

logger = logging.getLogger(__name__)


def caller_key(user, token) -> str:
    """Whom a request is counted against: its API token, else (a web session) its user. One rule for
    every API, so a client cannot double its rate by switching between them."""
    return f"token:{token.pk}" if token is not None else f"user:{user.pk}"


def hit(caller: str, cost: int = 1) -> None:
    """Count ``cost`` requests for ``caller`` (a ``caller_key``); RateLimited (with retry_after) once over the limit."""
    limit, window = settings.RATE_LIMIT_REQUESTS, settings.RATE_LIMIT_WINDOW
    if not limit:
        return
    now = time.time()
    key = f"portal:rate:{caller}:{int(now // window)}"
    try:
        pipe = redis_client().pipeline()
        pipe.incrby(key, cost)
        pipe.expire(key, window + 1)
        count, _ = pipe.execute()
    except RedisError:
        logger.warning("rate limit not checked: Redis unavailable", exc_info=True)
        return
    if count > limit:
        retry_after = max(1, math.ceil(window - now % window))
        raise RateLimited(
            f"Too many requests: at most {limit} per {window} s for each API token. Retry in {retry_after} s.",
            retry_after=retry_after,
            limit=limit,
            window=window,
        )
