"""The reliability diagram of a classifier's confidence as inline SVG.

Confidence along x, accuracy along y, both 0..1; the dashed diagonal is perfect calibration.
Each bin is a dot at its mean confidence and its accuracy (its area grows with its samples)
with a vermilion line down or up to the diagonal: the gap, below it where the model is
overconfident. A strip under the plot shows where the samples' confidences lie. Every bin's
numbers are its tooltip. Hand-written like the other charts (``eval_svg``): no script, no
ids, every text escaped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dlqa.core.jsonsafe import to_json_safe
from dlqa.report.eval_svg import SOFT, TEXT, count_of, esc, finite
from dlqa.report.text import format_number

MAX_BINS = 200

POINT_COLOUR, GAP_COLOUR = "#0072b2", "#d55e00"  # Okabe-Ito blue and vermilion


@dataclass(frozen=True)
class Bin:
    confidence: float
    accuracy: float
    count: int
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Reliability:
    bins: list[Bin]
    ece: float | None
    brier: float | None

    @property
    def scheme(self) -> str:
        """'equal-mass' when the bins hold the same number of samples (give or take one),
        'equal-width' when they span the same width, else ''."""
        counts = [b.count for b in self.bins]
        if len(counts) > 1 and max(counts) - min(counts) <= 1:
            return "equal-mass"
        widths = [b.high - b.low for b in self.bins if b.low is not None and b.high is not None]
        if len(widths) == len(self.bins) > 1 and max(widths) - min(widths) < 1e-6:
            return "equal-width"
        return ""


def _unit(value: Any) -> float | None:
    return float(value) if finite(value) and -1e-9 <= value <= 1 + 1e-9 else None


def reliability_parts(item: Any) -> Reliability | None:
    """The bins of a "reliability" item (empty bins left out); None unless every other bin
    has a confidence, an accuracy and a range within [0, 1] and a count."""
    item = to_json_safe(item)
    if not isinstance(item, dict) or not isinstance(item.get("bins"), list):
        return None
    if not 1 <= len(item["bins"]) <= MAX_BINS:
        return None
    bins = []
    for entry in item["bins"]:
        if not isinstance(entry, dict):
            return None
        count = count_of(entry.get("count"))
        if count == 0:
            continue  # an empty bin has no accuracy to show
        confidence, accuracy = _unit(entry.get("confidence")), _unit(entry.get("accuracy"))
        low, high = _unit(entry.get("low")), _unit(entry.get("high"))
        if count is None or confidence is None or accuracy is None:
            return None
        if (low is None) != (high is None) or (low is not None and low > high):
            low = high = None  # a range that makes no sense is not drawn; the point still is
        bins.append(Bin(confidence, accuracy, count, low, high))
    if not bins:
        return None
    ece, brier = item.get("ece"), item.get("brier")
    return Reliability(bins, ece if finite(ece) else None, brier if finite(brier) else None)


def reliability_caption(parts: Reliability) -> str:
    numbers = []
    if parts.ece is not None:
        numbers.append(f"ECE {format_number(parts.ece)}")
    if parts.brier is not None:
        numbers.append(f"Brier {format_number(parts.brier)}")
    samples = sum(b.count for b in parts.bins)
    numbers.append(f"{len(parts.bins)} bins, {samples} samples")
    return ", ".join(numbers)


def reliability_svg(item: Any) -> str | None:
    """The reliability diagram of a "reliability" item; None when it cannot be drawn."""
    parts = reliability_parts(item)
    if parts is None:
        return None
    width, height, left, top, plot = 362, 404, 46, 40, 296
    strip_top, strip_h = top + plot + 6, 26

    def x(v: float) -> float:
        return round(left + v * plot, 1)

    def y(v: float) -> float:
        return round(top + plot - v * plot, 1)

    caption = reliability_caption(parts)
    heading = f"reliability diagram: {caption}"
    svg = [
        f'<svg class="reliability" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(heading)}">',
        f"<title>{esc(heading)}</title>",
        f'<text x="4" y="13" {TEXT} font-weight="600">reliability</text>',
        f'<text x="{width - 6}" y="13" {TEXT} text-anchor="end">{esc(caption)}</text>',
        f'<rect x="{left}" y="{top}" width="{plot}" height="{plot}" fill="#ffffff" '
        f'stroke="{SOFT}" stroke-width="1"/>',
    ]
    for tick in (0.2, 0.4, 0.6, 0.8):
        svg.append(
            f'<path d="M{x(tick)} {top}V{top + plot}M{left} {y(tick)}H{left + plot}" '
            'stroke="#eaeef2" stroke-width="1"/>'
        )
    for tick in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        svg.append(
            f'<text x="{left - 4}" y="{y(tick) + 3.5}" {TEXT} text-anchor="end">'
            f"{format_number(tick)}</text>"
            f'<text x="{x(tick)}" y="{strip_top + strip_h + 13}" {TEXT} text-anchor="middle">'
            f"{format_number(tick)}</text>"
        )
    svg.append(
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="{SOFT}" '
        'stroke-width="1.2" stroke-dasharray="5,4"/>'
    )
    bins = sorted(parts.bins, key=lambda b: b.confidence)
    curve = " ".join(f"{x(b.confidence)},{y(b.accuracy)}" for b in bins)
    svg.append(
        f'<polyline points="{curve}" fill="none" stroke="{POINT_COLOUR}" '
        'stroke-opacity="0.45" stroke-width="1.2"/>'
    )
    largest = max(b.count for b in bins)
    for b in bins:
        svg.append(_bin_marks(b, largest, x, y))
    svg.extend(_count_strip(bins, x, strip_top, strip_h, left, plot))
    svg.append(_reliability_legend(left, top))
    svg.extend(
        [
            f'<text x="{left + plot / 2}" y="{height - 6}" {TEXT} text-anchor="middle" '
            'fill-opacity="0.8">confidence</text>',
            f'<text transform="translate(12 {top + plot / 2}) rotate(-90)" {TEXT} '
            'text-anchor="middle" fill-opacity="0.8">accuracy</text>',
            "</svg>",
        ]
    )
    return "".join(svg)


def _bin_range(b: Bin) -> str:
    if b.low is None or b.high is None:
        return ""
    return f" (bin {format_number(b.low)}\u2013{format_number(b.high)})"


def _bin_marks(b: Bin, largest: int, x, y) -> str:
    gap = b.accuracy - b.confidence
    side = "overconfident" if gap < 0 else "underconfident" if gap > 0 else "calibrated"
    tip = (
        f"confidence {format_number(b.confidence)}{_bin_range(b)}, accuracy "
        f"{format_number(b.accuracy)}, {b.count} samples; gap {format_number(gap)} ({side})"
    )
    radius = round(2.5 + 4 * math.sqrt(b.count / largest), 1)
    cx = x(b.confidence)
    return (
        f"<g><title>{esc(tip)}</title>"
        f'<line x1="{cx}" y1="{y(b.confidence)}" x2="{cx}" y2="{y(b.accuracy)}" '
        f'stroke="{GAP_COLOUR}" stroke-width="2.5" stroke-opacity="0.85"/>'
        f'<circle cx="{cx}" cy="{y(b.accuracy)}" r="{radius}" fill="{POINT_COLOUR}" '
        'fill-opacity="0.85" stroke="#ffffff" stroke-width="1"/></g>'
    )


def _count_strip(bins: list[Bin], x, strip_top: float, strip_h: float, left, plot) -> list:
    """How the samples spread over confidence: per bin, samples per unit of confidence (its
    count where the bin has no range)."""
    density = [
        b.count / (b.high - b.low) if b.low is not None and b.high > b.low else float(b.count)
        for b in bins
    ]
    top = max(density) or 1.0
    out = [
        f'<rect x="{left}" y="{strip_top}" width="{plot}" height="{strip_h}" fill="#f6f8fa"/>',
        f'<text x="{left - 4}" y="{strip_top + strip_h / 2 + 3.5}" {TEXT} text-anchor="end" '
        'fill-opacity="0.8">n</text>',
    ]
    for b, d in zip(bins, density, strict=True):
        h = round(max(d / top * strip_h, 1.0), 1)
        if b.low is not None and b.high is not None and b.high > b.low:
            x0, w = x(b.low), max(round(x(b.high) - x(b.low), 1), 1.0)
        else:
            x0, w = round(x(b.confidence) - 2, 1), 4
        tip = f"{b.count} samples{_bin_range(b)}"
        out.append(
            f'<rect x="{x0}" y="{round(strip_top + strip_h - h, 1)}" width="{w}" height="{h}" '
            f'fill="{POINT_COLOUR}" fill-opacity="0.35" stroke="#ffffff" stroke-width="0.5">'
            f"<title>{esc(tip)}</title></rect>"
        )
    return out


def _reliability_legend(left: float, top: float) -> str:
    x, y = left + 8, top + 14
    return (
        f'<line x1="{x}" y1="{y - 3}" x2="{x + 16}" y2="{y - 3}" stroke="{SOFT}" '
        'stroke-width="1.2" stroke-dasharray="5,4"/>'
        f'<text x="{x + 21}" y="{y}" {TEXT}>perfect calibration</text>'
        f'<circle cx="{x + 8}" cy="{y + 11}" r="4" fill="{POINT_COLOUR}"/>'
        f'<text x="{x + 21}" y="{y + 14}" {TEXT}>bin (size: samples)</text>'
        f'<line x1="{x + 8}" y1="{y + 21}" x2="{x + 8}" y2="{y + 32}" stroke="{GAP_COLOUR}" '
        'stroke-width="2.5"/>'
        f'<text x="{x + 21}" y="{y + 29}" {TEXT}>gap to the diagonal</text>'
    )
