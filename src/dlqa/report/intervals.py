"""The interval bar: a measured value, its uncertainty and its threshold on one small scale.

Hand-written inline SVG rather than matplotlib: one bar per result row must cost bytes, not
a figure, and needs neither JavaScript nor any external resource. The bar is the interval,
the tick the value, the dashed vertical line the threshold; whether the bar clears the line
is the gate's decision, visible at a glance.
"""

from __future__ import annotations

import math
from html import escape

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


def interval_bar_svg(result: CheckResult) -> str | None:
    """The interval bar of ``result``; None unless it has an interval and a threshold (and
    they are finite: nothing meaningful can be drawn from NaN)."""
    interval, threshold = result.interval, result.threshold
    if interval is None or threshold is None:
        return None
    points = [interval.low, interval.high, threshold]
    if result.value is not None:
        points.append(result.value)
    if not all(isinstance(p, (int, float)) and math.isfinite(p) for p in points):
        return None
    low, high = min(points), max(points)
    span = high - low or abs(high) or 1.0  # a zero-width scale still needs a width
    low, high = low - _MARGIN * span, high + _MARGIN * span

    def x(v: float) -> float:
        return round(_PAD + (v - low) / (high - low) * (BAR_WIDTH - 2 * _PAD), 2)

    colour = BAR_COLOURS[result.status]
    mid = BAR_HEIGHT / 2
    left, right = x(interval.low), x(interval.high)
    width = max(round(right - left, 2), 1.0)  # at least 1 px: a narrow interval stays visible
    label = (
        f"{format_interval(interval)}, value {format_number(result.value)}, "
        f"threshold {format_number(threshold)}"
    )
    parts = [
        f'<svg class="interval-bar" width="{BAR_WIDTH}" height="{BAR_HEIGHT}" '
        f'viewBox="0 0 {BAR_WIDTH} {BAR_HEIGHT}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<line class="axis" x1="{_PAD}" y1="{mid}" x2="{BAR_WIDTH - _PAD}" y2="{mid}" '
        'stroke="#d0d7de" stroke-width="1"/>',
        f'<rect class="interval" x="{left}" y="{mid - 4}" width="{width}" '
        f'height="8" rx="2" fill="{colour}" fill-opacity="0.35" stroke="{colour}"/>',
    ]
    if result.value is not None:
        tick = x(result.value)
        parts.append(
            f'<line class="value" x1="{tick}" y1="{mid - 6}" x2="{tick}" y2="{mid + 6}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
    line = x(threshold)
    parts.append(
        f'<line class="threshold" x1="{line}" y1="0" x2="{line}" y2="{BAR_HEIGHT}" '
        'stroke="#1f2328" stroke-width="1.5" stroke-dasharray="3,2"/>'
    )
    parts.append("</svg>")
    return "".join(parts)
