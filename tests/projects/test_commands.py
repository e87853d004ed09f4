"""The operators' management commands (SPEC §8), through ``call_command``: what they print and what they store."""

from __future__ import annotations

import io
import os
import re
import stat
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError
from django.test import RequestFactory
from django.utils import timezone

from backends.models import Backend
from projects.models import ApiToken, Membership, Project, Role, User
from projects.services import membership_set
from tests.conftest import error_of, result_of
from tests.factories import BELL, Tenant, make_project, make_user

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    """Call a command; its (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def printed(*args: str) -> str:
    """Call a command that prints one value; that value, checked to be alone on stdout."""
    out, _ = run(*args)
    lines = out.splitlines()
    assert len(lines) == 1, out
    assert lines[0] == lines[0].strip()
    return lines[0]


def member_with_token(*, role: str = Role.MEMBER) -> tuple[User, Project, str]:
    """A user in a project and a token for them, all made by the commands."""
    user_id = printed("create_user", f"u{uuid.uuid4().hex[:8]}")
    user = User.objects.get(user_id=user_id)
    project = Project.objects.get(project_id=printed("create_project", f"p{uuid.uuid4().hex[:8]}"))
    run("add_member", project.slug, user.username, "--role", role)
    token = printed("create_token", user.username)
    return user, project, token


# --- create_user -------------------------------------------------------------------------------


def test_create_user_prints_the_user_id_alone():
    """``create_user`` prints exactly one line: the new row's user_id, a UUID."""
    user_id = printed("create_user", "alice")
    user = User.objects.get(username="alice")
    assert uuid.UUID(user_id) == user.user_id
    assert user_id == str(user.user_id)
    assert not user.is_staff


def test_create_user_staff():
    """``--staff`` makes an operator."""
    printed("create_user", "olga", "--staff")
    assert User.objects.get(username="olga").is_staff


def test_create_user_password_lets_the_user_sign_in():
    """``--password`` sets a password that ``authenticate`` accepts (and no other)."""
    printed("create_user", "bob", "--password", "correct horse battery")
    user = User.objects.get(username="bob")
    assert user.check_password("correct horse battery")
    # With a request, as every sign-in has one: the sign-in throttle (django-axes) refuses calls without.
    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request, username="bob", password="correct horse battery") == user
    assert authenticate(request, username="bob", password="wrong") is None


def test_create_user_without_password_cannot_sign_in_with_one():
    """Without ``--password`` the account has no usable password (tokens only)."""
    printed("create_user", "robot")
    assert not User.objects.get(username="robot").has_usable_password()


def test_create_user_duplicate_username_is_a_command_error():
    """A second user of the same name is a CommandError naming the problem, not an IntegrityError."""
    printed("create_user", "carol")
    with pytest.raises(CommandError) as excinfo:
        run("create_user", "carol")
    assert "already exists" in str(excinfo.value)
    assert not isinstance(excinfo.value.__cause__, IntegrityError)
    assert "Traceback" not in str(excinfo.value)
    assert User.objects.filter(username="carol").count() == 1


def test_create_user_invalid_username_is_a_command_error():
    """A username Django refuses is a CommandError, and no user is made."""
    with pytest.raises(CommandError, match="username"):
        run("create_user", "not a valid name!")
    assert not User.objects.filter(username="not a valid name!").exists()


# --- create_project ----------------------------------------------------------------------------


def test_create_project_prints_the_project_id_alone():
    """``create_project`` prints exactly the new project's project_id; the name defaults to the slug."""
    project_id = printed("create_project", "lab")
    project = Project.objects.get(slug="lab")
    assert project_id == str(project.project_id)
    assert project.name == "lab"


def test_create_project_name_and_max_queued():
    """``--name`` and ``--max-queued`` are stored."""
    printed("create_project", "physics", "--name", "Physics Lab", "--max-queued", "7")
    project = Project.objects.get(slug="physics")
    assert project.name == "Physics Lab"
    assert project.max_queued_jobs == 7


def test_create_project_duplicate_slug_is_a_command_error():
    """A slug already taken is a CommandError, and no second project is made."""
    printed("create_project", "lab")
    with pytest.raises(CommandError, match="already exists"):
        run("create_project", "lab")
    assert Project.objects.filter(slug="lab").count() == 1


# --- add_member --------------------------------------------------------------------------------


def test_add_member_adds_then_changes_the_role():
    """``add_member`` makes a member, and run again with ``--role admin`` changes the same membership."""
    user, project = make_user(), make_project()
    out, err = run("add_member", project.slug, user.username)
    assert out == ""
    assert "member" in err
    membership = Membership.objects.get(user=user, project=project)
    assert membership.role == Role.MEMBER
    run("add_member", project.slug, user.username, "--role", "admin")
    assert Membership.objects.get(user=user, project=project).role == Role.ADMIN
    assert Membership.objects.filter(user=user).count() == 1


def test_add_member_unknown_project_is_a_command_error():
    """An unknown slug is a CommandError naming it."""
    user = make_user()
    with pytest.raises(CommandError, match="nosuchproject"):
        run("add_member", "nosuchproject", user.username)


