"""The interval bar: a measured value, its uncertainty and its threshold on one small scale.

Hand-written inline SVG rather than matplotlib: one bar per result row must cost bytes, not
a figure, and needs neither JavaScript nor any external resource. The bar is the interval,
the tick the value, the dashed vertical line the threshold; whether the bar clears the line
is the gate's decision, visible at a glance.

:func:`interval_bar` draws one from plain numbers (an "intervals" evidence row, which may
have no threshold); :func:`interval_bar_svg` draws a result's.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from dlqa.core.results import CheckResult, Status
from dlqa.report.text import format_interval, format_number

BAR_WIDTH = 160
BAR_HEIGHT = 18
_PAD = 4  # keeps the end marks inside the drawing
_MARGIN = 0.08  # of the span, either side, so that nothing sits on the edge

# The status colours of the HTML page (its CSS variables), repeated here because an SVG
# attribute cannot read them without a stylesheet.
BAR_COLOURS = {
    Status.PASS: "#1a7f37",
    Status.WARN: "#9a6700",
    Status.FAIL: "#cf222e",
    Status.ERROR: "#8250df",
    Status.SKIP: "#6e7781",
    Status.INCONCLUSIVE: "#bc4c00",
}
NEUTRAL_COLOUR = "#0969da"  # a bar without a status (an evidence row that carries none)


def status_colour(status: Any) -> str:
    """The bar colour of a status (a ``Status`` or its value); neutral blue for anything else."""
    try:
        return BAR_COLOURS[Status(status)]
    except (TypeError, ValueError):
        return NEUTRAL_COLOUR


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def interval_bar(
    low: float,
    high: float,
    value: float | None = None,
    threshold: float | None = None,
    colour: str = NEUTRAL_COLOUR,
    label: str | None = None,
    domain: tuple[float, float] | None = None,
) -> str | None:
    """The bar of ``[low, high]`` with a tick at ``value`` and a dashed line at ``threshold``
    (either may be None: no tick, no line); None unless the numbers given are finite and
    ``low <= high``. ``label`` is the tooltip (escaped here); by default the numbers.
    ``domain`` is the range of the scale, shared by bars that are read together (rows of a
    table); by default the bar's own numbers, with a margin."""
    points = [low, high] + [p for p in (value, threshold) if p is not None]
    if not all(_finite(p) for p in points) or low > high:
        return None
    if domain is not None and all(_finite(d) for d in domain):
        points.extend(domain)
    if colour not in BAR_COLOURS.values() and colour != NEUTRAL_COLOUR:
        colour = NEUTRAL_COLOUR  # only our own colours reach an attribute
    if label is None:
        label = f"[{format_number(low)}, {format_number(high)}]"
        if value is not None:
            label += f", value {format_number(value)}"
        if threshold is not None:
            label += f", threshold {format_number(threshold)}"
    lowest, highest = min(points), max(points)
    span = highest - lowest or abs(highest) or 1.0  # a zero-width scale still needs a width
    lowest, highest = lowest - _MARGIN * span, highest + _MARGIN * span

    def x(v: float) -> float:
        return round(_PAD + (v - lowest) / (highest - lowest) * (BAR_WIDTH - 2 * _PAD), 2)

    mid = BAR_HEIGHT / 2
    left, right = x(low), x(high)
    width = max(round(right - left, 2), 1.0)  # at least 1 px: a narrow interval stays visible
    parts = [
        f'<svg class="interval-bar" width="{BAR_WIDTH}" height="{BAR_HEIGHT}" '
        f'viewBox="0 0 {BAR_WIDTH} {BAR_HEIGHT}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<line class="axis" x1="{_PAD}" y1="{mid}" x2="{BAR_WIDTH - _PAD}" y2="{mid}" '
        'stroke="#d0d7de" stroke-width="1"/>',
        f'<rect class="interval" x="{left}" y="{mid - 4}" width="{width}" '
        f'height="8" rx="2" fill="{colour}" fill-opacity="0.35" stroke="{colour}"/>',
    ]
    if value is not None:
        tick = x(value)
        parts.append(
            f'<line class="value" x1="{tick}" y1="{mid - 6}" x2="{tick}" y2="{mid + 6}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
    if threshold is not None:
        line = x(threshold)
        parts.append(
            f'<line class="threshold" x1="{line}" y1="0" x2="{line}" y2="{BAR_HEIGHT}" '
            'stroke="#1f2328" stroke-width="1.5" stroke-dasharray="3,2"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def interval_bar_svg(result: CheckResult) -> str | None:
    """The interval bar of ``result``; None unless it has an interval and a threshold (and
    they are finite: nothing meaningful can be drawn from NaN)."""
    interval, threshold = result.interval, result.threshold
    if interval is None or threshold is None:
        return None
    label = (
        f"{format_interval(interval)}, value {format_number(result.value)}, "
        f"threshold {format_number(threshold)}"
    )
    return interval_bar(
        interval.low,
        interval.high,
        value=result.value,
        threshold=threshold,
        colour=BAR_COLOURS[result.status],
        label=label,
    )
