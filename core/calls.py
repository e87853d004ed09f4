"""Who makes a call, as the faces hand it to the functions below them."""

from __future__ import annotations

from typing import Any, Protocol


class Caller(Protocol):
    """The authenticated caller of one request: its user, the API token it came with (None for a web
    session), and the HTTP request itself (a sign-in needs it for its lockout). The JSON-RPC protocol
    in ``portal/`` resolves it once per HTTP request."""

    @property
    def user(self) -> Any: ...

    @property
    def token(self) -> Any: ...

    @property
    def request(self) -> Any: ...
