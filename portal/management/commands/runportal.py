"""``manage.py runportal``: the whole portal on one machine (SPEC §8).

Migrates, makes sure Redis is there, bootstraps an admin and a demo project on an empty
database, then supervises a gunicorn web server and N RQ workers until Ctrl-C or SIGTERM.

The first start's credentials (the admin's password, the demo API token) are printed only to a
terminal; when stdout is a pipe or a file (a service manager's log, ``runportal > log``) they go to a
new file under ``var/`` that only its owner can read, and only that file's path is printed.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TextIO

import psutil
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.http.request import validate_host

from jobs import live
from portal import embedded_redis
from portal.metrics import forget_dead_processes

logger = logging.getLogger("portal.runportal")

POLL_INTERVAL = 0.5
# gunicorn's own graceful timeout is shorter, so it finishes in-flight requests before we escalate.
STOP_TIMEOUT = 10.0
GUNICORN_GRACEFUL_TIMEOUT = 8
# A worker that keeps crashing on start is retried ever more slowly instead of spinning.
RESTART_BACKOFF_MIN = 1.0
RESTART_BACKOFF_MAX = 30.0
# A worker that ran at least this long before dying crashed "for real", not on start-up.
HEALTHY_UPTIME = 30.0
DEFAULT_WORKER_CLASS = "jobs.worker.JobWorker"

# var/first-start-credentials.txt, or -2, -3, ... when an earlier one is still there.
CREDENTIALS_FILE_STEM = "first-start-credentials"
CREDENTIALS_FILES_MAX = 100

DEMO_SOURCE = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'


@dataclass
class Child:
    name: str
    argv: list[str]
    critical: bool  # the web server: its death ends runportal; a worker is restarted instead
    popen: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = RESTART_BACKOFF_MIN
    restart_at: float | None = None
    tree: list[psutil.Process] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # beside runportal's own environment


class _StopRequested(BaseException):
    """Ctrl-C or SIGTERM before the supervisor runs (its own handler stops the children after). A
    BaseException, as KeyboardInterrupt is: a library's ``except Exception`` must not swallow it."""


_stop_signal: int | None = None  # the signal, should something swallow _StopRequested all the same


def _stop_starting(signum: int, frame: FrameType | None) -> None:
    global _stop_signal
    _stop_signal = signum
    raise _StopRequested(signum)


