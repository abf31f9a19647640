"""The seeds of two compared groups, and the difference of their means, as inline SVG.

One row per group (baseline in blue, candidate in orange) on one shared horizontal scale:
each seed's final value is a dot (dots that would overlap are stacked), a thin line spans
the group's range and a tall tick marks its mean. Under the groups, the difference of the
means (candidate minus baseline) is drawn on the same scale, Gardner-Altman style: its zero
is the baseline's mean (the dashed line through every row), so the diamond sits exactly
under the candidate's mean and the bar around it is the interval of the difference. Whether
the bar crosses the dashed line reads at a glance, and at the same scale as the spread of
the seeds. Hand-written like the other charts (``eval_svg``): no script, no ids, every text
escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dlqa.core.jsonsafe import to_json_safe
from dlqa.report.eval_svg import SOFT, TEXT, esc, finite, label, titled
from dlqa.report.text import format_number

WIDTH = 640
_LEFT, _RIGHT, _TOP = 128, 166, 40  # group names; each group's mean; title and legend
_PLOT = WIDTH - _LEFT - _RIGHT
_ROW, RADIUS = 32, 4
_LANES = (0, -5, 5, -10, 10)  # vertical offsets of dots that would overlap
MAX_GROUPS = 8
MAX_VALUES = 2000  # per group: more than this is not a seed group
NAME_CHARS = 16
# (fill, outline): Okabe-Ito blue and orange, as the overlaid histograms use them.
COLOURS = {"baseline": ("#0072b2", "#0072b2"), "candidate": ("#e69f00", "#9a6700")}
OTHER_COLOURS = ("#6e7781", "#57606a")
ZERO_COLOUR = "#57606a"


@dataclass(frozen=True)
class Group:
    name: str
    role: str
    values: list[float]
    reproducible: bool | None = None

    @property
    def mean(self) -> float | None:
        return sum(self.values) / len(self.values) if self.values else None


@dataclass(frozen=True)
class Difference:
    """Candidate minus baseline, drawn with its zero at ``origin`` (the baseline's mean)."""

    value: float
    origin: float
    low: float | None = None
    high: float | None = None
    level: float | None = None
    higher_is_better: bool | None = None


def _values(raw: Any) -> list[float] | None:
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)) or len(raw) > MAX_VALUES:
        return None
    return [float(v) for v in raw] if all(finite(v) for v in raw) else None


def _difference(items: list[dict], groups: list[Group]) -> Difference | None:
    """The difference of the first baseline and candidate groups with seeds: the candidate
    item's ``difference`` (else the difference of the means), ``ci`` and ``ci_level``."""
    found = {}
    for item, group in zip(items, groups, strict=True):
        if group.role in ("baseline", "candidate") and group.values:
            found.setdefault(group.role, (item, group))
    if len(found) < 2:
        return None
    (_, base), (item, cand) = found["baseline"], found["candidate"]
    assert base.mean is not None and cand.mean is not None
    value = item.get("difference")
    value = float(value) if finite(value) else cand.mean - base.mean
    ci, level = item.get("ci"), item.get("ci_level")
    low = high = None
    if isinstance(ci, list) and len(ci) == 2 and all(finite(v) for v in ci):
        low, high = float(min(ci)), float(max(ci))
    level = float(level) if finite(level) and 0 < level < 1 else None
    better = item.get("higher_is_better")
    return Difference(
        value, base.mean, low, high, level, better if isinstance(better, bool) else None
    )


def seed_groups_parts(item_or_items: Any) -> tuple[list[Group], Difference | None] | None:
    """The groups of a "seed_groups" evidence (its item list, or one item) and the
    difference to draw; None when an item is not a group or no group has a value."""
    items = to_json_safe(item_or_items)
    items = [items] if isinstance(items, Mapping) else items
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_GROUPS:
        return None
    groups = []
    for item in items:
        values = _values(item.get("values")) if isinstance(item, dict) else None
        if values is None:
            return None
        reproducible = item.get("reproducible")
        reproducible = reproducible if isinstance(reproducible, bool) else None
        groups.append(
            Group(str(item.get("group", "?")), str(item.get("role", "")), values, reproducible)
        )
    if not any(group.values for group in groups):
        return None
    return groups, _difference(items, groups)


