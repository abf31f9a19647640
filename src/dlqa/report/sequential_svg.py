"""The path of a group-sequential comparison as inline SVG, between the boundaries that stop it.

x is the seeds per arm, y the difference of the means (candidate minus baseline). A look stops
for efficacy beyond ±efficacy_t·se (the two curves: far out at the first looks, narrowing as
seeds accumulate) and for "no difference" inside ±(min_effect − equivalence_t·se), the band
that opens once the estimate is precise enough. The estimates are a path, a dot per look
(±1.96·se a faint whisker); the last carries its decision. The y range is the data's, the
±min_effect lines' and the last look's boundaries; the early boundaries, far outside, are drawn
at its edge. Hand-written like the other charts (``eval_svg``): no script, no ids, every text
escaped, every number formatted here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dlqa.core.jsonsafe import to_json_safe
from dlqa.report.ablation_svg import DIM, axis_ticks, signed, svg_open, y_grid
from dlqa.report.eval_svg import GRID, SOFT, TEXT, esc, finite
from dlqa.report.seed_dots_svg import padded_range
from dlqa.report.text import format_number

MAX_LOOKS = 500
WIDTH, LEFT, RIGHT, TOP, PLOT_H = 620, 64, 112, 58, 260
PLOT_W = WIDTH - LEFT - RIGHT
IMPROVED, REGRESSED = "#1a7f37", "#cf222e"  # the report's pass and fail colours
BAND, PATH = "#0969da", "#1f2328"
DECISION_COLOURS = dict(improved=IMPROVED, regressed=REGRESSED, no_difference=BAND)
STOPS = ("improved", "regressed", "no_difference")
Label = tuple[float, float, str, str]  # x, y, text, colour: a name beside the curves' ends


def _text_in(colour: str) -> str:
    return TEXT.replace('fill="#1f2328"', f'fill="{colour}"')


@dataclass(frozen=True)
class Look:
    seeds: float
    difference: float
    se: float | None
    efficacy_t: float  # inf: this look cannot stop for efficacy
    equivalence_t: float  # inf: nor for "no difference"
    decision: str
    line: str  # the describer's line: the tooltip

    def efficacy(self) -> float | None:
        """The efficacy boundary in difference units (inf where it cannot be crossed)."""
        if self.se is None:
            return None
        return math.inf if math.isinf(self.efficacy_t) else self.efficacy_t * self.se

    def band(self, min_effect: float | None) -> float | None:
        """The half-width of the "no difference" region at this look, when it is open."""
        if min_effect is None or self.se is None or math.isinf(self.equivalence_t):
            return None
        half = min_effect - self.equivalence_t * self.se
        return half if half > 0 else None


@dataclass(frozen=True)
class Path:
    looks: list[Look]  # by seeds
    min_effect: float | None
    higher_is_better: bool | None
    planned_max: float | None


def _seeds_text(seeds: Any) -> str:
    count = format_number(int(seeds) if finite(seeds) and seeds == int(seeds) else seeds)
    return f"{count} seed{'' if count == '1' else 's'} each"


def sequential_look_line(item: Any) -> str | None:
    """'look 2, 4 seeds each: difference +0.004 (se 0.003), continue'; None when ``item``
    is not a look with a difference."""
    item = to_json_safe(item)
    if not isinstance(item, dict) or not finite(item.get("difference")):
        return None
    head = [f"look {format_number(item['look'])}"] if item.get("look") is not None else []
    head += [_seeds_text(item["seeds"])] if item.get("seeds") is not None else []
    line = f"{', '.join(head)}: " if head else ""
    value = item["difference"]
    line += f"difference {'+' if value > 0 else ''}{format_number(value)}"
    if finite(item.get("se")):
        line += f" (se {format_number(item['se'])})"
    return line + (f", {item['decision']}" if item.get("decision") else "")


def _t(value: Any) -> float:
    """A boundary statistic; None or anything not a positive number is infinite."""
    return float(value) if finite(value) and value > 0 else math.inf


def _look(item: Any) -> Look | None:
    if not isinstance(item, dict):
        return None
    seeds, difference, se = item.get("seeds"), item.get("difference"), item.get("se")
    if not (finite(seeds) and seeds >= 0 and finite(difference)):
        return None
    se = float(se) if finite(se) and se >= 0 else None
    efficacy, equivalence = _t(item.get("efficacy_t")), _t(item.get("equivalence_t"))
    decision = str(item.get("decision") or "")
    line = sequential_look_line(item) or ""
    return Look(float(seeds), float(difference), se, efficacy, equivalence, decision, line)


def sequential_parts(item_or_items: Any) -> Path | None:
    """The usable looks of a "sequential_path" evidence in order; None when there is none."""
    items = to_json_safe(item_or_items)
    items = [items] if isinstance(items, Mapping) else items
    if not isinstance(items, list):
        return None
    looks = [look for look in map(_look, items[:MAX_LOOKS]) if look is not None]
    if not looks:
        return None
    looks.sort(key=lambda look: look.seeds)  # stable: looks at the same count keep their order
    # The design's numbers, as the last usable item states them.
    last = next(item for item in reversed(items[:MAX_LOOKS]) if _look(item) is not None)
    min_effect, better = last.get("min_effect"), last.get("higher_is_better")
    planned = last.get("planned_max")
    return Path(
        looks,
        float(min_effect) if finite(min_effect) and min_effect > 0 else None,
        better if isinstance(better, bool) else None,
        float(planned) if finite(planned) and planned > 0 else None,
    )


def _domain(path: Path) -> tuple[float, float]:
    """The data, zero, ±min_effect and the last look's boundaries and whisker, padded."""
    last = path.looks[-1]
    numbers = [look.difference for look in path.looks] + [0.0]
    ends = [path.min_effect, last.efficacy(), last.band(path.min_effect)]
    if last.se is not None:
        ends.append(abs(last.difference) + 1.96 * last.se)
    numbers += [s * v for v in ends if v is not None and math.isfinite(v) for s in (-1, 1)]
    return padded_range(numbers, 0.08)


