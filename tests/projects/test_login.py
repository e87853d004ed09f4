"""Password logins over JSON-RPC (QCOS's /v1/auth): what they hand out, and what an attacker gets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.conf import settings

from projects.models import ApiToken, RefreshToken
from tests.conftest import error_of, result_of
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-1"


def login(rpc, username: str, password: str) -> dict:
    return rpc("login", {"body": {"username": username, "password": password}}, url="/v1/auth")


def test_login_stores_only_hashes_and_expires(rpc):
    """The tokens are shown once: the database holds their hashes, and the access token expires."""
    user = make_user(password=PASSWORD)
    answer = result_of(login(rpc, user.username, PASSWORD))
    access = ApiToken.objects.get(user=user)
    refresh = RefreshToken.objects.get(access_token=access)
    assert answer["access_token"] not in (access.key_hash, access.prefix)
    assert answer["refresh_token"] not in (refresh.key_hash, refresh.prefix)
    assert (access.expires_at - access.created_at).total_seconds() == pytest.approx(
        settings.LOGIN_ACCESS_SECONDS, abs=2
    )
    assert answer["expires_in"] == settings.LOGIN_ACCESS_SECONDS


def test_refresh_token_is_not_an_access_token(rpc):
    """A refresh token authenticates nothing but a refresh."""
    user = make_user(password=PASSWORD)
    refresh = result_of(login(rpc, user.username, PASSWORD))["refresh_token"]
    answer = rpc("me", {}, url="/v1/auth", who=SimpleNamespace(auth={"HTTP_AUTHORIZATION": f"Bearer {refresh}"}))
    assert error_of(answer)["code"] == -401


def test_guessing_passwords_locks_the_name_out(rpc):
    """Failed logins count toward the sign-in lockout: after the limit even the right password is refused."""
    user = make_user(password=PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert error_of(login(rpc, user.username, "wrong-guess"))["code"] == -401
    assert error_of(login(rpc, user.username, "wrong-guess"))["code"] == -403  # the one that reached the limit
    refused = error_of(login(rpc, user.username, PASSWORD))
    assert refused["code"] == -403 and "Too many failed sign-ins" in refused["message"]
    assert refused["data"]["retry_after"] == int(settings.AXES_COOLOFF_TIME.total_seconds())


def test_spent_logins_do_not_pile_up(rpc):
    """Logging in again removes the user's logins that can no longer do anything (access revoked or
    expired, refresh used or expired); live ones stay."""
    user = make_user(password=PASSWORD)
    first = result_of(login(rpc, user.username, PASSWORD))
    result_of(rpc("refresh_token", {"body": {"refresh_token": first["refresh_token"]}}, url="/v1/auth"))
    assert ApiToken.objects.filter(user=user).count() == 1  # the spent pair went as the new one came
    second = result_of(login(rpc, user.username, PASSWORD))
    assert ApiToken.objects.filter(user=user).count() == 2  # two live logins
    rpc(
        "logout",
        {},
        url="/v1/auth",
        who=SimpleNamespace(auth={"HTTP_AUTHORIZATION": f"Bearer {second['access_token']}"}),
    )
    result_of(login(rpc, user.username, PASSWORD))
    assert ApiToken.objects.filter(user=user).count() == 2  # the signed-out one went
    assert not ApiToken.objects.filter(user=user, revoked_at__isnull=False).exists()


def test_logins_count_against_the_rate_limit(rpc, settings):
    """A user with a right password cannot mint tokens faster than the API's request rate."""
    settings.RATE_LIMIT_REQUESTS, settings.RATE_LIMIT_WINDOW = 2, 60
    user = make_user(password=PASSWORD)
    for _ in range(2):
        result_of(login(rpc, user.username, PASSWORD))
    assert error_of(login(rpc, user.username, PASSWORD))["data"]["error_code"] == "rate_limited"
    assert ApiToken.objects.filter(user=user).count() == 2