def test_add_member_unknown_user_is_a_command_error():
    """An unknown username is a CommandError naming it."""
    project = make_project()
    with pytest.raises(CommandError, match="nosuchuser"):
        run("add_member", project.slug, "nosuchuser")
    assert not Membership.objects.filter(project=project).exists()


def test_add_member_invalid_role_is_a_command_error():
    """A role other than admin/member is refused."""
    user, project = make_user(), make_project()
    with pytest.raises(CommandError):
        run("add_member", project.slug, user.username, "--role", "owner")


# --- create_token ------------------------------------------------------------------------------


def test_create_token_prints_a_token_not_stored_in_clear():
    """The token is printed alone, starts with ``qp_``, and no column of its row holds it."""
    user = make_user()
    raw = printed("create_token", user.username)
    assert raw.startswith("qp_")
    assert len(raw) > 20
    token = ApiToken.objects.get(user=user)
    assert token.key_hash != raw
    values = [getattr(token, field.attname) for field in ApiToken._meta.concrete_fields]
    assert raw not in values
    assert all(raw not in str(value) for value in values)
    assert token.project is None
    assert token.scope == ""
    assert token.expires_at is None


def test_create_token_bound_to_a_project():
    """``--project`` binds the token to that project."""
    user, project = make_user(), make_project()
    membership_set(project=project, user=user)
    printed("create_token", user.username, "--project", project.slug)
    assert ApiToken.objects.get(user=user).project == project


def test_create_token_for_a_project_the_user_is_not_in_is_a_command_error():
    """A token cannot be bound to a project its user does not belong to."""
    user, project = make_user(), make_project()
    with pytest.raises(CommandError):
        run("create_token", user.username, "--project", project.slug)
    assert not ApiToken.objects.filter(user=user).exists()


def test_create_token_driver_scope():
    """``--scope driver`` makes a driver-scoped token."""
    user = make_user()
    printed("create_token", user.username, "--scope", "driver")
    assert ApiToken.objects.get(user=user).scope == "driver"


def test_create_token_expires_days():
    """``--expires-days 3`` sets expires_at three days from now."""
    user = make_user()
    printed("create_token", user.username, "--expires-days", "3")
    expires_at = ApiToken.objects.get(user=user).expires_at
    assert abs(expires_at - (timezone.now() + timedelta(days=3))) < timedelta(minutes=1)


def test_create_token_non_positive_expiry_is_a_command_error():
    """``--expires-days 0`` is refused rather than making a token that is already expired."""
    user = make_user()
    with pytest.raises(CommandError, match="expires-days"):
        run("create_token", user.username, "--expires-days", "0")


def test_create_token_unknown_user_is_a_command_error():
    """An unknown username is a CommandError naming it."""
    with pytest.raises(CommandError, match="ghost"):
        run("create_token", "ghost")


def test_created_token_authenticates_json_rpc(rpc):
    """The printed token, sent as a Bearer token, authenticates a ``get_backends`` call."""
    user, project, raw = member_with_token()
    backends = result_of(rpc("get_backends", {}, who=Tenant(user=user, project=project, token=raw)))
    assert "dummy" in [backend["name"] for backend in backends]


# --- revoke_tokens -----------------------------------------------------------------------------


def test_revoke_tokens_makes_the_next_call_unauthenticated(rpc):
    """After ``revoke_tokens`` the very next call with the token answers -401 unauthenticated."""
    user, project, raw = member_with_token()
    who = Tenant(user=user, project=project, token=raw)
    result_of(rpc("get_backends", {}, who=who))
    run("revoke_tokens", user.username)
    error = error_of(rpc("get_backends", {}, who=who))
    assert error["code"] == -401
    assert error["data"]["error_code"] == "unauthenticated"


def test_revoke_tokens_leaves_other_users_tokens():
    """``revoke_tokens`` revokes only the named user's tokens."""
    alice, bob = make_user(), make_user()
    printed("create_token", alice.username)
    printed("create_token", alice.username)
    printed("create_token", bob.username)
    run("revoke_tokens", alice.username)
    assert all(token.revoked_at is not None for token in ApiToken.objects.filter(user=alice))
    assert ApiToken.objects.get(user=bob).revoked_at is None


# --- project_secret ----------------------------------------------------------------------------


def test_project_secret_prints_the_callback_secret_alone():
    """``project_secret`` prints the project's callback secret, and only it."""
    project = make_project()
    assert printed("project_secret", project.slug) == project.callback_secret


def test_project_secret_rotate_changes_it():
    """``--rotate`` stores a new secret and prints that one."""
    project = make_project()
    old = project.callback_secret
    new = printed("project_secret", project.slug, "--rotate")
    project.refresh_from_db()
    assert new != old
    assert project.callback_secret == new


def test_project_secret_unknown_project_is_a_command_error():
    """An unknown slug is a CommandError."""
    with pytest.raises(CommandError, match="nosuchproject"):
        run("project_secret", "nosuchproject")


