"""``qportal`` (also ``python -m portal_client``): the portal from the command line (SPEC §11).

The portal's address and token come from ``--url`` / ``--token`` or ``PORTAL_URL`` / ``PORTAL_TOKEN``.
``--json`` prints what the JSON-RPC method answered, as it answered it.

Exit statuses:

- 0: done;
- 1: the portal answered an error, or could not be reached (``error: <message> [<code> <error_code>]``);
- 2: a usage error: bad arguments, a missing or malformed input file, no portal URL;
- 3: a job waited for or asked about ended FAILED, CANCELLED or DELETED;
- 4: a job is not final yet: ``wait`` timed out, or ``results`` of a job still queued or running.

Only the standard library and ``portal_client`` itself: ``requests`` is imported when a command talks
to the portal, qiskit (through ``PortalJob``) only when one waits for a job. What the commands print
is made in ``portal_client.cli_output``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from portal_client import __version__
from portal_client.cli_output import (
    ProgressLine,
    describe,
    format_results,
    indent,
    number,
    print_err,
    print_json,
    print_portal_error,
    table,
)
from portal_client.errors import JobTimeout, NotFound, PortalError
from portal_client.files import InputFileError, read_sources
from portal_client.statuses import FINAL_STATUSES, UNSUCCESSFUL_STATUSES

if TYPE_CHECKING:
    from portal_client.api import PortalClient
    from portal_client.job import PortalJob

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_JOB_FAILED = 3
EXIT_NOT_FINAL = 4


# How often wait polls when the portal's events stream is not available.
POLL_SECONDS = 2.0


class UsageError(Exception):
    """Something the user gave cannot be used (a file, a value): exit 2 with the message."""


def _driver_option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more seconds")
    return value


def _exit_for(status: str) -> int:
    if status in UNSUCCESSFUL_STATUSES:
        return EXIT_JOB_FAILED
    if status not in FINAL_STATUSES:
        return EXIT_NOT_FINAL
    return EXIT_OK


# --- waiting ---------------------------------------------------------------------------------------


def wait_for(job: PortalJob, deadline: float | None, progress: ProgressLine) -> str:
    """Wait until ``job`` is final, showing each change; answers its final status (JobTimeout past ``deadline``)."""
    if job.data.get("job_status") not in FINAL_STATUSES:
        progress.show(describe(job.data))

    def changed(job_id: str, status: Any, job: PortalJob) -> None:
        progress.show(describe({**job.data, "job_id": job_id}))

    try:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        job.wait_for_final_state(timeout=timeout, wait=POLL_SECONDS, callback=changed)
    finally:
        progress.end()
    return job.data["job_status"]


def _submitted_job(client: PortalClient, submitted: dict[str, Any]) -> PortalJob:
    from portal_client.job import PortalJob  # imports qiskit: only when waiting

    return PortalJob.from_submitted(client, submitted)


# --- commands --------------------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> PortalClient:
    url = getattr(args, "url", None) or os.environ.get("PORTAL_URL")
    if not url:
        raise UsageError("no portal URL: set PORTAL_URL or pass --url")
    if not re.match(r"https?://", url):
        raise UsageError(f"the portal URL must start with http:// or https://, not {url!r}")
    token = getattr(args, "token", None) or os.environ.get("PORTAL_TOKEN") or None
    from portal_client.api import PortalClient

    return PortalClient(url, token)


def _same_id(job_id: str) -> str:
    try:
        return str(uuid.UUID(job_id))
    except ValueError:
        return job_id


def cmd_submit(args: argparse.Namespace) -> int:
    if args.timeout is not None and not args.wait:
        raise UsageError("--timeout goes with --wait")
    code_type, sources = read_sources(args.files)
    client = _client(args)
    submitted = client.submit_job(
        code_type=code_type,
        source_code=sources,
        backend=args.backend,
        shots=args.shots,
        job_priority=args.priority,
        tags=args.tags,
        job_name=args.name,
        description=args.description,
        dry_run=True if args.dry_run else None,
        use_timeslot=True if args.use_timeslot else None,
        driver_options=dict(args.driver_options) if args.driver_options else None,
    )
    if not args.wait:
        if args.json:
            print_json(submitted)
        else:
            print(submitted["job_id"])
        return EXIT_OK
    job = _submitted_job(client, submitted)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    try:
        wait_for(job, deadline, ProgressLine(sys.stderr))
    except JobTimeout as exc:
        print(submitted["job_id"])
        print_err(f"error: {exc}")
        return EXIT_NOT_FINAL
    return _show_results(client.get_job_results(submitted["job_id"]), as_json=args.json)


def _show_results(job: dict[str, Any], *, as_json: bool) -> int:
    if as_json:
        print_json(job)
    else:
        print(format_results(job))
    if job["job_status"] not in FINAL_STATUSES and not as_json:
        print_err(f"job {job['job_id']} is {job['job_status']}: its results are not all in yet")
    return _exit_for(job["job_status"])


def cmd_results(args: argparse.Namespace) -> int:
    return _show_results(_client(args).get_job_results(args.job_id), as_json=args.json)


def cmd_status(args: argparse.Namespace) -> int:
    client = _client(args)
    jobs = [client.get_job_status(job_id) for job_id in args.job_ids]
    if args.json:
        print_json(jobs[0] if len(jobs) == 1 else jobs)
    else:
        rows = [
            (
                job["job_id"],
                job["job_status"],
                f"{job.get('progress', 0)}%",
                job.get("queue_position") if job.get("queue_position") is not None else "-",
                job.get("backend") or "-",
                job.get("job_name") or "",
            )
            for job in jobs
        ]
        print(table(("job_id", "status", "progress", "queue", "backend", "name"), rows, right=(2, 3)))
    # A job still queued or running is a fine thing to be asked about; one that ended badly is not.
    return EXIT_JOB_FAILED if any(job["job_status"] in UNSUCCESSFUL_STATUSES for job in jobs) else EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    statuses = [part.strip().upper() for value in args.status or () for part in value.split(",") if part.strip()]
    jobs = _client(args).get_jobs(
        job_status=(statuses[0] if len(statuses) == 1 else statuses) or None,
        backend=args.backend,
        tags=args.tags,
        code_type=args.code_type,
        limit=args.limit,
    )
    if args.json:
        print_json(jobs)
        return EXIT_OK
    if not jobs:
        print_err("no jobs match")
        return EXIT_OK
    rows = [
        (
            job["job_id"],
            job["job_status"],
            job.get("backend") or "-",
            job.get("code_type") or "-",
            (job.get("created_at") or "")[:19].replace("T", " "),
            job.get("job_name") or "",
            ",".join(job.get("tags") or []),
        )
        for job in jobs
    ]
    print(table(("job_id", "status", "backend", "code_type", "created", "name", "tags"), rows))
    return EXIT_OK


def _act(args: argparse.Namespace, action: Callable[[PortalClient, list[str]], list[dict]], done: str) -> int:
    """cancel / delete: a line per job acted on, in the order given; for each of the others, an error
    saying why not."""
    client = _client(args)
    answered = action(client, args.job_ids)
    if args.json:
        print_json(answered)
    acted = {item["job_id"]: item for item in answered}
    status = EXIT_OK
    for job_id in args.job_ids:
        item = acted.get(_same_id(job_id))
        if item is not None:
            if not args.json:
                print(f"{item['job_id']}  {item['job_status']}")
            continue
        status = EXIT_ERROR
        try:
            current = client.get_job_status(job_id)["job_status"]
        except NotFound:
            print_err(f"error: job {job_id} not found")
        else:
            print_err(f"error: job {job_id} not {done}: it is {current}")
    return status


def cmd_cancel(args: argparse.Namespace) -> int:
    return _act(args, lambda client, ids: client.cancel_jobs(ids), "cancelled")


def cmd_delete(args: argparse.Namespace) -> int:
    return _act(args, lambda client, ids: client.delete_jobs(ids), "deleted")


def cmd_wait(args: argparse.Namespace) -> int:
    client = _client(args)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    progress = ProgressLine(sys.stderr)
    status = EXIT_OK
    for job_id in args.job_ids:
        job = client.job(job_id)  # imports qiskit: only when waiting
        try:
            final = wait_for(job, deadline, progress)
        except JobTimeout as exc:
            print_err(f"error: {exc}")
            return EXIT_NOT_FINAL
        print(describe(job.data))
        if final == "FAILED":
            print_err(indent(job.error_message() or "The job failed."))
        status = max(status, _exit_for(final))
    return status


def cmd_backends(args: argparse.Namespace) -> int:
    backends = _client(args).get_backends()
    if args.json:
        print_json(backends)
        return EXIT_OK
    rows = [
        (
            backend["name"],
            backend.get("status") or "-",
            ",".join(backend.get("code_types") or []),
            number(backend.get("max_qubits")),
            number(backend.get("max_variables")),
            number(backend.get("queue_length")),
        )
        for backend in backends
    ]
    print(table(("name", "status", "code_types", "max_qubits", "max_variables", "queued"), rows, right=(3, 4, 5)))
    return EXIT_OK


# --- the parser ------------------------------------------------------------------------------------

EPILOG = """\
environment:
  PORTAL_URL    the portal's address, e.g. http://127.0.0.1:8000 (or --url)
  PORTAL_TOKEN  an API token (or --token)