def sequential_svg(item_or_items: Any) -> str | None:
    """The chart of a "sequential_path" evidence; None when no look can be drawn."""
    path = sequential_parts(item_or_items)
    if path is None:
        return None
    looks, last = path.looks, path.looks[-1]
    x_max = max(path.planned_max or 0.0, last.seeds) or 1.0
    low, high = _domain(path)
    if not math.isfinite(high - low):  # numbers near the float limit: no scale to draw on
        return None
    y_ticks, y_step = axis_ticks(low, high)

    def x(v: float) -> float:
        return round(LEFT + v / x_max * PLOT_W, 1)

    def y(v: float) -> float:  # clipped: a boundary beyond the range is drawn at the edge
        return round(TOP + (high - min(max(v, low), high)) / (high - low) * PLOT_H, 1)

    upper, lower = _sides(path.higher_is_better)
    seeds = "" if last.seeds == 1 else "s"
    verdict = f"{_decision(last.decision)} at {format_number(last.seeds)} seed{seeds} each"
    if path.planned_max is not None:  # said here: a label by its line would meet the others
        verdict += f" (planned maximum {format_number(path.planned_max)}, dashed)"
    summary = f"group-sequential comparison: {verdict}; " + "; ".join(k.line for k in looks)
    height = TOP + PLOT_H + 40
    svg = svg_open("sequential", WIDTH, height, summary, "group-sequential comparison")
    svg.append(f'<text x="{WIDTH - 6}" y="13" {TEXT} text-anchor="end">{esc(verdict)}</text>')
    svg.extend(y_grid(y_ticks, y, LEFT, LEFT + PLOT_W, y_step))
    labels: list[Label] = []
    svg.extend(_regions(path, x, y, upper, lower, labels))
    for value in (path.min_effect, -(path.min_effect or 0)) if path.min_effect else ():
        svg.append(
            f'<line x1="{LEFT}" y1="{y(value)}" x2="{LEFT + PLOT_W}" y2="{y(value)}" '
            f'stroke="{SOFT}" stroke-dasharray="1,3"><title>{esc(f"min effect {signed(value)}")}'
            f'</title></line><text x="{LEFT + 4}" y="{y(value) - 3}" {DIM}>'
            f"{esc(signed(value))} min effect</text>"
        )
    svg.append(
        f'<line x1="{LEFT}" y1="{y(0)}" x2="{LEFT + PLOT_W}" y2="{y(0)}" stroke="{SOFT}"/>'
        f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="none" '
        f'stroke="{GRID}"/>'
    )
    if path.planned_max is not None and path.planned_max > last.seeds:
        px = x(path.planned_max)
        svg.append(
            f'<line x1="{px}" y1="{TOP}" x2="{px}" y2="{TOP + PLOT_H}" stroke="{SOFT}" '
            f'stroke-dasharray="4,3"><title>planned maximum</title></line>'
        )
    svg.extend(_path_marks(path, x, y, labels))
    svg.extend(_labels(labels))
    svg.extend(_x_axis(x_max, x))
    svg.append(
        f'<text transform="translate(12 {TOP + PLOT_H / 2}) rotate(-90)" {DIM} '
        'text-anchor="middle">difference (candidate \u2212 baseline)</text>'
    )
    svg.extend(_legend())
    return "".join(svg) + "</svg>"