# --- scales, shared with the ablation and sequential charts ------------------------------


def nice_step(span: float) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about four ticks over
    ``span``; 1 for a span that is not a positive finite number (nothing to divide)."""
    if not (math.isfinite(span) and span > 0):
        return 1.0
    raw = span / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * 0.999)


def padded_range(numbers: Sequence[float], share: float = 0.06) -> tuple[float, float]:
    """The range of ``numbers`` (finite, at least one) widened by ``share`` of its span each
    side, so that no mark sits on the edge; a single value still gets a width."""
    low, high = min(numbers), max(numbers)
    pad = (high - low) * share if high > low else abs(low) * 0.05 or 1.0
    return low - pad, high + pad


def _domain(groups: list[Group], diff: Difference | None) -> tuple[float, float]:
    numbers = [v for group in groups for v in group.values]
    if diff is not None:
        ends = [diff.value] + [v for v in (diff.low, diff.high) if v is not None]
        numbers += [diff.origin + v for v in ends] + [diff.origin]
    return padded_range(numbers)


def scale_ticks(low: float, high: float, step: float, origin: float = 0.0) -> list[float]:
    """Multiples of ``step`` from ``origin`` that fall in [low, high], as offsets."""
    first = math.ceil((low - origin) / step - 1e-9)
    last = math.floor((high - origin) / step + 1e-9)
    return [k * step for k in range(first, last + 1)][:12]


def tick_text(value: float, step: float, signed: bool = False) -> str:
    """A tick's label with as many decimals as its step needs ("0.9025" for a step of 0.0025)."""
    mantissa = round(step / 10 ** math.floor(math.log10(step)), 6)
    digits = max(0, -math.floor(math.log10(step)) + (0 if mantissa in (1, 2, 5) else 1))
    text = f"{value:.{digits}f}" if digits <= 10 else format_number(value)
    if float(text) == 0:
        return "0"
    return f"+{text}" if signed and value > 0 else text.replace("-", "\u2212")


def seed_dots_svg(item_or_items: Any) -> str | None:
    """The chart of a "seed_groups" evidence; None when it cannot be drawn."""
    parts = seed_groups_parts(item_or_items)
    if parts is None:
        return None
    groups, diff = parts
    low, high = _domain(groups, diff)
    step = nice_step(high - low)

    def x(v: float) -> float:
        return round(_LEFT + (v - low) / (high - low) * _PLOT, 1)

    axis_y = _TOP + len(groups) * _ROW + 4
    row_y = axis_y + 44  # the difference's row
    bottom = row_y + _ROW / 2 + 40 if diff is not None else axis_y + 30
    summary = "; ".join(_group_line(g) for g in groups)
    svg = [
        "",  # the opening tag, once the height is known
        f"<title>{esc(summary)}</title>",
        f'<text x="4" y="13" {TEXT} font-weight="600">seeds of each group</text>',
        *_legend(diff),
    ]
    if diff is not None:  # under the rows: it runs through them
        svg.append(_zero_line(x(diff.origin), _TOP + 2, row_y + _ROW / 2 - 4))
    for index, group in enumerate(groups):
        svg.append(_row(group, _TOP + index * _ROW + _ROW / 2, x))
    svg.extend(_axis(axis_y, scale_ticks(low, high, step), x, lambda t: tick_text(t, step)))
    if diff is not None:
        origin = diff.origin
        svg.append(_difference_row(diff, row_y, x))
        svg.extend(
            _axis(
                row_y + _ROW / 2,
                scale_ticks(low, high, step, origin),
                lambda t: x(origin + t),
                lambda t: tick_text(t, step, signed=True),
            )
        )
        svg.append(_difference_title(diff, row_y + _ROW / 2 + 34))
    svg[0] = (
        f'<svg class="seed-dots" width="{WIDTH}" height="{bottom}" '
        f'viewBox="0 0 {WIDTH} {bottom}" role="img" aria-label="{esc(summary)}">'
    )
    svg.append("</svg>")
    return "".join(svg)