class Command(BaseCommand):
    help = "Run the whole portal: migrations, Redis (embedded unless REDIS_URL), gunicorn and RQ workers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to bind the web server to")
        parser.add_argument("--port", type=int, default=8000, help="port of the web server")
        parser.add_argument("--workers", type=int, default=2, help="job workers to run (0: web only)")
        parser.add_argument("--no-web", action="store_true", help="run the workers only, no web server")
        parser.add_argument(
            "--web-workers", type=int, default=os.cpu_count() or 1,
            help="web server processes (default: one per CPU), each with WEB_THREADS threads",
        )  # fmt: skip

    def handle(self, *args, host: str, port: int, workers: int, no_web: bool, web_workers: int, **options) -> None:
        if workers < 0:
            raise CommandError("--workers must be 0 or more")
        if web_workers < 1:
            raise CommandError("--web-workers must be 1 or more")
        if no_web and workers == 0:
            raise CommandError("--no-web with --workers 0 leaves nothing to run")

        # Until the supervisor takes the signals over, Ctrl-C or SIGTERM stops the start-up cleanly too.
        previous = {sig: signal.signal(sig, _stop_starting) for sig in (signal.SIGINT, signal.SIGTERM)}
        exit_code = 0
        try:
            # The embedded Redis (REDIS_URL unset), leased for as long as this runs: the last runportal
            # of the folder to stop stops it.
            if settings.EMBEDDED_REDIS:
                embedded_redis.acquire(settings.BASE_DIR)
            forget_dead_processes(settings.METRICS_DIR)
            call_command("migrate", interactive=False, verbosity=0)
            if not no_web:
                # The production server does not serve app static files itself; WhiteNoise serves
                # STATIC_ROOT, so the admin would be unstyled without this.
                call_command("collectstatic", interactive=False, verbosity=0)
            self._print_banner(host, port, no_web)
            children = _build_children(host, port, workers, no_web, web_workers)
            if _stop_signal is not None:  # seen in CI: a stop asked for while starting, lost on the way
                raise _StopRequested(_stop_signal)
            exit_code = Supervisor(children).run()
        except _StopRequested as stop:
            logger.info("received %s while starting, stopping", signal.Signals(stop.args[0]).name)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if settings.EMBEDDED_REDIS and embedded_redis.release(settings.BASE_DIR):
                logger.info("stopped the embedded Redis")
        if exit_code:
            raise CommandError("stopped because the web server died", returncode=exit_code)

    def _print_banner(self, host: str, port: int, no_web: bool) -> None:
        base_url = f"http://{_url_host(host)}:{port}"
        write = self.stdout.write
        write("")
        if no_web:
            write(self.style.SUCCESS("Quantum job portal: workers only (no web server)"))
        else:
            write(self.style.SUCCESS(f"Quantum job portal: {base_url}/"))
        # One transaction: credentials that could not be handed over (the file not written) are not
        # created either, and the next start tries again.
        with transaction.atomic():
            bootstrap = _bootstrap_if_empty()
            if bootstrap is not None:
                write("")
                report_first_start(self.stdout, first_start_lines(base_url, *bootstrap), Path(settings.VAR_DIR))
        if not no_web and not validate_host(_url_host(host), settings.ALLOWED_HOSTS):
            write(self.style.WARNING(f"{_url_host(host)} is not in ALLOWED_HOSTS; requests to it will get 400."))
        write("")
        write("Press Ctrl-C to stop.")
        write("")
        self.stdout.flush()


def _bootstrap_if_empty() -> tuple[str, str, str] | None:
    """On a database without any user, create admin + demo project + token; else do nothing."""
    # Imported here: models are not loaded when this module is imported by the command loader.
    from projects.models import Role, User
    from projects.services import membership_set, project_create, token_create, user_create

    with transaction.atomic():
        if User.objects.exists():
            return None
        password = secrets.token_urlsafe(12)
        admin = user_create(username="admin", password=password, is_staff=True)
        project = project_create(slug="demo", name="Demo project")
        membership_set(project=project, user=admin, role=Role.ADMIN)
        _token, raw = token_create(user=admin, project=project, name="demo")
    return admin.username, password, raw


def first_start_lines(base_url: str, username: str, password: str, token: str) -> list[str]:
    """What the first start tells its operator: where to sign in, as whom, and a job to submit."""
    return [
        "First start: created an admin account, a 'demo' project and an API token for it.",
        "They are shown only this once.",
        f"  admin login:    {base_url}/admin/login/",
        f"  username:       {username}",
        f"  password:       {password}",
        f"  demo API token: {token}",
        "",
        "Submit a job:",
        "  " + _curl_submit_example(base_url, token),
    ]


def report_first_start(out: TextIO, lines: list[str], var_dir: Path) -> Path | None:
    """Hand the first start's credentials over: printed to ``out`` when it is a terminal; otherwise
    written to a new owner-only file under ``var_dir`` whose path alone is printed, so that a password
    never lands in a log that others may read. Returns that file's path (None when printed)."""
    if out.isatty():
        for line in lines:
            out.write(line + "\n")
        return None
    path = _write_private_file(var_dir, "\n".join(lines) + "\n")
    out.write("First start: created an admin account, a 'demo' project and an API token for it.\n")
    out.write("Their password and token are in a file only this user can read (read it, then delete it):\n")
    out.write(f"  {path}\n")
    return path