# --- set_backend_status ------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["paused", "offline", "online"])
def test_set_backend_status_changes_the_status(status):
    """``set_backend_status dummy <status>`` stores that status."""
    Backend.objects.filter(name="dummy").update(status="paused" if status == "online" else "online")
    run("set_backend_status", "dummy", status)
    assert Backend.objects.get(name="dummy").status == status


def test_set_backend_status_unknown_backend_is_a_command_error():
    """An unknown backend is a CommandError naming it."""
    with pytest.raises(CommandError, match="nosuchbackend"):
        run("set_backend_status", "nosuchbackend", "offline")


def test_set_backend_status_invalid_status_is_a_command_error():
    """A status other than online/paused/offline is refused and the backend is unchanged."""
    with pytest.raises(CommandError):
        run("set_backend_status", "dummy", "broken")
    assert Backend.objects.get(name="dummy").status == "online"


def test_offline_backend_refuses_submissions(rpc, tenant):
    """After ``set_backend_status dummy offline`` a submit_job to dummy answers -503 backend_unavailable."""
    run("set_backend_status", "dummy", "offline")
    body = {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}
    error = error_of(rpc("submit_job", {"body": body}, who=tenant))
    assert error["code"] == -503
    assert error["data"]["error_code"] == "backend_unavailable"


# --- runportal's first start -------------------------------------------------------------------


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def first_start(stdout: io.StringIO) -> str:
    """runportal's banner on this (empty) database, as printed to ``stdout``."""
    from portal.management.commands.runportal import Command

    Command(stdout=stdout)._print_banner("127.0.0.1", 8000, no_web=False)
    return stdout.getvalue()


def credentials_in(text: str) -> tuple[str, str]:
    """The (password, token) a first start handed over."""
    password = re.search(r"password: +(\S+)", text).group(1)
    token = re.search(r"demo API token: +(qp_\S+)", text).group(1)
    return password, token


def assert_credentials_work(password: str, token: str) -> None:
    from projects.services import token_authenticate

    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.check_password(password)
    assert token_authenticate(token).user == admin


def test_first_start_without_a_terminal_writes_the_credentials_to_an_owner_only_file(settings, tmp_path, monkeypatch):
    """stdout a pipe or a log: the password and token go to a new var/ file created 0600 (not chmod-ed
    afterwards), and stdout shows only its path."""
    settings.VAR_DIR = tmp_path / "var"

    def no_chmod(*args, **kwargs):
        raise AssertionError("the file must be created 0600, not changed to it")

    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(os, "fchmod", no_chmod)
    previous_umask = os.umask(0)  # so the mode seen is the one the file was created with
    try:
        out = first_start(io.StringIO())
    finally:
        os.umask(previous_umask)
    path = tmp_path / "var" / "first-start-credentials.txt"
    assert f"  {path}\n" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password, token = credentials_in(path.read_text())
    assert_credentials_work(password, token)
    assert password not in out and token not in out and "qp_" not in out
    assert "curl " in path.read_text() and "curl " not in out


def test_first_start_never_overwrites_nor_follows_an_existing_file(settings, tmp_path):
    """An earlier credentials file, or a symlink planted in its place, is left alone: the next name is taken."""
    var = settings.VAR_DIR = tmp_path / "var"
    var.mkdir()
    (var / "first-start-credentials.txt").write_text("an earlier portal's\n")
    target = tmp_path / "elsewhere.txt"
    (var / "first-start-credentials-2.txt").symlink_to(target)
    out = first_start(io.StringIO())
    assert f"  {var / 'first-start-credentials-3.txt'}\n" in out
    assert (var / "first-start-credentials.txt").read_text() == "an earlier portal's\n"
    assert not target.exists()
    assert_credentials_work(*credentials_in((var / "first-start-credentials-3.txt").read_text()))


def test_first_start_on_a_terminal_prints_the_credentials_and_writes_no_file(settings, tmp_path):
    """On a terminal the credentials and the curl example are printed, once, and nothing is written."""
    settings.VAR_DIR = tmp_path / "var"
    out = first_start(Terminal())
    assert_credentials_work(*credentials_in(out))
    assert re.search(r"^  curl .*Bearer qp_", out, re.M)
    assert not (tmp_path / "var").exists()


def test_second_start_hands_over_nothing(settings, tmp_path):
    """With users in the database runportal creates nothing and neither prints nor writes credentials."""
    settings.VAR_DIR = tmp_path / "var"
    first_start(io.StringIO())
    (tmp_path / "var" / "first-start-credentials.txt").unlink()
    out = first_start(io.StringIO())
    assert "First start" not in out and "password" not in out
    assert list((tmp_path / "var").iterdir()) == []
    assert User.objects.count() == 1


def test_first_start_that_cannot_write_its_file_creates_no_account(settings, tmp_path):
    """Credentials that cannot be handed over are not created: a clear CommandError, and the next start
    tries again."""
    settings.VAR_DIR = tmp_path / "not-a-directory"
    settings.VAR_DIR.write_text("")
    with pytest.raises(CommandError, match="first-start credentials"):
        first_start(io.StringIO())
    assert not User.objects.exists()
    assert not Project.objects.filter(slug="demo").exists()
