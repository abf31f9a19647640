"""The geometry of the dashboard's small charts: a loss curve per training run and a metric
per release. Only numbers come out of here; the templates draw the SVG, so every text node
(a metric name, a version) goes through jinja2's escaping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import fmean
from typing import Any

from dlqa.report.text import format_number

MAX_CURVE_POINTS = 300  # a curve drawn at a few hundred pixels needs no more
CURVE_WIDTH, CURVE_HEIGHT = 320, 80
RELEASE_WIDTH, RELEASE_HEIGHT = 560, 200
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_Y = 56, 16, 24


def _scale(low: float, high: float, top: float, bottom: float) -> Any:
    span = high - low or 1.0

    def y(value: float) -> float:
        return round(bottom - (value - low) / span * (bottom - top), 1)

    return y


def loss_curve(values: Sequence[float]) -> dict[str, Any] | None:
    """A polyline of ``values`` (every k-th value past MAX_CURVE_POINTS), or None if empty."""
    finite = [v for v in values if v == v and abs(v) != float("inf")]
    if len(finite) < 2:
        return None
    stride = max(1, -(-len(finite) // MAX_CURVE_POINTS))
    shown = finite[::stride]
    low, high = min(shown), max(shown)
    y = _scale(low, high, 4, CURVE_HEIGHT - 4)
    step = (CURVE_WIDTH - 8) / (len(shown) - 1)
    points = " ".join(f"{4 + i * step:.1f},{y(v)}" for i, v in enumerate(shown))
    return {
        "width": CURVE_WIDTH,
        "height": CURVE_HEIGHT,
        "points": points,
        "low": format_number(low),
        "high": format_number(high),
        "first": format_number(finite[0]),
        "last": format_number(finite[-1]),
    }


def _interval(point: Mapping[str, Any], metric: str, values: list[float]) -> tuple[float, float]:
    # The stored interval where the release had one, else the range of its seeds.
    stored = point["intervals"].get(metric)
    if isinstance(stored, (list, tuple)) and len(stored) == 2:
        return float(stored[0]), float(stored[1])
    return min(values), max(values)


def release_charts(points: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One chart per metric over ``points`` (releases, oldest first): each release's mean
    with its interval (or seed range) as a vertical bar."""
    metrics = sorted({metric for point in points for metric in point["metrics"]})
    return [_release_chart(metric, points) for metric in metrics]


def _release_chart(metric: str, points: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    present = [p for p in points if metric in p["metrics"]]
    spans = [_interval(p, metric, p["metrics"][metric]) for p in present]
    low = min(min(s[0] for s in spans), min(fmean(p["metrics"][metric]) for p in present))
    high = max(max(s[1] for s in spans), max(fmean(p["metrics"][metric]) for p in present))
    top, bottom = _MARGIN_Y, RELEASE_HEIGHT - _MARGIN_Y
    y = _scale(low, high, top, bottom)
    plot = RELEASE_WIDTH - _MARGIN_LEFT - _MARGIN_RIGHT
    step = plot / max(1, len(present) - 1)
    marks = []
    for i, (point, (lo, hi)) in enumerate(zip(present, spans, strict=True)):
        mean = fmean(point["metrics"][metric])
        x = _MARGIN_LEFT + (i * step if len(present) > 1 else plot / 2)
        marks.append(
            {
                "x": round(x, 1),
                "y": y(mean),
                "y_low": y(lo),
                "y_high": y(hi),
                "version": point["version"],
                "run_id": point["run_id"],
                "label": f"{format_number(mean)} [{format_number(lo)}, {format_number(hi)}]",
            }
        )
    line = " ".join(f"{m['x']},{m['y']}" for m in marks)
    return {
        "metric": metric,
        "width": RELEASE_WIDTH,
        "height": RELEASE_HEIGHT,
        "marks": marks,
        "line": line,
        "top": top,
        "bottom": bottom,
        "left": _MARGIN_LEFT,
        "high": format_number(high),
        "low": format_number(low),
    }


__all__ = ["loss_curve", "release_charts"]
