"""The web face against hostile input: sign-in throttling (django-axes) and the Content-Security-Policy
(django-csp) of every page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.test import AsyncClient, Client
from django.utils import timezone

from jobs.models import Job
from tests.conftest import result_of
from tests.factories import make_tenant, make_user

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret-pass!"
LOCKED = "Too many failed sign-ins."


@pytest.fixture
def alice(db):
    return make_user("alice", password=PASSWORD)


def sign_in(client: Client, username: str, password: str, *, url: str = "/accounts/login/", ip: str = "127.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail_until_locked(client: Client, username: str, *, url: str = "/accounts/login/", ip: str = "127.0.0.1"):
    """Wrong passwords up to the limit; the last of them is answered with the lockout page."""
    from django.conf import settings

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in(client, username, "wrong", url=url, ip=ip)
        assert response.status_code == 200 and LOCKED not in response.content.decode()
    response = sign_in(client, username, "wrong", url=url, ip=ip)
    assert response.status_code == 429
    return response


def signed_in(client: Client) -> bool:
    return client.get("/").status_code == 200


# --- Sign-in throttling -----------------------------------------------------------------------


def test_failure_limit_then_the_right_password_is_refused_with_a_clear_page(client, alice, settings):
    """After AXES_FAILURE_LIMIT wrong passwords even the right one gets the sign-in page saying why, 429."""
    fail_until_locked(client, "alice")
    response = sign_in(client, "alice", PASSWORD)
    page = response.content.decode()
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert response.status_code == 429
    assert LOCKED in page and f"try again in {minutes} minute" in page
    assert '<form method="post" action="/accounts/login/"' in page and 'value="alice"' in page
    assert response["Retry-After"] == str(minutes * 60)
    assert not signed_in(client)


def test_lockout_is_per_username_and_address(client, alice):
    """Alice locked out from one address: she still signs in from another, and Bob from the same one."""
    make_user("bob", password=PASSWORD)
    fail_until_locked(client, "alice", ip="192.0.2.7")
    assert sign_in(Client(), "bob", PASSWORD, ip="192.0.2.7").status_code == 302
    other = Client()
    assert sign_in(other, "alice", PASSWORD, ip="198.51.100.8").status_code == 302
    assert signed_in(other)


def test_after_the_cool_off_the_right_password_works(client, alice, settings):
    """Once the cool-off has passed since the last failure, the right password signs in again."""
    from axes.models import AccessAttempt

    fail_until_locked(client, "alice")
    assert sign_in(client, "alice", PASSWORD).status_code == 429
    # The cool-off counts from the last failure's time: put it in the past rather than wait.
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    assert signed_in(client)


def test_an_operator_can_lift_a_lockout(client, alice):
    """``manage.py axes_reset_username`` ends a lockout at once."""
    fail_until_locked(client, "alice")
    call_command("axes_reset_username", "alice", verbosity=0)
    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_a_success_resets_the_count(client, alice, settings):
    """Failures before a successful sign-in do not count towards the next lockout."""
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "alice", "wrong").status_code == 200
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "alice", "wrong").status_code == 200
    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_admin_login_failures_count_and_lock_the_portal_sign_in_too(client, db):
    """Wrong passwords on /admin/login/ lock out like the portal's form, and the lock holds on both."""
    make_user("olga", staff=True, password=PASSWORD)
    locked = fail_until_locked(client, "olga", url="/admin/login/?next=/admin/")
    assert LOCKED in locked.content.decode()
    assert sign_in(client, "olga", PASSWORD, url="/admin/login/?next=/admin/").status_code == 429
    assert sign_in(client, "olga", PASSWORD).status_code == 429
    assert client.get("/admin/").status_code == 302  # still signed out


def test_lockout_page_under_asgi(alice, settings):
    """The portal runs under ASGI, where axes' middleware takes its async path: the same page, 429."""
    client = AsyncClient()

    def post(password: str):
        return async_to_sync(client.post)("/accounts/login/", {"username": "alice", "password": password})

    for _ in range(settings.AXES_FAILURE_LIMIT):
        post("wrong")
    response = post(PASSWORD)
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert "Content-Security-Policy" in response


def test_locked_out_user_keeps_their_api_tokens(client, rpc):
    """The throttle guards passwords only: a locked-out user's Bearer token still works on both APIs."""
    owner = make_tenant(username="tokenowner")
    owner.user.set_password(PASSWORD)
    owner.user.save(update_fields=["password"])
    fail_until_locked(client, "tokenowner")
    assert "result" in rpc("get_jobs", {"filters": {}}, who=owner)
    assert Client().get("/api/v1/jobs/", **owner.auth).status_code == 200


@pytest.mark.parametrize(
    "fields",
    [
        {"username": "al\x00ice", "password": PASSWORD},
        {"username": "alice", "password": "pass\x00word"},
        {"username": "a" * 10_000, "password": "x" * 10_000},
        b"username=%ED%A0%80&password=%FF%FE",  # a lone surrogate, encoded; bytes that are no UTF-8
        b"username=alice&username=bob&password=%00",
        {"username": ["alice", "bob"], "password": [PASSWORD, "x"]},
        {"username": "", "password": ""},
        {},
    ],
)
def test_hostile_sign_in_input_is_a_form_error_never_a_500(client, alice, fields):
    """NUL, huge, lone-surrogate, repeated or missing fields: the form says no, nothing crashes."""
    for _ in range(7):  # past the failure limit too
        if isinstance(fields, bytes):
            response = client.post("/accounts/login/", fields, content_type="application/x-www-form-urlencoded")
        else:
            response = client.post("/accounts/login/", fields)
        assert response.status_code in (200, 429), response.status_code
    assert not signed_in(client)


