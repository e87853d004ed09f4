"""What ``qportal`` prints: plain-text tables, a job's results, the portal's errors, and the line
that shows a job's progress while the command waits for it. Standard library only, like the
command line itself.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from portal_client.errors import InvalidParams, PortalError
from portal_client.statuses import FINAL_STATUSES


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> str:
    """A plain-text table: a header line, then a line per row; columns in ``right`` right-aligned."""
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    lines = []
    for row in cells:
        parts = [
            cell.rjust(w) if c in right else cell.ljust(w) for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _entry_error(error: dict[str, Any]) -> str:
    return f"error {error.get('code')}: {error.get('message')}"


def format_results(job: dict[str, Any]) -> str:
    """A job's results as ``results`` prints them: a heading, then per entry its counts (most frequent
    first) or its QUBO solutions (best first), or the entry's error."""
    heading = f"job {job['job_id']}  {job['job_status']}  backend {job.get('backend')}"
    if job.get("job_name"):
        heading += f"  name {job['job_name']}"
    if job.get("dry_run"):
        heading += "  (dry run: random counts)"
    lines = [heading]
    entries = job.get("results") or []
    total = len(job.get("source_code") or []) or len(entries)
    if job["job_status"] not in FINAL_STATUSES:
        lines.append(f"{len(entries)} of {total} entries done, progress {job.get('progress', 0)}%")
    elif not entries:
        lines.append("no results")
    for index, entry in enumerate(entries):
        if entry.get("error"):
            lines.append(f"entry {index}: {_entry_error(entry['error'])}")
            continue
        results = entry.get("results")
        if isinstance(results, dict) and all(isinstance(count, int) for count in results.values()):
            shots = sum(results.values())
            qubits = f", {entry['num_qubits']} qubits" if entry.get("num_qubits") is not None else ""
            lines.append(f"entry {index}: {shots} shots{qubits}")
            counts = sorted(results.items(), key=lambda item: (-item[1], item[0]))
            rows = [(bits, count, f"{count / shots:.4f}") for bits, count in counts]
            lines.append(indent(table(("bitstring", "count", "probability"), rows, right=(1, 2))))
        elif isinstance(results, list) and all(isinstance(s, dict) and "solutionVector" in s for s in results):
            lines.append(f"entry {index}: {len(results)} solutions")
            rows = [
                (
                    solution.get("result"),
                    number(solution.get("quboValue")),
                    number(solution.get("maxcutValue")),
                    "".join(str(bit) for bit in solution["solutionVector"]),
                )
                for solution in results
            ]
            headers = ("rank", "quboValue", "maxcutValue", "solutionVector")
            lines.append(indent(table(headers, rows, right=(0, 1, 2))))
        else:  # estimates (job_type "estimation") or whatever else a driver answers: shown as it is
            lines.append(f"entry {index}:")
            lines.append(indent(json.dumps(results, indent=2, ensure_ascii=False)))
    return "\n".join(lines)


def print_err(message: str) -> None:
    print(message, file=sys.stderr)


def print_portal_error(exc: PortalError) -> None:
    print_err(f"error: {exc}")
    if isinstance(exc, InvalidParams):
        for field in exc.errors:
            line = f"{field.get('field')}: {field.get('message')}"
            if line not in exc.message:
                print_err(f"  {line}")
    elif exc.details and exc.details != exc.message:
        print_err(f"  {exc.details}")


class ProgressLine:
    """Shows a job's changes as they come: on a terminal one line redrawn in place and cleared at the
    end (what follows says how the job ended), elsewhere a line per change, kept as a log."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.tty = stream.isatty()
        self.last: str | None = None

    def show(self, text: str) -> None:
        if text == self.last:
            return
        self.last = text
        if self.tty:
            self.stream.write(f"\r\033[K{text}")
        else:
            self.stream.write(f"{text}\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty and self.last is not None:
            self.stream.write("\r\033[K")
            self.stream.flush()
        self.last = None


def describe(data: dict[str, Any]) -> str:
    """``<job id>  <STATUS>`` plus the progress while running, the queue position while queued."""
    status = data.get("job_status")
    text = f"{data.get('job_id')}  {status}"
    if status == "QUEUED" and data.get("queue_position") is not None:
        text += f"  queue position {data['queue_position']}"
    elif status in ("RUNNING", "CANCELLING") and data.get("progress") is not None:
        text += f"  {data['progress']}%"
    return text
