"""A baseline/candidate comparison in every combination of modes as an inline SVG grid.

A change can help in one mode and hurt in another (fine in fp32, a regression under AMP on
one backbone only); one cell per combination, filled with the colour of its status, shows
where. With two mode keys the rows are the first key's values and the columns the second's;
with one key a single row; with three or more, one row per combination. Each cell holds the
difference (candidate minus baseline), its interval, the verdict and the Holm-corrected p;
a combination that was not run is a grey cell that says so. Several metrics give one grid
each, stacked. Hand-written like the other charts (``eval_svg``): no script, no ids, every
text escaped, every number formatted here, only our own colours in attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dlqa.core.jsonsafe import to_json_safe
from dlqa.report.ablation_svg import DIM, signed, svg_open
from dlqa.report.eval_svg import GRID, TEXT, esc, finite, label, mix, titled
from dlqa.report.intervals import status_colour
from dlqa.report.text import format_number

MAX_ITEMS = 400
MAX_COLUMNS = 8  # a wider grid is drawn as one row per combination
CELL_W, CELL_H, HEADER, TITLE = 140, 62, 22, 22
EMPTY_FILL = "#f6f8fa"
BOLD = ' font-weight="600"'


@dataclass(frozen=True)
class Comparison:
    mode: tuple[tuple[str, str], ...]  # (key, value) in the item's order; () when it has none
    label: str
    metric: str
    difference: float | None
    low: float | None
    high: float | None
    verdict: str
    status: str
    p_holm: float | None
    line: str  # the describer's line: the tooltip


def _plain(value: Any) -> str:
    return format_number(value) if isinstance(value, float) else str(value)


def _label(item: dict) -> str | None:
    if isinstance(item.get("label"), str) and item["label"]:
        return item["label"]
    mode = item.get("mode")
    if isinstance(mode, dict) and mode:
        return ",".join(f"{key}={_plain(value)}" for key, value in mode.items())
    return None


def _ci(item: dict) -> tuple[float, float] | None:
    ci = item.get("ci")
    if isinstance(ci, list) and len(ci) == 2 and all(finite(v) for v in ci):
        return float(min(ci)), float(max(ci))
    return None


def mode_matrix_line(item: Any) -> str | None:
    """'backbone=resnet,precision=amp accuracy: -0.005 [-0.009, -0.001] regressed (Holm p
    0.04)'; None when ``item`` names no mode."""
    item = to_json_safe(item)
    name = _label(item) if isinstance(item, dict) else None
    if name is None:
        return None
    line = f"{name} {item['metric']}:" if item.get("metric") else f"{name}:"
    difference = item.get("difference")
    if finite(difference):
        line += f" {'+' if difference > 0 else ''}{format_number(difference)}"
    ci = _ci(item)
    if ci is not None:
        line += f" [{format_number(ci[0])}, {format_number(ci[1])}]"
    if item.get("verdict"):
        line += f" {item['verdict']}"
    for key, name in (("p_holm", "Holm p"), ("p_value", "p")):
        if finite(item.get(key)):
            return line + f" ({name} {format_number(item[key])})"
    return line


def _comparison(item: Any) -> Comparison | None:
    line = mode_matrix_line(item)
    if line is None:
        return None
    mode = item.get("mode")
    pairs = tuple((str(k), _plain(v)) for k, v in mode.items()) if isinstance(mode, dict) else ()
    difference, ci, p_holm = item.get("difference"), _ci(item), item.get("p_holm")
    for key, name in (("baseline_mean", "baseline"), ("candidate_mean", "candidate")):
        if finite(item.get(key)):
            line += f"; {name} {format_number(item[key])}"
    n = item.get("n")
    if isinstance(n, list) and len(n) == 2:
        line += f"; n {_plain(n[0])} and {_plain(n[1])} seeds"
    return Comparison(
        pairs,
        str(_label(item)),
        str(item.get("metric") or ""),
        float(difference) if finite(difference) else None,
        *(ci or (None, None)),
        str(item.get("verdict") or ""),
        str(item.get("status") or ""),
        float(p_holm) if finite(p_holm) else None,
        line,
    )


def mode_matrix_parts(item_or_items: Any) -> list[Comparison] | None:
    """The comparisons of a "mode_matrix" evidence that name their mode; None when none does."""
    items = to_json_safe(item_or_items)
    items = [items] if isinstance(items, Mapping) else items
    if not isinstance(items, list):
        return None
    found = [c for c in map(_comparison, items[:MAX_ITEMS]) if c is not None]
    return found or None


def _first_seen(values) -> list:
    return list(dict.fromkeys(values))


def _layout(cells: list[Comparison]) -> tuple[str, str, list[str], list[str]]:
    """(row key, column key, row names, column names) of the grid: the values of two keys,
    one row of one key's values, else one row per combination (by its label)."""
    keys = {tuple(key for key, _ in c.mode) for c in cells}
    if len(keys) == 1 and len(next(iter(keys))) in (1, 2):
        (names,) = keys
        columns = _first_seen(c.mode[-1][1] for c in cells)
        if len(columns) <= MAX_COLUMNS:
            rows = _first_seen(c.mode[0][1] for c in cells) if len(names) == 2 else [""]
            return (names[0] if len(names) == 2 else ""), names[-1], rows, columns
    return "", "", _first_seen(c.label for c in cells), [""]