def _write_private_file(directory: Path, text: str) -> Path:
    """Write ``text`` to a new file in ``directory`` that is 0600 from the moment it exists.

    O_EXCL: an existing file is never overwritten nor a symlink followed; the next free name is taken
    instead (an earlier first start's file may still be there, or belong to another database).
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot create {directory} for the first-start credentials: {exc}") from exc
    for number in range(1, CREDENTIALS_FILES_MAX + 1):
        suffix = "" if number == 1 else f"-{number}"
        path = directory / f"{CREDENTIALS_FILE_STEM}{suffix}.txt"
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise CommandError(f"cannot create {path} for the first-start credentials: {exc}") from exc
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise CommandError(f"cannot write the first-start credentials to {path}: {exc}") from exc
        return path
    raise CommandError(
        f"{directory} holds {CREDENTIALS_FILES_MAX} {CREDENTIALS_FILE_STEM}*.txt files already: delete them"
    )


def _curl_submit_example(base_url: str, token: str) -> str:
    """A curl command that submits a Bell-state circuit; shlex.quote keeps it paste-safe."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "submit_job",
        "params": {"body": {"code_type": "qasm2", "source_code": [DEMO_SOURCE], "backend": "dummy", "shots": 1000}},
    }
    argv = [
        "curl", "-s",
        "-H", f"Authorization: Bearer {token}",
        "-H", "Content-Type: application/json",
        "-d", json.dumps(body, separators=(",", ":")),
        f"{base_url}/v1/job/submit_job",
    ]  # fmt: skip
    return shlex.join(argv)


