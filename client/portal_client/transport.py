"""The client's side of the wire: JSON-RPC calls to the portal (SPEC §3) and a job's events stream (SPEC §9).

Transport rules, in one place (``Transport._call``):

- connection errors, timeouts, HTTP 5xx and ``rate_limited`` answers are retried with exponential
  backoff and full jitter, waiting at least the ``retry_after`` the portal asks for; every other error
  is raised at once as its exception from ``portal_client.errors``;
- a retry that meets -409 ``conflict`` can hand the call to ``on_replayed_conflict``: the earlier attempt
  went through and only its answer was lost (``submit_job`` relies on this to stay idempotent).
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import requests

from portal_client import errors

log = logging.getLogger("portal_client")

# Keep-alives come at least every 15 s, so a stream silent for this long is dead.
EVENTS_READ_TIMEOUT = 45.0


class Transport:
    """One portal's address, one caller's token and the retry policy of every call made with them.

    ``url`` and ``token`` default to the environment's ``PORTAL_URL`` and ``PORTAL_TOKEN``;
    ``PortalClient`` documents the other settings.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        session: requests.Session | None = None,
    ):
        url = url or os.environ.get("PORTAL_URL")
        if not url:
            raise TypeError(f"{type(self).__name__} needs the portal's url: pass it, or set PORTAL_URL")
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("PORTAL_TOKEN")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.session = session or requests.Session()
        self._sleep: Callable[[float], None] = time.sleep

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _delay(self, attempt: int, failure: errors.PortalError) -> float:
        bound = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        delay = random.uniform(0, bound)
        if isinstance(failure, errors.RateLimited) and failure.retry_after is not None:
            delay = max(delay, failure.retry_after)
        return delay

    def _post_once(self, url: str, payload: dict[str, Any]) -> Any:
        """One HTTP round trip: the ``result``, or raises the error (``retryable`` set on those worth retrying)."""
        try:
            response = self.session.post(url, json=payload, headers=self.headers, timeout=self.timeout)
        except requests.RequestException as exc:
            failure = errors.ConnectionFailed(f"Could not reach the portal at {url}: {exc}")
            failure.retryable = True
            raise failure from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            failure = errors.from_rpc_error(body["error"])
            failure.retryable = isinstance(failure, errors.RateLimited) or response.status_code >= 500
            raise failure
        if response.status_code >= 500 or not isinstance(body, dict) or "result" not in body:
            failure = errors.ServiceError(
                f"The portal answered HTTP {response.status_code} without a JSON-RPC response.",
                data={"http_status": response.status_code, "body": response.text[:500]},
            )
            failure.retryable = response.status_code >= 500
            raise failure
        return body["result"]

    def _call(self, method: str, params: dict[str, Any] | None = None, *, on_replayed_conflict=None) -> Any:
        """Call ``method`` with retries. ``on_replayed_conflict()`` answers instead of raising when a
        retry meets -409: the earlier attempt did go through, only its answer was lost."""
        url = f"{self.url}/v1/job/{method}" if method != "rpc.discover" else f"{self.url}/v1/job/"
        payload = {"jsonrpc": "2.0", "id": str(uuid.uuid4()), "method": method, "params": params or {}}
        attempt = 0
        while True:
            try:
                return self._post_once(url, payload)
            except errors.Conflict as conflict:
                # Only the plain conflict (the job_id is taken) says the earlier attempt went through;
                # a narrower one (timeslot_required...) is a refusal of this very call.
                if attempt and on_replayed_conflict is not None and conflict.error_code == errors.Conflict.error_code:
                    return on_replayed_conflict()
                raise
            except errors.PortalError as failure:
                if not failure.retryable or attempt >= self.max_retries:
                    raise
                attempt += 1
                delay = self._delay(attempt, failure)
                log.info("%s failed (%s); retry %d of %d in %.2fs", method, failure, attempt, self.max_retries, delay)
                self._sleep(delay)


class EventStream:
    """An open events stream of one job; ``close()`` ends it from any thread."""

    def __init__(self, transport: Transport, job_id: str):
        url = f"{transport.url}/v1/job/{job_id}/events"
        try:
            self._response = transport.session.get(
                url, headers=transport.headers, stream=True, timeout=(10, EVENTS_READ_TIMEOUT)
            )
        except requests.RequestException as exc:
            raise errors.ConnectionFailed(f"Could not reach the portal at {url}: {exc}") from exc
        if self._response.status_code != 200:
            self._response.close()
            try:
                error = self._response.json()["error"]
            except (ValueError, KeyError, TypeError):
                raise errors.ServiceError(f"The events stream answered HTTP {self._response.status_code}.") from None
            raise errors.from_rpc_error(error)
        self.job_id = job_id

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        event = "message"
        try:
            for line in self._response.iter_lines(decode_unicode=True):
                if line.startswith("event:"):
                    event = line[len("event:") :].strip()
                elif line.startswith("data:"):
                    yield event, json.loads(line[len("data:") :])
                    event = "message"
        except (requests.RequestException, AttributeError, ValueError) as exc:
            # AttributeError/ValueError: the response was closed under the reader by close().
            raise errors.ConnectionFailed(f"The events stream of job {self.job_id} broke: {exc}") from exc

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