def _where(c: Comparison, row_key: str, column_key: str) -> tuple[str, str]:
    if not column_key:
        return c.label, ""
    return (c.mode[0][1] if row_key else ""), c.mode[-1][1]


def mode_matrix_svg(item_or_items: Any) -> str | None:
    """The grid of a "mode_matrix" evidence; None when it cannot be drawn."""
    cells = mode_matrix_parts(item_or_items)
    if cells is None:
        return None
    row_key, column_key, rows, columns = _layout(cells)
    left = 150 if column_key else 260
    metrics = _first_seen(c.metric for c in cells)
    width = left + len(columns) * CELL_W + 8
    block = TITLE + (HEADER if column_key else 0) + len(rows) * CELL_H + 12
    height = 46 + len(metrics) * block
    summary = "candidate \u2212 baseline in every mode: " + "; ".join(c.line for c in cells)
    title = "every mode: candidate \u2212 baseline"
    svg = svg_open("mode-matrix", max(width, 420), height, summary, title)
    missing = False
    for index, metric in enumerate(metrics):
        top = 46 + index * block
        found: dict[tuple[str, str], Comparison] = {}
        for c in cells:
            if c.metric == metric:
                found.setdefault(_where(c, row_key, column_key), c)
        svg.append(
            f'<text x="4" y="{top + 14}" {TEXT} font-weight="600">'
            f"{titled(metric or 'metric', 40)}</text>"
        )
        grid_top = top + TITLE
        if column_key:
            svg.append(_headers(row_key, column_key, columns, left, grid_top))
            grid_top += HEADER
        for r, row in enumerate(rows):
            y = grid_top + r * CELL_H
            name = row if row_key or not column_key else column_key  # one key: its name
            svg.append(
                f'<text x="{left - 8}" y="{y + CELL_H / 2 + 3.5}" {TEXT} font-weight="600" '
                f'text-anchor="end">{titled(name, 22 if column_key else 40)}</text>'
            )
            for k, column in enumerate(columns):
                cell = found.get((row, column))
                missing |= cell is None
                svg.append(_cell(cell, left + k * CELL_W, y))
    svg.extend(_legend(cells, missing))
    return "".join(svg) + "</svg>"


def _headers(row_key: str, column_key: str, columns: list[str], left: float, y: float) -> str:
    """The column values over the cells; the keys in the corner ("rows \u2193, columns \u2192")."""
    out = []
    if row_key:
        corner = f"{label(row_key, 14)} \u2193  {label(column_key, 14)} \u2192"
        out.append(
            f'<text x="{left - 8}" y="{y + 14}" {DIM} text-anchor="end">{esc(corner)}</text>'
        )
    for k, column in enumerate(columns):
        out.append(
            f'<text x="{left + k * CELL_W + CELL_W / 2}" y="{y + 14}" {TEXT} font-weight="600" '
            f'text-anchor="middle">{titled(column, 22)}</text>'
        )
    return "".join(out)


def _cell(cell: Comparison | None, x: float, y: float) -> str:
    w, h, cx = CELL_W - 4, CELL_H - 4, x + CELL_W / 2
    if cell is None:
        return (
            f'<g class="not-run"><title>not run</title><rect x="{x + 2}" y="{y + 2}" '
            f'width="{w}" height="{h}" rx="3" fill="{EMPTY_FILL}" stroke="{GRID}" '
            f'stroke-dasharray="3,2"/><text x="{cx}" y="{y + CELL_H / 2 + 3.5}" {DIM} '
            'text-anchor="middle">not run</text></g>'
        )
    colour = status_colour(cell.status)  # one of the report's own colours, nothing else
    lines = [signed(cell.difference) if cell.difference is not None else "no estimate"]
    lines.append(
        f"[{signed(cell.low)}, {signed(cell.high)}]" if cell.low is not None else "no interval"
    )
    lines.append(cell.verdict.replace("_", " ") or cell.status or "no verdict")
    if cell.p_holm is not None:
        lines.append(f"Holm p {format_number(cell.p_holm)}")
    texts = "".join(
        f'<text x="{cx}" y="{y + 15 + 13 * i}" {TEXT} text-anchor="middle"'
        f"{BOLD * (i in (0, 2))}>{esc(label(text, 26))}</text>"
        for i, text in enumerate(lines)
    )
    return (
        f'<g class="mode-cell"><title>{esc(cell.line)}</title><rect x="{x + 2}" y="{y + 2}" '
        f'width="{w}" height="{h}" rx="3" fill="{mix(colour, 0.16)}" stroke="{colour}"/>'
        f"{texts}</g>"
    )


def _legend(cells: list[Comparison], missing: bool) -> list[str]:
    statuses = _first_seen(c.status for c in cells if c.status)
    x, y, out = 4.0, 34, []
    for status in statuses[:6]:
        colour = status_colour(status)
        out.append(
            f'<rect x="{x}" y="{y - 8}" width="14" height="10" rx="2" fill="{mix(colour, 0.16)}" '
            f'stroke="{colour}"/><text x="{x + 19}" y="{y}" {TEXT}>{esc(label(status, 16))}</text>'
        )
        x += 34 + 6 * len(label(status, 16))
    if missing:
        out.append(
            f'<rect x="{x}" y="{y - 8}" width="14" height="10" rx="2" fill="{EMPTY_FILL}" '
            f'stroke="{GRID}" stroke-dasharray="3,2"/><text x="{x + 19}" y="{y}" {TEXT}>'
            "not run</text>"
        )
    return out
