"""The cells of an ablation (each a seed group) as inline SVG: an interaction plot, else a dot plot.

With two changes A and B, what the numbers alone hide is whether A's effect depends on B (a
regression of A masked in the A+B bundle): x is A off / on, one line per B (off solid, on
dashed); lines that are not parallel are the interaction. Means carry their interval as a
whisker (else the seeds' range), seeds are faint dots beside them. One change: its two cells
joined; more than two, or a cell missing: a dot plot of every cell against the base's mean.
Hand-written like the other charts (``eval_svg``): no script, no ids, every text escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dlqa.core.jsonsafe import to_json_safe
from dlqa.report.eval_svg import GRID, SOFT, TEXT, esc, finite, label, titled
from dlqa.report.seed_dots_svg import nice_step, padded_range, scale_ticks, tick_text
from dlqa.report.text import format_number

MAX_CELLS = 64
MAX_VALUES = 2000  # per cell: more than this is not a seed group
OFF_COLOUR, ON_COLOUR = "#0072b2", "#d55e00"  # Okabe-Ito blue and vermilion
OUT_COLOUR = "#6e7781"  # a cell the design did not plan
DIM = f'{TEXT} fill-opacity="0.75"'
DASH = ' stroke-dasharray="6,4"'


def signed(value: float) -> str:
    """A difference as a chart prints it: '+0.004', '\u22120.005' (a real minus), '0'."""
    text = format_number(value)
    return f"+{text}" if value > 0 else text.replace("-", "\u2212")


def axis_ticks(low: float, high: float) -> tuple[list[float], float]:
    """Round ticks over [low, high] and their step; the step halved when it gives fewer
    than three (two labels do not show a scale)."""
    step = nice_step(high - low)
    ticks = scale_ticks(low, high, step)
    if len(ticks) < 3:
        step /= 2
        ticks = scale_ticks(low, high, step)
    return ticks, step


def y_grid(ticks: list[float], y: Callable[[float], float], left: float, right: float, step):
    """Horizontal grid lines at ``ticks``, labelled left of ``left`` (the sequential chart
    shares it)."""
    return [
        f'<line x1="{left}" y1="{y(t)}" x2="{right}" y2="{y(t)}" stroke="#eaeef2"/><text x="'
        f'{left - 5}" y="{y(t) + 3.5}" {TEXT} text-anchor="end">{esc(tick_text(t, step))}'
        "</text>"
        for t in ticks
    ]


def svg_open(kind: str, width: int, height: float, summary: str, title: str) -> list[str]:
    """The opening tag (its summary as the tooltip and the accessible name) and the title."""
    return [
        f'<svg class="{kind}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{esc(summary)}"><title>{esc(summary)}</title>',
        f'<text x="4" y="13" {TEXT} font-weight="600">{esc(title)}</text>',
    ]


@dataclass(frozen=True)
class Cell:
    name: str
    changes: frozenset[str]
    mean: float
    low: float | None  # the interval, else the seeds' range, else None
    high: float | None
    ranged: bool  # low and high are the seeds' range, not an interval
    values: list[float]
    in_design: bool
    line: str  # the describer's line: the tooltip


@dataclass(frozen=True)
class Ablation:
    cells: list[Cell]
    changes: list[str]  # in order of first appearance
    metric: str
    higher_is_better: bool | None


def ablation_cell_line(item: Any) -> str | None:
    """'A+B (name@A+B): mean 0.912 [0.9, 0.92], n=3'; None when ``item`` is not a cell."""
    item = to_json_safe(item)
    if not isinstance(item, dict) or "cell" not in item:
        return None
    line = str(item["cell"])
    if item.get("group") not in (None, ""):
        line += f" ({item['group']})"
    line += f": mean {format_number(item.get('mean'))}"
    ci = item.get("ci")
    if isinstance(ci, list) and len(ci) == 2:
        line += f" [{format_number(ci[0])}, {format_number(ci[1])}]"
    if item.get("n") is not None:
        line += f", n={format_number(item['n'])}"
    return line + ("; not in the design" if item.get("in_design") is False else "")


def _changes(item: Any) -> list[str] | None:
    if not isinstance(item, dict):
        return None
    if isinstance(item.get("changes"), list):
        return [str(change) for change in item["changes"]]
    cell = item.get("cell")  # no list: read the cell's name, "base" or "A+B"
    return ([] if cell in ("", "base") else cell.split("+")) if isinstance(cell, str) else None


def _cell(item: Any) -> Cell | None:
    changes = _changes(item)
    if changes is None or not finite(item.get("mean")):
        return None
    raw = item.get("values")
    values = [float(v) for v in raw[:MAX_VALUES] if finite(v)] if isinstance(raw, list) else []
    ci, low, high, ranged = item.get("ci"), None, None, False
    if isinstance(ci, list) and len(ci) == 2 and all(finite(v) for v in ci):
        low, high = float(min(ci)), float(max(ci))
    elif len(values) > 1:  # no interval: the whisker is the seeds' range
        low, high, ranged = min(values), max(values), True
    name = str(item.get("cell", "+".join(changes) or "base"))
    line = ablation_cell_line(item) or name
    in_design = item.get("in_design") is not False
    return Cell(
        name, frozenset(changes), float(item["mean"]), low, high, ranged, values, in_design, line
    )


def ablation_parts(item_or_items: Any) -> Ablation | None:
    """The cells of an "ablation_cells" evidence with a finite mean; None when none has."""
    items = to_json_safe(item_or_items)
    items = [items] if isinstance(items, Mapping) else items
    if not isinstance(items, list):
        return None
    items = items[:MAX_CELLS]
    cells = [cell for cell in map(_cell, items) if cell is not None]
    if not cells:
        return None
    changes: list[str] = []
    for item in items:
        changes.extend(c for c in _changes(item) or [] if c not in changes)
    dicts = [item for item in items if isinstance(item, dict)]
    metric = next((str(item["metric"]) for item in dicts if item.get("metric")), "")
    better = next((item.get("higher_is_better") for item in dicts), None)
    return Ablation(cells, changes, metric, better if isinstance(better, bool) else None)


def ablation_svg(item_or_items: Any) -> str | None:
    """The chart of an "ablation_cells" evidence; None when it cannot be drawn."""
    parts = ablation_parts(item_or_items)
    if parts is None:
        return None
    by_changes: dict[frozenset[str], Cell] = {}
    for cell in parts.cells:
        by_changes.setdefault(cell.changes, cell)
    numbers = _numbers(parts.cells)
    if not math.isfinite(max(numbers) - min(numbers)):  # near the float limit: no scale
        return None
    first = parts.changes[:2]
    wanted = [frozenset(c) for c in ([], first[:1], first[1:], first)]
    if 1 <= len(parts.changes) <= 2 and all(key in by_changes for key in wanted):
        return _interaction(parts, by_changes)
    return _dot_plot(parts)


def _metric_title(parts: Ablation) -> str:
    metric = label(parts.metric or "metric", 40)
    if parts.higher_is_better is None:
        return metric
    return f"{metric} ({'higher' if parts.higher_is_better else 'lower'} is better)"


def _numbers(cells: list[Cell]) -> list[float]:
    ends = [v for c in cells for v in (c.low, c.high) if v is not None]
    return [c.mean for c in cells] + ends + [v for c in cells for v in c.values]


def _marks(cell: Cell, cx: float, y, colour: str, seeds_dx: float) -> str:
    """A cell's mean (a dot), its whisker and its seeds, faint, ``seeds_dx`` beside it."""
    out = [f"<g><title>{esc(cell.line)}</title>"]
    if cell.low is not None and cell.high is not None:
        y0, y1 = y(cell.low), y(cell.high)
        out.append(
            f'<path class="whisker" d="M{cx} {y0}V{y1}M{cx - 4} {y0}H{cx + 4}M{cx - 4} {y1}'
            f'H{cx + 4}" stroke="{colour}" stroke-width="1.5" fill="none"/>'
        )
    out.extend(
        f'<circle class="seed" cx="{round(cx + seeds_dx, 1)}" cy="{y(v)}" r="2.5" '
        f'fill="{colour}" fill-opacity="0.35"/>'
        for v in cell.values
    )
    out.append(
        f'<circle class="cell" cx="{cx}" cy="{y(cell.mean)}" r="4.5" fill="{colour}" '
        'stroke="#ffffff" stroke-width="1.2"/></g>'
    )
    return "".join(out)


