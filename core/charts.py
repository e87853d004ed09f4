"""Bar charts as plain geometry, drawn as inline SVG by ``templates/_bar_chart.html``.

One helper for every chart of the web pages (a job's counts, a QUBO job's energies, a backend's jobs
per hour, a project's jobs and shots per day): the page carries its pictures in its own markup, so
they need no script, no CDN and no request of their own, they follow the stylesheet, and the
template's escaping applies to every label a user chose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PLOT_HEIGHT = 180
TOP = 20
LEFT = 44


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    title: str = ""  # the tooltip; the label and value when empty


def bar_chart(
    bars: Sequence[Bar], *, bar_width: int = 44, rotate_labels: bool | None = None, label_every: int = 1
) -> dict[str, Any]:
    """Geometry of an SVG bar chart of ``bars`` in their order, scaled to the largest value.

    ``label_every``: label every n-th bar only (a day of hours, a month of days). Labels turn when
    any is longer than four characters, unless ``rotate_labels`` says otherwise."""
    peak = max((bar.value for bar in bars), default=0) or 1
    rotate = rotate_labels if rotate_labels is not None else max((len(b.label) for b in bars), default=0) > 4
    inner = max(bar_width - 8, 2)
    drawn = []
    for i, bar in enumerate(bars):
        h = round(PLOT_HEIGHT * bar.value / peak, 1)
        x = LEFT + i * bar_width
        drawn.append(
            {
                "label": bar.label,
                "value": bar.value,
                "title": bar.title or f"{bar.label}: {_number(bar.value)}",
                "x": x,
                "y": TOP + PLOT_HEIGHT - h,
                "h": h,
                "cx": x + inner / 2,
                "show_label": i % max(label_every, 1) == 0,
            }
        )
    base = TOP + PLOT_HEIGHT
    return {
        "bars": drawn,
        "bar_width": inner,
        "width": LEFT + max(len(drawn), 1) * bar_width + 10,
        "height": base + (70 if rotate else 30),
        "base": base,
        "label_y": base + 14,
        "peak": _number(peak if bars else 0),
        "top": TOP,
        "tick_x": LEFT - 4,
        "axis_x": LEFT - 4,
        "rotate": rotate,
    }


def _number(value: float) -> str:
    """A tick or tooltip value: integers as such, others to four significant digits."""
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"
