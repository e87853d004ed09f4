"""How the job page shows each entry of a job: its source, its pictures, and its results (counts as
a histogram, QUBO solutions with their energy chart, estimates and primitives' arrays as key: value),
each bounded whatever the size of the results."""

from __future__ import annotations

import heapq
import json
import math
from typing import Any

from django.urls import reverse

from core.charts import Bar, bar_chart
from drivers.primitives import JOB_TYPES as PRIMITIVE_JOB_TYPES
from jobs.choices import CIRCUIT_CODE_TYPES, FINAL, CodeType
from jobs.models import DrawingStage
from jobs.selectors import job_drawing_notes

# The job page shows each entry's most frequent outcomes (and best QUBO solutions) up to this many and
# says how many more the downloads hold: a wide circuit can have as many distinct outcomes as shots, and
# a page listing a million of them would be megabytes of HTML.
SHOWN_OUTCOMES = 64
# Likewise a source code entry (a large QUBO matrix is megabytes of JSON); Results JSON has it whole.
SHOWN_SOURCE_CHARS = 64 * 1024
# The most bars an energy chart draws (the driver bins into 40).
MAX_ENERGY_BARS = 200


def _histogram(counts: dict[str, int], total: int) -> dict[str, Any]:
    """The counts chart, by bitstring; ``total`` is the sum of all the entry's counts, of which ``counts``
    may be only the most frequent."""
    total = total or 1
    bars = [Bar(bits, n, f"{bits}: {n} ({round(100 * n / total, 1)}%)") for bits, n in sorted(counts.items())]
    return bar_chart(bars)


def _numbers(values: Any, length: int) -> bool:
    return (
        isinstance(values, list)
        and len(values) == length
        and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values)
    )


def _energy_chart(histogram: Any) -> dict[str, Any] | None:
    """The chart of a QUBO entry's ``energy_histogram`` (``drivers.qubo``): reads per energy, lowest first.
    None for anything else: a device reporting through set_job_results may send any metadata."""
    if not isinstance(histogram, dict):
        return None
    counts = histogram.get("counts")
    if not isinstance(counts, list) or not 0 < len(counts) <= MAX_ENERGY_BARS or not _numbers(counts, len(counts)):
        return None
    energies, edges = histogram.get("energies"), histogram.get("bin_edges")
    if _numbers(energies, len(counts)):
        bars = [Bar(f"{e:.4g}", n, f"energy {e:.6g}: {n} reads") for e, n in zip(energies, counts, strict=True)]
    elif _numbers(edges, len(counts) + 1):
        spans = zip(edges, edges[1:], counts, strict=False)
        bars = [Bar(f"{lo:.4g}", n, f"energy {lo:.6g} to {hi:.6g}: {n} reads") for lo, hi, n in spans]
    else:
        return None
    narrow = len(bars) > 16
    return bar_chart(bars, bar_width=22 if narrow else 44, label_every=-(-len(bars) // 10) if narrow else 1)


def _source(source: Any) -> dict[str, Any]:
    """A source code entry as the page shows it: its first SHOWN_SOURCE_CHARS characters."""
    text = source if isinstance(source, str) else json.dumps(source)
    return {"source": text[:SHOWN_SOURCE_CHARS], "source_more": max(len(text) - SHOWN_SOURCE_CHARS, 0)}


def _shortened(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= SHOWN_SOURCE_CHARS else text[:SHOWN_SOURCE_CHARS] + " ..."


def _drawings(job, index: int, notes: dict[tuple[int, str], str]) -> list[dict[str, Any]]:
    """The entry's pictures as submitted and as transpiled: a URL, or the note saying why there is none."""
    drawn = []
    for stage in DrawingStage:
        note = notes.get((index, stage.value))
        if note is None:
            continue
        url = None if note else reverse("jobs:drawing", kwargs={"job_id": job.job_id, "index": index, "stage": stage})
        label = f"As transpiled for {job.backend.name}" if stage == DrawingStage.TRANSPILED else stage.label
        drawn.append({"stage": stage.value, "label": label, "url": url, "note": note})
    return drawn


def page_entries(job, view: dict[str, Any]) -> list[dict[str, Any]]:
    """Each entry's part of the page, bounded whatever the size of its results (SHOWN_OUTCOMES)."""
    sources = view.get("source_code") or []
    notes = job_drawing_notes(job) if job.code_type in CIRCUIT_CODE_TYPES and job.status in FINAL else {}
    entries = []
    ended = {result["index"]: result for result in view["results"]}
    for index, result in sorted(ended.items()):
        entry: dict[str, Any] = {"index": index, "view": result, "kind": "none", "more": 0}
        entry["drawings"] = _drawings(job, index, notes)
        results = result.get("results")
        if index < len(sources):
            entry.update(_source(sources[index]))
        if isinstance(result.get("memory"), list):
            entry["memory_shots"] = len(result["memory"])
        if job.job_type == "estimation" and isinstance(results, dict):
            entry["kind"] = "estimation"
            entry["pairs"] = sorted(results.items())
        elif job.job_type in PRIMITIVE_JOB_TYPES and isinstance(results, dict):
            # Arrays of any size: each field shown as its first SHOWN_SOURCE_CHARS characters of JSON.
            entry["kind"] = "estimation"
            entry["pairs"] = [(key, _shortened(value)) for key, value in results.items()]
        elif job.code_type == CodeType.QUBO and isinstance(results, list):
            entry["kind"] = "qubo"
            entry["energy_chart"] = _energy_chart((result.get("metadata") or {}).get("energy_histogram"))
            entry["solutions"] = results[:SHOWN_OUTCOMES]  # ranked best first by the driver
            entry["more"] = len(results) - len(entry["solutions"])
        elif isinstance(results, dict) and results:
            # The most frequent first, ties by bitstring; nsmallest keeps it O(n log k) for n outcomes.
            shown = heapq.nsmallest(SHOWN_OUTCOMES, results.items(), key=lambda kv: (-kv[1], kv[0]))
            entry["kind"] = "counts"
            entry["histogram"] = _histogram(dict(shown), total=sum(results.values()))
            entry["by_count"] = shown
            entry["more"] = len(results) - len(shown)
            which = f"The {len(shown)} most frequent outcomes" if entry["more"] else "Counts"
            entry["chart_name"] = f"Histogram of counts, entry {index}"
            entry["caption"] = f"{which} by bitstring (Qiskit order: leftmost character = highest classical bit)."
        entries.append(entry)
    # Sources of entries without a result yet (queued, running).
    for index in range(len(sources)):
        if index not in ended:
            entries.append({"index": index, "view": None, "kind": "none", "more": 0, **_source(sources[index])})
    return sorted(entries, key=lambda entry: entry["index"])
