"""The 2-D map of an evaluation set (a PCA or other projection of embeddings) as inline SVG.

One dot per sample, coloured by its true class (a fixed palette of twelve, cycling), and a
dark cross over it where the model predicted another class, drawn on top so that the
mistakes stand out; every mark's tooltip names the sample, its class and the prediction. Up
to 5000 points must stay small: a dot is a zero-length round-capped stroke (``M1.2 3.4h0``)
inside a group that gives its colour, coordinates have one decimal, and should the tooltips
still pass the size budget, the dots' ids are cut shorter, and then only the mistakes keep
their tooltips. No script, no ids, every text
escaped (``eval_svg.esc``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlqa.core.jsonsafe import to_json_safe
from dlqa.report.eval_svg import TEXT, count_of, esc, finite, label, titled, to_json_str

# Twelve colours told apart on white (Tableau 10 and two darker ones), in a fixed order.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
)
CROSS_COLOUR = "#1f2328"
MAX_POINTS = 5000  # drawn; beyond, every mistake first and an even share of the rest
MAX_LEGEND = 20
MAX_SVG_CHARS = 400_000  # past this, the dots' tooltips get shorter ids, then none
ID_CHARS = 40


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    true: int
    predicted: int | None
    id: str

    @property
    def wrong(self) -> bool:
        return self.predicted is not None and self.predicted != self.true


@dataclass(frozen=True)
class Map:
    method: str
    classes: list[str]
    points: list[Point]

    @property
    def misclassified(self) -> int:
        return sum(point.wrong for point in self.points)


def _index(value: Any, n: int) -> int | None:
    index = count_of(value)
    return index if index is not None and index < n else None


def map_parts(item: Any) -> Map | None:
    """The points of a "map" item; None unless every point is ``[x, y, label_index,
    predicted_index]`` with finite coordinates and indices into ``classes`` (a prediction
    may be null: not known). ``ids``, when given, names the points in order."""
    item = to_json_safe(item)
    if not isinstance(item, dict):
        return None
    classes, points = item.get("classes"), item.get("points")
    if not isinstance(classes, list) or not classes or not isinstance(points, list):
        return None
    if not points:
        return None
    ids = item.get("ids")
    if ids is not None and (not isinstance(ids, list) or len(ids) != len(points)):
        return None
    n = len(classes)
    read = []
    for k, point in enumerate(points):
        if not isinstance(point, list) or len(point) not in (3, 4):
            return None
        x, y, true = point[0], point[1], _index(point[2], n)
        predicted = point[3] if len(point) == 4 else None
        if predicted is not None:
            predicted = _index(predicted, n)
            if predicted is None:
                return None
        if not (finite(x) and finite(y)) or true is None:
            return None
        name = f"#{k}" if ids is None else to_json_str(ids[k])
        read.append(Point(float(x), float(y), true, predicted, name))
    method = item.get("method")
    method = "projection" if method is None else to_json_str(method)
    names = [name if isinstance(name, str) else to_json_str(name) for name in classes]
    return Map(method, names, read)


def _drawn(points: list[Point]) -> list[Point]:
    """At most ``MAX_POINTS``: every mistake first (as many as fit), then an even share of the
    others, in their own order."""
    if len(points) <= MAX_POINTS:
        return points
    wrong = [k for k, point in enumerate(points) if point.wrong][:MAX_POINTS]
    right = [k for k, point in enumerate(points) if not point.wrong]
    room = MAX_POINTS - len(wrong)
    step = len(right) / room if room else 0
    keep = set(wrong) | {right[int(j * step)] for j in range(room)}
    return [points[k] for k in sorted(keep)]


WIDTH, HEIGHT = 780, 470
_LEFT, _TOP, _PLOT_W, _PLOT_H = 8, 30, 580, 420
_LEGEND_X = _LEFT + _PLOT_W + 14


def _scale(points: list[Point]):
    """x, y -> SVG coordinates: one scale for both axes (a projection's distances are
    comparable along both), centred in the plot."""
    xs, ys = [p.x for p in points], [p.y for p in points]
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    pad = 8
    inner_w, inner_h = _PLOT_W - 2 * pad, _PLOT_H - 2 * pad
    unit = min(inner_w / span_x if span_x else float("inf"), inner_h / span_y if span_y else 1.0)
    if unit == float("inf"):
        unit = 1.0
    mid_x, mid_y = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    cx, cy = _LEFT + _PLOT_W / 2, _TOP + _PLOT_H / 2
    return lambda v: f"{cx + (v - mid_x) * unit:.1f}", lambda v: f"{cy - (v - mid_y) * unit:.1f}"


def _id_text(sample_id: str, limit: int) -> str:
    """An id cut from the front (paths differ in their file names, at the end)."""
    cleaned = label(sample_id, len(sample_id))
    return cleaned if len(cleaned) <= limit else "\u2026" + cleaned[1 - limit :]


def _tip(point: Point, classes: list[str], id_chars: int = ID_CHARS) -> str:
    """'id: class' (a dot), 'id: class, predicted other' (a mistake)."""
    class_chars = 40 if point.wrong else 16
    text = f"{_id_text(point.id, id_chars)}: {label(classes[point.true], class_chars)}"
    if point.wrong:
        text += f", predicted {label(classes[point.predicted], 40)}"
    return esc(text)


def _dot(point: Point, classes: list[str], sx, sy, id_chars: int) -> str:
    path = f'<path d="M{sx(point.x)} {sy(point.y)}h0"'
    if not id_chars or point.wrong:  # a mistake's tooltip is on its cross
        return path + "/>"
    return f"{path}><title>{_tip(point, classes, id_chars)}</title></path>"


def _marks(points: list[Point], classes: list[str], sx, sy, id_chars: int) -> list[str]:
    """A dot per point in its class's colour, then a dark cross over every mistake (which
    carries the mistake's tooltip), so that the mistakes stand out on any colour. The dots'
    tooltips name ids of at most ``id_chars`` characters; 0: the dots have none."""
    by_colour: dict[str, list[Point]] = {}
    for point in points:
        by_colour.setdefault(PALETTE[point.true % len(PALETTE)], []).append(point)
    out = []
    for colour, group in by_colour.items():
        dots = [_dot(p, classes, sx, sy, id_chars) for p in group]
        out.append(
            f'<g class="dots" stroke="{colour}" stroke-width="5" stroke-linecap="round" '
            f'stroke-opacity="0.65">{"".join(dots)}</g>'
        )
    crosses = [
        f'<path d="M{float(sx(p.x)) - 3.5:.1f} {float(sy(p.y)) - 3.5:.1f}l7 7m0-7l-7 7">'
        f"<title>{_tip(p, classes)}</title></path>"
        for p in points
        if p.wrong
    ]
    if crosses:
        out.append(
            f'<g class="crosses" stroke="{CROSS_COLOUR}" stroke-width="1.6" fill="none">'
            f"{''.join(crosses)}</g>"
        )
    return out


def _legend(parts: Map) -> list[str]:
    counts = [0] * len(parts.classes)
    for point in parts.points:
        counts[point.true] += 1
    present = [k for k in range(len(parts.classes)) if counts[k]]
    shown = present[:MAX_LEGEND]
    out = []
    y = _TOP + 10
    for k in shown:
        out.append(
            f'<path d="M{_LEGEND_X + 5} {y - 3.5}h0" stroke="{PALETTE[k % len(PALETTE)]}" '
            'stroke-width="8" stroke-linecap="round"/>'
            f'<text x="{_LEGEND_X + 15}" y="{y}" {TEXT}>{titled(parts.classes[k], 18)} '
            f'<tspan fill-opacity="0.6">{counts[k]}</tspan></text>'
        )
        y += 16
    if len(present) > len(shown):
        out.append(
            f'<text x="{_LEGEND_X}" y="{y}" {TEXT} fill-opacity="0.8">'
            f"+{len(present) - len(shown)} more classes</text>"
        )
        y += 16
    if len(present) > len(PALETTE):
        out.append(
            f'<text x="{_LEGEND_X}" y="{y}" {TEXT} fill-opacity="0.6">'
            f"(colours repeat every {len(PALETTE)})</text>"
        )
        y += 16
    out.append(
        f'<path d="M{_LEGEND_X + 1.5} {y + 2}l7 -7m0 7l-7 -7" stroke="{CROSS_COLOUR}" '
        'stroke-width="1.6" fill="none"/>'
        f'<text x="{_LEGEND_X + 15}" y="{y + 2}" {TEXT}>misclassified (dot: true class)</text>'
    )
    return out


def map_svg(item: Any) -> str | None:
    """The scatter plot of a "map" item; None when it cannot be drawn."""
    parts = map_parts(item)
    if parts is None:
        return None
    drawn = _drawn(parts.points)
    sx, sy = _scale(drawn)
    total, wrong = len(parts.points), parts.misclassified
    heading = f"2-D map ({label(parts.method, 30)}): {total} points, {wrong} misclassified"
    note = "" if len(drawn) == total else f"; {len(drawn)} drawn, every mistake first"
    head = [
        f'<svg class="map" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{esc(heading)}">',
        f"<title>{esc(heading)}</title>",
        f'<text x="{_LEFT}" y="16" {TEXT} font-weight="600">{esc(heading)}</text>',
        f'<text x="{_LEFT + _PLOT_W}" y="16" {TEXT} text-anchor="end" fill-opacity="0.7">'
        f"colour: true class; hover a point for its id{esc(note)}</text>",
        f'<rect x="{_LEFT}" y="{_TOP}" width="{_PLOT_W}" height="{_PLOT_H}" fill="#ffffff" '
        'stroke="#d0d7de" stroke-width="1"/>',
    ]
    tail = [*_legend(parts), "</svg>"]
    fixed = sum(map(len, head)) + sum(map(len, tail))
    # Every dot with its tooltip if that fits the budget, else with shorter ids, else none.
    for id_chars in (ID_CHARS, 24, 16, 0):
        marks = _marks(drawn, parts.classes, sx, sy, id_chars)
        if fixed + sum(map(len, marks)) <= MAX_SVG_CHARS:
            break
    return "".join([*head, *marks, *tail])
