"""Bearer-token authentication, shared by the JSON-RPC endpoint and DRF."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from core.exceptions import Unauthenticated
from projects.models import ApiToken
from projects.services import token_authenticate


def bearer_token(request) -> str | None:
    """The raw token of an ``Authorization: Bearer`` header, '' for a malformed one, None for none."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return value.strip()


def authenticate_bearer(request) -> ApiToken | None:
    raw = bearer_token(request)
    if raw is None:
        return None
    return token_authenticate(raw)


def request_caller(request) -> tuple:
    """(user, token) of a request: a Bearer token's, else the signed-in session's (token None).

    Unauthenticated when neither; a malformed, unknown, revoked or expired token never falls back to
    the session. CSRF, where it matters (unsafe methods), is the caller's to check.
    """
    token = authenticate_bearer(request)
    if token is not None:
        return token.user, token
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user, None
    raise Unauthenticated()


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        try:
            token = authenticate_bearer(request)
        except Unauthenticated as exc:
            raise exceptions.AuthenticationFailed(exc.message) from exc
        if token is None:
            return None
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