def _interaction(parts: Ablation, by_changes: dict[frozenset[str], Cell]) -> str:
    width, left, top, plot_w, plot_h = 600, 66, 62, 500, 220
    a, b = parts.changes[0], (parts.changes[1] if len(parts.changes) > 1 else "")
    lines = [False, True] if b else [False]  # B off, B on
    series = [  # per line: its (A off, A on) cells
        [by_changes[frozenset([a] * on + [b] * with_b)] for on in (0, 1)] for with_b in lines
    ]
    low, high = padded_range(_numbers([c for pair in series for c in pair]), 0.08)
    ticks, step = axis_ticks(low, high)

    def y(v: float) -> float:
        return round(top + (high - v) / (high - low) * plot_h, 1)

    (base, a_on), xs = series[0], (left + plot_w * 0.27, left + plot_w * 0.73)
    caption = f"effect of {label(a, 24)}: {signed(a_on.mean - base.mean)}"
    if b:
        b_on, both = series[1]
        term = signed(both.mean - a_on.mean - b_on.mean + base.mean)
        caption = "lines that are not parallel are the interaction of "
        caption += f"{label(a, 16)} and {label(b, 16)}: {term}"
    height = top + plot_h + 50
    summary = f"ablation of {parts.metric or 'a metric'}: {caption}"
    svg = svg_open(
        "ablation interaction", width, height, summary, f"ablation: {_metric_title(parts)}"
    )
    svg.extend(y_grid(ticks, y, left, left + plot_w, step))
    svg.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="{GRID}"/>'
    )
    for with_b, pair in zip(lines, series, strict=True):
        colour, dx = (ON_COLOUR, 9) if with_b else (OFF_COLOUR, -9 if b else 0)
        x0, x1 = round(xs[0] + dx, 1), round(xs[1] + dx, 1)
        svg.append(
            f'<line class="series" x1="{x0}" y1="{y(pair[0].mean)}" x2="{x1}" '
            f'y2="{y(pair[1].mean)}" stroke="{colour}" stroke-width="2"{DASH * with_b}/>'
        )
        for cell, cx in zip(pair, (x0, x1), strict=True):
            svg.append(_marks(cell, cx, y, colour, 9 if with_b else -9))
    for x, state in zip(xs, ("off", "on"), strict=True):
        svg.append(
            f'<text x="{round(x, 1)}" y="{top + plot_h + 16}" {TEXT} text-anchor="middle" '
            f'font-weight="600">{titled(a, 24)} {state}</text>'
        )
    svg.append(
        f'<text transform="translate(12 {top + plot_h / 2}) rotate(-90)" {DIM} '
        f'text-anchor="middle">{esc(_metric_title(parts))}</text>'
        f'<text x="4" y="{height - 8}" {DIM}><title>the interaction: both changes \u2212 each '
        f"alone + base</title>{esc(caption)}</text>"
    )
    return "".join(svg + _legend(b, top - 22)) + "</svg>"