exit status:
  0  done
  1  the portal answered an error, or could not be reached
  2  usage error: bad arguments, an unreadable or malformed file, no portal URL
  3  a job ended FAILED, CANCELLED or DELETED
  4  a job is not final yet (wait --timeout passed; results of a queued or running job)
"""


def build_parser() -> argparse.ArgumentParser:
    # --url and --token go before or after the command; SUPPRESS keeps a subcommand's parser from
    # overwriting, with its default, a value given before the command.
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument("--url", default=argparse.SUPPRESS, help="the portal's address (default: $PORTAL_URL)")
    connection.add_argument("--token", default=argparse.SUPPRESS, help="an API token (default: $PORTAL_TOKEN)")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print the API's own JSON answer")

    parser = argparse.ArgumentParser(
        prog="qportal",
        description="Submit, follow and manage jobs on the quantum job portal.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[connection],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], help: str, *parents):
        sub = commands.add_parser(name, help=help, description=help, parents=[connection, *parents])
        sub.set_defaults(handler=handler)
        return sub

    submit = command(
        "submit",
        cmd_submit,
        "Submit one job: .qasm circuits, or .json / .csv QUBO matrices, one entry per file; prints its id.",
        as_json,
    )
    submit.add_argument("files", nargs="+", metavar="FILE", help=".qasm, .json or .csv file")
    submit.add_argument("--backend", "-b", required=True, help="the backend to run on (see: qportal backends)")
    submit.add_argument("--shots", type=_positive_int, help="shots per circuit (the portal's default: 1024)")
    submit.add_argument("--priority", type=int, metavar="1..10", help="1 runs first (default 5)")
    submit.add_argument("--tag", action="append", dest="tags", metavar="TAG", help="a tag (repeat for more)")
    submit.add_argument("--name", help="the job's name")
    submit.add_argument("--description", help="the job's description")
    submit.add_argument(
        "--driver-option",
        "-o",
        action="append",
        dest="driver_options",
        type=_driver_option,
        metavar="KEY=VALUE",
        help="a driver option, VALUE as JSON where it parses (e.g. -o seed=7 -o num_reads=200)",
    )
    submit.add_argument("--dry-run", action="store_true", help="parse and transpile only; counts are random")
    submit.add_argument(
        "--use-timeslot", action="store_true", help="run only in a timeslot booked for the job's project"
    )
    submit.add_argument("--wait", action="store_true", help="wait for the job, then print its results")
    submit.add_argument("--timeout", type=_seconds, metavar="S", help="with --wait: give up after S seconds")

    status = command("status", cmd_status, "A line per job: status, progress, queue position, backend, name.", as_json)
    status.add_argument("job_ids", nargs="+", metavar="JOB_ID")

    results = command("results", cmd_results, "A job's results: counts per circuit, or QUBO solutions.", as_json)
    results.add_argument("job_id", metavar="JOB_ID")

    listing = command("list", cmd_list, "Your jobs, newest first.", as_json)
    listing.add_argument("--status", action="append", metavar="S", help="QUEUED, RUNNING, COMPLETED... (repeatable)")
    listing.add_argument("--backend", help="only jobs of this backend")
    listing.add_argument("--tag", action="append", dest="tags", metavar="T", help="only jobs with this tag (all given)")
    listing.add_argument("--code-type", help="qasm, qasm2, qasm3 or qubo")
    listing.add_argument("--limit", type=_positive_int, metavar="N", help="at most N jobs (the portal's default: 100)")

    cancel = command("cancel", cmd_cancel, "Cancel queued jobs.", as_json)
    cancel.add_argument("job_ids", nargs="+", metavar="JOB_ID")

    delete = command("delete", cmd_delete, "Delete jobs (not while running): their source and results go.", as_json)
    delete.add_argument("job_ids", nargs="+", metavar="JOB_ID")

    wait = command("wait", cmd_wait, "Wait for jobs to end, showing their progress.")
    wait.add_argument("job_ids", nargs="+", metavar="JOB_ID")
    wait.add_argument("--timeout", type=_seconds, metavar="S", help="give up after S seconds (exit status 4)")

    command("backends", cmd_backends, "The backends: status, code types, sizes, queue length.", as_json)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.handler(args)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_USAGE)
    except (UsageError, InputFileError) as exc:
        print_err(f"error: {exc}")
        return EXIT_USAGE
    except PortalError as exc:
        print_portal_error(exc)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print_err("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (qportal list | head): say nothing more, and let Python's final
        # flush of stdout go nowhere rather than fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