def _seeds(n: int) -> str:
    return f"{n} seed{'s' if n != 1 else ''}"


def _group_line(group: Group) -> str:
    line = f"{label(group.name, 120)}{f' ({group.role})' if group.role else ''}: "
    values = group.values
    if not values:
        return line + "no seeds"
    line += f"{_seeds(len(values))}, mean {format_number(group.mean)}"
    if len(values) > 1:
        line += f", range {format_number(min(values))} .. {format_number(max(values))}"
    return line


def _side_texts(cy: float, name: str, role: str, first: str, second: str, alert=False) -> str:
    """A row's name (markup) and role on the left, two lines of numbers on the right."""
    right, dim = WIDTH - _RIGHT + 10, f'{TEXT} fill-opacity="0.7"'
    second_style = TEXT.replace('fill="#1f2328"', 'fill="#cf222e"') if alert else dim
    return (
        f'<text x="{_LEFT - 8}" y="{cy - 1}" {TEXT} font-weight="600" text-anchor="end">'
        f'{name}</text><text x="{_LEFT - 8}" y="{cy + 11}" {dim} text-anchor="end">'
        f'{esc(role)}</text><text x="{right}" y="{cy - 1}" {TEXT}>{esc(first)}</text>'
        f'<text x="{right}" y="{cy + 11}" {second_style}>{esc(second)}</text>'
    )


def _row(group: Group, cy: float, x) -> str:
    fill, outline = COLOURS.get(group.role, OTHER_COLOURS)
    out = [f"<g><title>{esc(_group_line(group))}</title>"]
    name, role = titled(group.name, NAME_CHARS), label(group.role, NAME_CHARS)
    if not group.values:
        out.append(_side_texts(cy, name, role, "", "no seeds"))
        return "".join(out) + "</g>"
    lo, hi = x(min(group.values)), x(max(group.values))
    out.append(
        f'<line x1="{lo}" y1="{cy}" x2="{hi}" y2="{cy}" stroke="{outline}" '
        'stroke-opacity="0.45" stroke-width="1.5"/>'
    )
    last: dict[int, float] = {}  # lane -> where its last dot is
    for value in sorted(group.values):
        cx = x(value)
        lane = next((i for i in range(len(_LANES)) if cx - last.get(i, -1e9) >= 2 * RADIUS), 0)
        last[lane] = cx
        out.append(
            f'<circle class="seed" cx="{cx}" cy="{cy + _LANES[lane]}" r="{RADIUS}" '
            f'fill="{fill}" fill-opacity="0.75" stroke="{outline}" stroke-width="1">'
            f"<title>{esc(f'one seed: {format_number(value)}')}</title></circle>"
        )
    mean = f"mean {format_number(group.mean)}"
    mx = x(group.mean or 0.0)
    out.append(
        f'<line class="mean" x1="{mx}" y1="{cy - 13}" x2="{mx}" y2="{cy + 13}" '
        f'stroke="{outline}" stroke-width="2.5"><title>{esc(mean)}</title></line>'
    )
    note = _seeds(len(group.values))
    note += ", not reproducible" if group.reproducible is False else ""
    out.append(_side_texts(cy, name, role, mean, note, alert=group.reproducible is False))
    return "".join(out) + "</g>"


def _axis(y: float, ticks: list[float], x, text) -> list[str]:
    out = [
        f'<line x1="{_LEFT}" y1="{y}" x2="{_LEFT + _PLOT}" y2="{y}" stroke="{SOFT}" '
        'stroke-width="1"/>'
    ]
    for tick in ticks:
        out.append(
            f'<line x1="{x(tick)}" y1="{y}" x2="{x(tick)}" y2="{y + 4}" stroke="{SOFT}"/>'
            f'<text x="{x(tick)}" y="{y + 15}" {TEXT} text-anchor="middle">'
            f"{esc(text(tick))}</text>"
        )
    return out