def _legend(b: str, y: float) -> list[str]:
    x, out = 70, []
    for colour, dash, text in ((OFF_COLOUR, "", "off"), (ON_COLOUR, DASH, "on")) if b else ():
        text = f"{label(b, 18)} {text}"
        out.append(
            f'<line x1="{x}" y1="{y - 3}" x2="{x + 22}" y2="{y - 3}" stroke="{colour}" '
            f'stroke-width="2"{dash}/><text x="{x + 27}" y="{y}" {TEXT}>{esc(text)}</text>'
        )
        x += 40 + 6 * len(text)
    out.append(
        f'<circle cx="{x + 4}" cy="{y - 3}" r="2.5" fill="{SOFT}" fill-opacity="0.45"/>'
        f'<text x="{x + 11}" y="{y}" {TEXT}>a seed</text>'
        f'<path d="M{x + 62} {y - 9}V{y + 3}M{x + 59} {y - 9}H{x + 65}M{x + 59} {y + 3}H{x + 65}" '
        f'stroke="{SOFT}" stroke-width="1.5"/><text x="{x + 70}" y="{y}" {TEXT}>'
        "mean and interval (or the seeds\u2019 range)</text>"
    )
    return out


def _dot_plot(parts: Ablation) -> str:
    width, left, right, top, row = 640, 150, 150, 52, 30
    plot_w, cells = width - left - right, parts.cells
    low, high = padded_range(_numbers(cells))
    ticks, step = axis_ticks(low, high)

    def x(v: float) -> float:
        return round(left + (v - low) / (high - low) * plot_w, 1)

    axis_y = top + len(cells) * row + 4
    summary = f"ablation of {parts.metric or 'a metric'}: " + "; ".join(c.line for c in cells)
    title = f"ablation: {_metric_title(parts)}"
    svg = svg_open("ablation cells", width, axis_y + 44, summary, title)
    svg.append(f'<text x="4" y="30" {DIM}>faint dots: the seeds</text>')
    base = next((c for c in cells if not c.changes), None)
    if base is not None:  # the reference every other cell is read against
        svg.append(
            f'<line x1="{x(base.mean)}" y1="{top - 4}" x2="{x(base.mean)}" y2="{axis_y}" '
            f'stroke="{SOFT}" stroke-dasharray="4,3" stroke-opacity="0.7"><title>the base '
            "cell\u2019s mean</title></line>"
        )
    for index, cell in enumerate(cells):
        svg.append(_dot_row(cell, top + index * row + row / 2, x, left, width - right))
    svg.append(
        f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" stroke="{SOFT}"/>'
    )
    svg.extend(
        f'<line x1="{x(t)}" y1="{axis_y}" x2="{x(t)}" y2="{axis_y + 4}" stroke="{SOFT}"/><text '
        f'x="{x(t)}" y="{axis_y + 15}" {TEXT} text-anchor="middle">{esc(tick_text(t, step))}'
        "</text>"
        for t in ticks
    )
    svg.append(
        f'<text x="{left + plot_w / 2}" y="{axis_y + 32}" {DIM} text-anchor="middle">'
        f"{esc(_metric_title(parts))}</text></svg>"
    )
    return "".join(svg)