def _sides(higher_is_better: bool | None) -> tuple[tuple[str, str], tuple[str, str]]:
    """(label, colour) of the region above the upper boundary and below the lower one."""
    if higher_is_better is None:
        return ("candidate higher", SOFT), ("candidate lower", SOFT)
    better, worse = ("improved", IMPROVED), ("regressed", REGRESSED)
    return (better, worse) if higher_is_better else (worse, better)


def _points(pairs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A curve's vertices; a single one widened to a short mark, so that it shows."""
    if len(pairs) == 1:
        px, py = pairs[0]
        return [(round(px - 6, 1), py), (round(px + 6, 1), py)]
    return pairs


def _poly(pairs: list[tuple[float, float]]) -> str:
    return " ".join(f"{px},{py}" for px, py in pairs)


def _regions(path: Path, x, y, upper, lower, labels: list[Label]) -> list[str]:
    """The stopping regions: beyond each efficacy curve (shaded up or down to the edge), and
    the "no difference" band, in runs of the looks where it is open."""
    out = []
    bounded = [look for look in path.looks if look.efficacy() is not None]
    for (name, colour), sign, edge in ((upper, 1, TOP), (lower, -1, TOP + PLOT_H)):
        if not bounded:
            break
        curve = _points([(x(k.seeds), y(sign * k.efficacy())) for k in bounded])
        shade = curve + [(curve[-1][0], edge), (curve[0][0], edge)]
        out.append(
            f"<g><title>{esc(f'beyond this boundary the test stops: {name}')}</title>"
            f'<polygon points="{_poly(shade)}" fill="{colour}" fill-opacity="0.07"/>'
            f'<polyline class="boundary" points="{_poly(curve)}" fill="none" stroke="{colour}" '
            f'stroke-width="1.5"/></g>'
        )
        # At the curve's end, on the side of its region.
        labels.append((curve[-1][0] + 6, curve[-1][1] + (-4 if sign > 0 else 12), name, colour))
    runs: list[list[tuple[float, float]]] = [[]]
    for look in path.looks:
        half = look.band(path.min_effect)
        if half is None:
            runs.append([])
        else:
            runs[-1].append((x(look.seeds), half))
    runs = [run for run in runs if run]
    for run in runs:
        top = _points([(px, y(h)) for px, h in run])
        bottom = _points([(px, y(-h)) for px, h in run])
        out.append(
            f'<polygon class="band" points="{_poly(top + bottom[::-1])}" fill="{BAND}" '
            'fill-opacity="0.18" stroke="none"><title>inside this band the test stops: no '
            "difference</title></polygon>"
        )
    if runs:
        labels.append((runs[-1][-1][0] + 6, y(0) + 3.5, "no difference", BAND))
    return out


def _path_marks(path: Path, x, y, labels: list[Label]) -> list[str]:
    looks, last = path.looks, path.looks[-1]
    out = []
    for look in looks:
        if look.se is not None:
            cx, spread = x(look.seeds), 1.96 * look.se
            out.append(
                f'<line x1="{cx}" y1="{y(look.difference - spread)}" x2="{cx}" '
                f'y2="{y(look.difference + spread)}" stroke="{PATH}" stroke-opacity="0.15" '
                'stroke-width="3"/>'
            )
    out.append(
        f'<polyline points="{_poly([(x(k.seeds), y(k.difference)) for k in looks])}" '
        f'fill="none" stroke="{PATH}" stroke-width="1.5"/>'
    )
    for look in looks:
        radius, colour = 3, PATH
        if look is last:
            radius, colour = 5, DECISION_COLOURS.get(look.decision, PATH)
        out.append(
            f'<circle class="look" cx="{x(look.seeds)}" cy="{y(look.difference)}" r="{radius}" '
            f'fill="{colour}" stroke="#ffffff" stroke-width="1"><title>{esc(look.line)}'
            "</title></circle>"
        )
    decision = _decision(last.decision)
    colour = DECISION_COLOURS.get(last.decision, PATH)
    labels.append((x(last.seeds) + 8, y(last.difference) + 3.5, decision, colour))
    return out


def _decision(decision: str) -> str:
    text = (decision or "no decision").replace("_", " ")
    return f"stopped: {text}" if decision in STOPS else text


def _labels(labels: list[Label]) -> list[str]:
    """The names beside the curves' ends, moved apart (12 px at least) within the plot's
    height so that none covers another."""
    labels = sorted(labels, key=lambda item: item[1])
    ys = [item[1] for item in labels]
    for i in range(len(ys)):  # down, then back up from the bottom edge
        ys[i] = max(ys[i], TOP + 9, ys[i - 1] + 12 if i else -math.inf)
    for i in reversed(range(len(ys))):
        ys[i] = min(ys[i], TOP + PLOT_H - 2, ys[i + 1] - 12 if i + 1 < len(ys) else math.inf)
    return [
        f'<text x="{round(lx, 1)}" y="{round(ly, 1)}" {_text_in(colour)} font-weight="600">'
        f"{esc(text)}</text>"
        for (lx, _, text, colour), ly in zip(labels, ys, strict=True)
    ]


def _x_axis(x_max: float, x) -> list[str]:
    ticks, step = axis_ticks(0, x_max)
    ticks = [t for t in ticks if t == int(t)]  # whole seeds only
    base = TOP + PLOT_H
    out = [
        f'<line x1="{x(t)}" y1="{base}" x2="{x(t)}" y2="{base + 4}" stroke="{SOFT}"/><text '
        f'x="{x(t)}" y="{base + 15}" {TEXT} text-anchor="middle">{format_number(int(t))}</text>'
        for t in ticks
    ]
    out.append(
        f'<text x="{LEFT + PLOT_W / 2}" y="{base + 32}" {DIM} text-anchor="middle">'
        "seeds per arm</text>"
    )
    return out


def _legend() -> list[str]:
    x, y = LEFT, 36
    return [
        f'<line x1="{x}" y1="{y - 3}" x2="{x + 18}" y2="{y - 3}" stroke="{PATH}" '
        f'stroke-width="1.5"/><circle cx="{x + 9}" cy="{y - 3}" r="3" fill="{PATH}"/>'
        f'<text x="{x + 23}" y="{y}" {TEXT}>estimate at each look (\u00b11.96 se)</text>',
        f'<line x1="{x + 200}" y1="{y - 3}" x2="{x + 218}" y2="{y - 3}" stroke="{SOFT}" '
        f'stroke-width="1.5"/><text x="{x + 223}" y="{y}" {TEXT}>stopping boundary</text>',
        f'<rect x="{x + 320}" y="{y - 8}" width="18" height="10" fill="{BAND}" '
        f'fill-opacity="0.18"/><text x="{x + 343}" y="{y}" {TEXT}>no difference</text>',
    ]