def _url_host(host: str) -> str:
    """The host to put in a URL: a wildcard bind is reached on loopback, IPv6 goes in brackets."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def _build_children(host: str, port: int, workers: int, no_web: bool, web_workers: int = 1) -> list[Child]:
    python = sys.executable
    manage = str(Path(settings.BASE_DIR) / "manage.py")
    # Overridable so the command can run before (or without) the portal's own worker class.
    worker_class = os.environ.get("PORTAL_WORKER_CLASS", DEFAULT_WORKER_CLASS)
    children: list[Child] = []
    if not no_web:
        # Bind to what was asked (0.0.0.0 included); only IPv6 needs brackets in gunicorn's syntax.
        bind = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
        gunicorn = [
            python, "-m", "gunicorn", "portal.asgi:application",
            "--bind", bind,
            "--chdir", str(settings.BASE_DIR),
            # ASGI (uvicorn) workers: an open event stream (/v1/job/<id>/events) is a coroutine, not
            # a thread, so hundreds of them never starve ordinary requests, which run on a pool of
            # WEB_THREADS threads per process (portal/asgi.py).
            "--worker-class", "uvicorn_worker.UvicornWorker", "--workers", str(web_workers),
            "--timeout", "120",  # large job uploads (MAX_REQUEST_BYTES) on slow links
            "--graceful-timeout", str(GUNICORN_GRACEFUL_TIMEOUT),
            "--keep-alive", "5",
            "--access-logfile", "-",
            # Its default socket path is per user, not per portal, so two portals would collide.
            "--no-control-socket",
        ]  # fmt: skip
        # Its event streams listen for this instance's server_cancel (jobs.live), sent before it is stopped.
        children.append(Child("web", gunicorn, critical=True, env={"PORTAL_INSTANCE": secrets.token_hex(8)}))
    # --with-scheduler: retries with a delay (callbacks) and enqueue_in need a scheduler; RQ
    # elects one per queue among the workers, so giving it to all of them is harmless.
    rqworker = [python, manage, "rqworker", "--worker-class", worker_class, "--with-scheduler"]
    for index in range(1, workers + 1):
        # The drawings queue last: a worker draws only when no job is waiting.
        queues = [*settings.JOB_QUEUE_NAMES, settings.DRAWING_QUEUE_NAME]
        children.append(Child(f"worker-{index}", [*rqworker, *queues], critical=False))
    if workers > 0:
        # Callbacks get their own worker so a slow receiver never delays a job, nor a long job a callback.
        children.append(Child("callbacks", [*rqworker, settings.CALLBACK_QUEUE_NAME], critical=False))
    return children


def _child_preexec() -> None:
    # Runs in the child between fork and exec. If runportal is killed outright (SIGKILL) its
    # children would otherwise live on as orphans; the kernel sends them SIGTERM instead.
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Supervisor:
    """Starts the children, restarts workers that die, and stops everything on a signal."""

    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.stop = threading.Event()
        self.force = threading.Event()
        self.exit_code = 0

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for child in self.children:
                self._spawn(child)
            while not self.stop.wait(POLL_INTERVAL):
                self._check_children()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.exit_code

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.is_set():
            self.force.set()  # a second Ctrl-C: do not wait for anyone any more
            return
        logger.info("received %s, stopping", signal.Signals(signum).name)
        self.stop.set()

    def _spawn(self, child: Child) -> None:
        logger.info("starting %s: %s", child.name, shlex.join(child.argv))
        child.popen = subprocess.Popen(
            child.argv,
            cwd=settings.BASE_DIR,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **child.env},
            # Own process group: the terminal's Ctrl-C reaches runportal alone, which then stops
            # the children in order (a second SIGINT would make RQ abandon a running job).
            process_group=0,
            preexec_fn=_child_preexec,
        )
        child.started_at = time.monotonic()
        child.restart_at = None

    def _check_children(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.popen is None:
                if child.restart_at is not None and now >= child.restart_at:
                    self._spawn(child)
                continue
            code = child.popen.poll()
            if code is None:
                # Kept fresh so that if this child dies, its own children (RQ's scheduler and work
                # horse, gunicorn's workers) can still be found and do not live on as orphans.
                child.tree = _descendants(child.popen.pid)
                continue
            if child.critical:
                logger.error("%s exited unexpectedly with status %s; shutting down", child.name, code)
                self.exit_code = 1
                self.stop.set()
                return
            if now - child.started_at >= HEALTHY_UPTIME:
                child.backoff = RESTART_BACKOFF_MIN
            logger.warning("%s exited with status %s; restarting in %.0f s", child.name, code, child.backoff)
            _kill_leftovers(child)
            child.popen = None
            child.restart_at = now + child.backoff
            child.backoff = min(child.backoff * 2, RESTART_BACKOFF_MAX)

    def _stop_all(self) -> None:
        running = [c for c in self.children if c.popen is not None and c.popen.poll() is None]
        for child in running:
            if "PORTAL_INSTANCE" in child.env:
                # First, so the streams end with server_cancel rather than being cut mid-way.
                live.announce_server_cancel(child.env["PORTAL_INSTANCE"], "the server is stopping")
        for child in running:
            child.tree = _descendants(child.popen.pid)
            _signal_group(child.popen, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        # Halfway, a second SIGTERM turns an RQ warm shutdown (waiting for the running job) into a
        # cold one that takes its work horse down properly, before SIGKILL has to.
        second_term_at = time.monotonic() + STOP_TIMEOUT / 2
        sent_second = False
        while any(c.popen.poll() is None for c in running) and time.monotonic() < deadline:
            if self.force.wait(0.1):
                break
            if not sent_second and time.monotonic() >= second_term_at:
                for child in running:
                    if child.popen.poll() is None:
                        _signal_group(child.popen, signal.SIGTERM)
                sent_second = True
        # Every child, not just the running ones: a web server that died has left its workers.
        for child in self.children:
            if child.popen is None:
                continue
            if child.popen.poll() is None:
                logger.warning("%s did not stop in time; killing it", child.name)
                _signal_group(child.popen, signal.SIGKILL)
            child.popen.wait()
            _kill_leftovers(child)


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _kill_leftovers(child: Child) -> None:
    """SIGKILL whatever is left of a child's process tree once the child itself has exited."""
    for proc in child.tree:
        try:
            # is_running compares start times, so a reused pid is left alone; a zombie has exited
            # already and only waits for init to reap it.
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                logger.warning("killing %s's leftover process %s", child.name, proc.pid)
                proc.kill()
        except psutil.Error:
            pass
    child.tree = []


def _signal_group(popen: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        os.killpg(popen.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