def _dot_row(cell: Cell, cy: float, x, left: float, right: float) -> str:
    colour = OFF_COLOUR if cell.in_design else OUT_COLOUR
    out, text = [f"<g><title>{esc(cell.line)}</title>"], format_number(cell.mean)
    if cell.low is not None and cell.high is not None:
        x0, x1 = x(cell.low), x(cell.high)
        out.append(
            f'<path class="whisker" d="M{x0} {cy}H{x1}M{x0} {cy - 4}V{cy + 4}M{x1} {cy - 4}'
            f'V{cy + 4}" stroke="{colour}" stroke-width="1.5" fill="none"/>'
        )
        ends = format_number(cell.low), format_number(cell.high)
        text += f", range {ends[0]}\u2013{ends[1]}" if cell.ranged else " [{}, {}]".format(*ends)
    out.extend(
        f'<circle class="seed" cx="{x(v)}" cy="{cy - 7}" r="2.5" fill="{colour}" '
        'fill-opacity="0.35"/>'
        for v in cell.values
    )
    if not cell.in_design:
        out.append(f'<text x="{right + 10}" y="{cy + 14}" {DIM}>not in the design</text>')
    out.append(
        f'<circle class="cell" cx="{x(cell.mean)}" cy="{cy}" r="4.5" fill="{colour}" '
        f'stroke="#ffffff" stroke-width="1.2"/><text x="{left - 8}" y="{cy + 3.5}" {TEXT} '
        f'font-weight="600" text-anchor="end">{titled(cell.name, 22)}</text>'
        f'<text x="{right + 10}" y="{cy + 3.5}" {TEXT}>{esc(text)}</text></g>'
    )
    return "".join(out)
