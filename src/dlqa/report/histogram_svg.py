"""Two overlaid histograms (reference and current) of one property, as inline SVG.

Hand-written like the interval bars (``intervals.py``), not matplotlib: a drift result shows
up to eight of them, and each must cost a few kilobytes, not a figure. Each side is drawn as
the fraction of its own samples per bin (datasets of different sizes compare by shape), the
reference filled in blue and the current in orange with a darker outline, so that the two
stay apart where they overlap and for readers who do not tell the colours apart (the
outlines and the legend's words carry it too). No script, no external reference, no ids
(several charts share one page); every text node is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from dlqa.report.text import format_number

WIDTH, HEIGHT = 360, 210
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 10, 40, 30  # plot margins: axis labels, title, legend
# Colour-blind-safe pair (Okabe-Ito blue and orange), the same on every page.
REFERENCE_COLOUR = "#0072b2"
CURRENT_COLOUR = "#e69f00"
MAX_BINS = 200  # a stored item with more bins than this is not drawn (it is not ours)


def _numbers(values: Any, length: int | None = None) -> list[float] | None:
    if not isinstance(values, Sequence) or isinstance(values, (str, bytes)):
        return None
    if length is not None and len(values) != length:
        return None
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if not math.isfinite(value):
            return None
        out.append(float(value))
    return out


def histogram_parts(item: Any) -> tuple[list[float], list[float], list[float]] | None:
    """(edges, reference fractions, current fractions) of a "histograms" evidence item; None
    when the item is not one that can be drawn (edges not increasing, counts of another
    length, negative or no counts)."""
    if not isinstance(item, Mapping):
        return None
    edges = _numbers(item.get("edges"))
    if edges is None or not 2 <= len(edges) <= MAX_BINS + 1:
        return None
    if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        return None
    fractions = []
    for side in ("reference", "current"):
        counts = _numbers(item.get(side), len(edges) - 1)
        if counts is None or any(c < 0 for c in counts) or sum(counts) <= 0:
            return None
        total = sum(counts)
        fractions.append([c / total for c in counts])
    return edges, fractions[0], fractions[1]


def _step_path(edges: list[float], fractions: list[float], x, y) -> str:
    """The outline of a histogram as one closed path along the baseline."""
    baseline = y(0.0)
    points = [f"M{x(edges[0])},{baseline}"]
    for left, right, fraction in zip(edges, edges[1:], fractions, strict=False):
        top = y(fraction)
        points.append(f"L{x(left)},{top}L{x(right)},{top}")
    points.append(f"L{x(edges[-1])},{baseline}Z")
    return "".join(points)


def _caption(item: Mapping[str, Any]) -> str:
    parts = []
    if isinstance(item.get("wasserstein"), (int, float)):
        parts.append(f"W {format_number(item['wasserstein'])} sigma")
    if isinstance(item.get("changed_fraction"), (int, float)):
        parts.append(f"{format_number(100 * item['changed_fraction'])}% changed")
    if isinstance(item.get("psi"), (int, float)):
        parts.append(f"PSI {format_number(item['psi'])}")
    return ", ".join(parts)


def overlaid_histogram_svg(item: Any) -> str | None:
    """The SVG of one "histograms" evidence item; None when it cannot be drawn."""
    parts = histogram_parts(item)
    if parts is None:
        return None
    edges, reference, current = parts
    name = str(item.get("property", ""))
    top = max(max(reference), max(current)) or 1.0
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    low, high = edges[0], edges[-1]

    def x(value: float) -> float:
        return round(_LEFT + (value - low) / (high - low) * plot_w, 2)

    def y(fraction: float) -> float:
        return round(_TOP + plot_h - fraction / top * plot_h, 2)

    caption = _caption(item)
    label = f"{name}: reference vs current" + (f" ({caption})" if caption else "")
    text = 'font-family="system-ui, sans-serif" font-size="10" fill="#1f2328"'
    baseline = _TOP + plot_h
    svg = [
        f'<svg class="histogram" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<text x="{_LEFT}" y="13" {text} font-weight="600">{escape(name)}</text>',
        f'<text x="{WIDTH - _RIGHT}" y="13" {text} text-anchor="end">{escape(caption)}</text>',
        # legend: a swatch and a word per side
        f'<rect x="{_LEFT}" y="21" width="10" height="10" fill="{REFERENCE_COLOUR}" '
        f'fill-opacity="0.45" stroke="{REFERENCE_COLOUR}"/>',
        f'<text x="{_LEFT + 14}" y="30" {text}>reference</text>',
        f'<rect x="{_LEFT + 80}" y="21" width="10" height="10" fill="{CURRENT_COLOUR}" '
        f'fill-opacity="0.45" stroke="#9a6700"/>',
        f'<text x="{_LEFT + 94}" y="30" {text}>current</text>',
        f'<path class="reference" d="{_step_path(edges, reference, x, y)}" '
        f'fill="{REFERENCE_COLOUR}" fill-opacity="0.45" stroke="{REFERENCE_COLOUR}" '
        'stroke-width="1"/>',
        f'<path class="current" d="{_step_path(edges, current, x, y)}" '
        f'fill="{CURRENT_COLOUR}" fill-opacity="0.45" stroke="#9a6700" stroke-width="1.2"/>',
        # axes: the baseline with its ends and middle, the fraction scale at the top
        f'<line x1="{_LEFT}" y1="{baseline}" x2="{WIDTH - _RIGHT}" y2="{baseline}" '
        'stroke="#57606a" stroke-width="1"/>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{baseline}" stroke="#57606a" '
        'stroke-width="1"/>',
        f'<text x="{_LEFT - 4}" y="{_TOP + 4}" {text} text-anchor="end">'
        f"{escape(format_number(round(top, 4)))}</text>",
        f'<text x="{_LEFT - 4}" y="{baseline}" {text} text-anchor="end">0</text>',
    ]
    for value, anchor in ((low, "start"), ((low + high) / 2, "middle"), (high, "end")):
        svg.append(
            f'<text x="{x(value)}" y="{baseline + 13}" {text} text-anchor="{anchor}">'
            f"{escape(format_number(value))}</text>"
        )
    svg.append(
        f'<text x="{_LEFT + plot_w / 2}" y="{HEIGHT - 3}" {text} text-anchor="middle" '
        'fill-opacity="0.7">share of each dataset per bin</text>'
    )
    svg.append("</svg>")
    return "".join(svg)