def _zero_line(x0: float, top: float, bottom: float) -> str:
    return (
        f'<line x1="{x0}" y1="{top}" x2="{x0}" y2="{bottom}" stroke="{ZERO_COLOUR}" '
        'stroke-width="1" stroke-dasharray="4,3" stroke-opacity="0.7">'
        "<title>zero difference: the baseline&#x27;s mean</title></line>"
    )


def _interval_text(diff: Difference) -> str:
    if diff.low is None or diff.high is None:
        return "no interval"
    level = f" {format_number(round(diff.level * 100, 2))}%" if diff.level else ""
    return f"[{format_number(diff.low)}, {format_number(diff.high)}]{level} CI"


def _difference_row(diff: Difference, cy: float, x) -> str:
    fill, outline = COLOURS["candidate"]
    value = f"{'+' if diff.value > 0 else ''}{format_number(diff.value)}"
    out = [f"<g><title>{esc(f'difference {value} {_interval_text(diff)}')}</title>"]
    if diff.low is not None and diff.high is not None:
        x0, x1 = x(diff.origin + diff.low), x(diff.origin + diff.high)
        out.append(
            f'<rect class="ci" x="{x0}" y="{cy - 4}" width="{max(round(x1 - x0, 1), 1.0)}" '
            f'height="8" fill="{fill}" fill-opacity="0.4" stroke="{outline}" stroke-width="1"/>'
            f'<path d="M{x0} {cy - 8}V{cy + 8}M{x1} {cy - 8}V{cy + 8}" stroke="{outline}" '
            'stroke-width="1.5"/>'
        )
    cx = x(diff.origin + diff.value)
    out.append(
        f'<path class="difference" d="M{cx} {cy - 6}L{cx + 6} {cy}L{cx} {cy + 6}L{cx - 6} {cy}Z" '
        f'fill="{outline}" stroke="#ffffff" stroke-width="1"/>'
    )
    role = "candidate \u2212 baseline"
    out.append(_side_texts(cy, "difference", role, value, _interval_text(diff)))
    return "".join(out) + "</g>"


def _difference_title(diff: Difference, y: float) -> str:
    out = (
        f'<text x="{_LEFT + _PLOT / 2}" y="{y}" {TEXT} text-anchor="middle" fill-opacity="0.8">'
        "difference, on the same scale (0 at the baseline\u2019s mean)</text>"
    )
    if diff.higher_is_better is not None:  # above the difference's row, at its better end
        end, anchor = (_LEFT + _PLOT, "end") if diff.higher_is_better else (_LEFT, "start")
        arrow = "better \u2192" if diff.higher_is_better else "\u2190 better"
        out += (
            f'<text x="{end}" y="{y - _ROW - 34}" {TEXT} text-anchor="{anchor}" '
            f'fill-opacity="0.8">{arrow}</text>'
        )
    return out


def _legend(diff: Difference | None) -> list[str]:
    x, y = _LEFT + 40, 28
    out = [
        f'<circle cx="{x}" cy="{y - 3}" r="{RADIUS}" fill="#6e7781" fill-opacity="0.75"/>'
        f'<text x="{x + 8}" y="{y}" {TEXT}>a seed</text>',
        f'<line x1="{x + 60}" y1="{y - 9}" x2="{x + 60}" y2="{y + 3}" stroke="#57606a" '
        f'stroke-width="2.5"/><text x="{x + 66}" y="{y}" {TEXT}>mean</text>',
    ]
    if diff is not None:
        out.append(
            f'<path d="M{x + 112} {y - 8}L{x + 117} {y - 3}L{x + 112} {y + 2}L{x + 107} {y - 3}Z" '
            f'fill="#9a6700"/><text x="{x + 122}" y="{y}" {TEXT}>difference of the means, '
            "with its interval</text>"
        )
    return out