# --- Content-Security-Policy ------------------------------------------------------------------

STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def policy(response) -> dict[str, str]:
    """The response's Content-Security-Policy as {directive: sources}."""
    header = response["Content-Security-Policy"]
    directives = [part.strip().split(None, 1) for part in header.split(";") if part.strip()]
    return {name: value for name, value in directives}


@pytest.fixture
def job(tenant, submit) -> Job:
    return Job.objects.get(pk=submit(tenant)["job_id"])


def _portal_pages(job: Job, tenant) -> list[str]:
    return [
        "/",
        "/jobs/",
        "/jobs/new/",
        f"/jobs/{job.job_id}/",
        f"/jobs/{job.job_id}/delete/",
        f"/projects/{tenant.project.slug}/",
        "/accounts/password_change/",
        "/jobs/00000000-0000-0000-0000-000000000000/",  # the 404 page
    ]


def test_portal_pages_have_the_strict_policy(client, tenant, job):
    """Every page of the portal's own, the error pages too, has exactly the strict policy."""
    client.force_login(tenant.user)
    for url in _portal_pages(job, tenant):
        assert policy(client.get(url)) == STRICT, url
    assert policy(Client().get("/accounts/login/")) == STRICT


def test_operator_pages_have_the_strict_policy(client, staff):
    """The portal's own operator pages (/ops/) need nothing more either."""
    client.force_login(staff.user)
    assert policy(client.get("/ops/")) == STRICT


def test_lockout_page_has_the_strict_policy(client, alice):
    assert policy(fail_until_locked(client, "alice")) == STRICT


INLINE = re.compile(
    r"""<script(?![^>]*\bsrc=)[^>]*>   # a script element without src
      | <style\b                       # a style element
      | \sstyle\s*=                    # a style attribute
      | \son[a-z]+\s*=                 # an event handler attribute
      | javascript:""",
    re.I | re.X,
)


def test_portal_pages_have_no_inline_script_or_style(client, tenant, staff, job):
    """What the strict policy would refuse is not in any portal page: no inline script, style or handler."""
    client.force_login(tenant.user)
    pages = {url: client.get(url).content.decode() for url in _portal_pages(job, tenant)}
    pages["/accounts/login/"] = Client().get("/accounts/login/").content.decode()
    client.force_login(staff.user)
    pages["/ops/"] = client.get("/ops/").content.decode()
    for url, html in pages.items():
        assert not INLINE.search(html), (url, INLINE.search(html))


def test_third_party_pages_relax_only_what_they_need(client, staff):
    """Admin, django-rq and the browsable API get 'unsafe-inline' only where they need it; the rest of the
    policy (object-src, base-uri, frame-ancestors, form-action, connect-src) stays strict."""
    client.force_login(staff.user)
    admin, rq, api = policy(client.get("/admin/")), policy(client.get("/django-rq/")), policy(client.get("/api/v1/"))
    assert admin == {**STRICT, "style-src": "'self' 'unsafe-inline'"}
    assert rq == {**STRICT, "script-src": "'self' 'unsafe-inline'", "style-src": "'self' 'unsafe-inline'"}
    assert api == {**STRICT, "style-src": "'self' 'unsafe-inline'"}
    browsable = client.get("/api/v1/", HTTP_ACCEPT="text/html").content.decode()
    # Its scripts stay 'self' only: the "Log out" is a form button (templates/rest_framework/api.html).
    assert not re.search(r"\son[a-z]+\s*=", browsable)
    assert 'action="/api/auth/logout/?next=/api/v1/"' in browsable


def test_swagger_ui_runs_on_a_nonce_not_unsafe_inline(client, staff):
    """/api/docs/: its inline script and style carry this response's nonce; no 'unsafe-inline' anywhere."""
    client.force_login(staff.user)
    first, second = client.get("/api/docs/"), client.get("/api/docs/")
    docs = policy(first)
    nonce = re.fullmatch(r"'self' 'nonce-([\w+/=]+)'", docs["script-src"]).group(1)
    assert docs == {**STRICT, "script-src": f"'self' 'nonce-{nonce}'", "style-src": f"'self' 'nonce-{nonce}'",
                    "img-src": "'self' data:"}  # fmt: skip
    html = first.content.decode()
    inline = re.findall(r"<(script|style)(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline and all(f'nonce="{nonce}"' in attrs for _, attrs in inline)
    assert policy(second)["script-src"] != docs["script-src"]  # a fresh nonce per response


def test_api_answers_carry_the_policy_without_breaking(client, tenant, rpc):
    """JSON answers get the header too (harmless there) and still work: JSON-RPC and REST with a token."""
    assert result_of(rpc("get_jobs", {"filters": {}}, who=tenant)) is not None
    response = client.get("/api/v1/jobs/", **tenant.auth)
    assert response.status_code == 200 and policy(response)["default-src"] == "'self'"
