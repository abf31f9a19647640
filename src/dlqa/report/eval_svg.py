"""The pictures of an evaluation as inline SVG: here a confusion matrix as a heat map, and
the helpers the others share (the reliability diagram is in ``reliability_svg``, the 2-D map
of an embedding in ``scatter_svg``).

Hand-written like the histograms (``histogram_svg.py``), not matplotlib: each costs a few
kilobytes, needs no script and no external reference, and carries no ids (several charts
share one page). Every text node and attribute value is escaped here, every number is
formatted here; an item that cannot be drawn gives None, and the page shows its data as
text instead. The ``*_parts`` readers also serve the one-line describers of ``evidence``.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from html import escape
from typing import Any

from dlqa.core.jsonsafe import to_json_safe
from dlqa.report.text import format_number

TEXT = 'font-family="system-ui, sans-serif" font-size="10" fill="#1f2328"'
INK, GRID, SOFT = "#1f2328", "#d0d7de", "#57606a"
MAX_CLASSES = 1000  # a confusion matrix larger than this is not drawn (it is not ours)
MAX_SHOWN_CLASSES = 30  # beyond this, the classes in the most errors
MAX_COUNTED_CLASSES = 20  # up to this many classes, the counts are written in the cells
NAME_CHARS = 16


def esc(text: Any) -> str:
    """Text for an SVG text node or a quoted attribute value."""
    return escape(str(text), quote=True)


def label(text: Any, limit: int = NAME_CHARS) -> str:
    """A name as a chart prints it (unescaped): invisible and control characters replaced,
    at most ``limit`` characters, an ellipsis where it was cut."""
    cleaned = "".join(
        "\ufffd" if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co") else char
        for char in str(text)
    )
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "\u2026"


def titled(text: Any, limit: int = NAME_CHARS) -> str:
    """A shortened name as SVG text content, with the full name (up to 120 characters) as
    its tooltip when it was cut."""
    short, full = label(text, limit), label(text, 120)
    return esc(short) if short == full else f"<title>{esc(full)}</title>{esc(short)}"


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def count_of(value: Any) -> int | None:
    """A count: a non-negative whole number (``3.0`` is 3), else None."""
    if not finite(value) or value < 0 or value != int(value):
        return None
    return int(value)


def percent(rate: float) -> str:
    return f"{format_number(round(100 * rate, 1))}%"


def mix(colour: str, strength: float) -> str:
    """``colour`` (``#rrggbb``) mixed into white: 0 is white, 1 the colour itself."""
    strength = min(max(strength, 0.0), 1.0)
    channels = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(255 - (255 - c) * strength):02x}" for c in channels)


# --- confusion matrix ------------------------------------------------------------------

RECALL_COLOUR = "#0a4d8c"  # the diagonal: deeper blue, higher recall
ERROR_COLOUR = "#b3261e"  # elsewhere: deeper red, a larger share of the row mistaken


@dataclass(frozen=True)
class Confusion:
    classes: list[str]
    matrix: list[list[int]]

    @property
    def total(self) -> int:
        return sum(map(sum, self.matrix))

    @property
    def errors(self) -> int:
        return self.total - sum(self.matrix[i][i] for i in range(len(self.classes)))

    def most_confused(self) -> tuple[int, int, int] | None:
        """(true index, predicted index, count) of the largest off-diagonal cell."""
        best = None
        for t, row in enumerate(self.matrix):
            for p, count in enumerate(row):
                if t != p and count > 0 and (best is None or count > best[2]):
                    best = (t, p, count)
        return best


def confusion_parts(item: Any) -> Confusion | None:
    """The classes and counts of a "confusion" item; None unless the matrix is square, of
    the classes' size, and made of counts."""
    item = to_json_safe(item)
    if not isinstance(item, dict):
        return None
    classes, matrix = item.get("classes"), item.get("matrix")
    if not isinstance(classes, list) or not 1 <= len(classes) <= MAX_CLASSES:
        return None
    if not isinstance(matrix, list) or len(matrix) != len(classes):
        return None
    rows = []
    for row in matrix:
        if not isinstance(row, list) or len(row) != len(classes):
            return None
        counts = [count_of(value) for value in row]
        if any(count is None for count in counts):
            return None
        rows.append(counts)
    names = [name if isinstance(name, str) else to_json_str(name) for name in classes]
    return Confusion(names, rows)


def to_json_str(value: Any) -> str:
    return "null" if value is None else str(value)


def shown_classes(confusion: Confusion, limit: int = MAX_SHOWN_CLASSES) -> list[int]:
    """Every class when there are at most ``limit``; else the ``limit`` classes involved in
    the most errors (as the true or the predicted class), in their own order."""
    n = len(confusion.classes)
    if n <= limit:
        return list(range(n))
    involved = [0] * n
    for t, row in enumerate(confusion.matrix):
        for p, count in enumerate(row):
            if t != p:
                involved[t] += count
                involved[p] += count
    ranked = sorted(range(n), key=lambda k: (-involved[k], k))
    return sorted(ranked[:limit])


def _count_text(count: int) -> str:
    return str(count) if count < 10_000 else f"{format_number(round(count / 1000))}k"


def confusion_svg(item: Any) -> str | None:
    """The heat map of a "confusion" item; None when it cannot be drawn."""
    confusion = confusion_parts(item)
    if confusion is None:
        return None
    names, matrix = confusion.classes, confusion.matrix
    shown = shown_classes(confusion)
    k = len(shown)
    cell = max(18, min(36, 560 // k))
    counted = k <= MAX_COUNTED_CLASSES
    longest = max(len(label(names[i])) for i in shown)
    left = 34 + round(longest * 6.2)  # the axis title, then the row names
    top = 52 + round(longest * 4.4)  # two header lines, then the slanted column names
    side = cell * k
    width = max(left + side + round(longest * 4.4) + 16, 520)
    height = top + side + (62 if k < len(names) else 48)
    row_totals = [sum(row) for row in matrix]
    errors, total = confusion.errors, confusion.total
    accuracy = f" (accuracy {percent(1 - errors / total)})" if total else ""
    heading = f"confusion matrix, {len(names)} classes, {errors} errors in {total}{accuracy}"
    svg = [
        f'<svg class="confusion" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(heading)}">',
        f"<title>{esc(heading)}</title>",
        f'<text x="4" y="14" {TEXT} font-weight="600">{esc(heading)}</text>',
        f'<text x="{left + side / 2}" y="32" {TEXT} text-anchor="middle" fill-opacity="0.8">'
        "predicted class</text>",
        f'<text transform="translate(12 {top + side / 2}) rotate(-90)" {TEXT} '
        'text-anchor="middle" fill-opacity="0.8">true class</text>',
    ]
    size = 10 if cell >= 26 else 8
    for r, t in enumerate(shown):
        y = top + r * cell
        svg.append(
            f'<text x="{left - 5}" y="{y + cell / 2 + 3.5}" {TEXT} text-anchor="end">'
            f"{titled(names[t])}</text>"
        )
        x = left + r * cell
        svg.append(
            f'<text transform="translate({x + cell / 2 + 3} {top - 5}) rotate(-45)" {TEXT}>'
            f"{titled(names[t])}</text>"
        )
        for c, p in enumerate(shown):
            svg.append(_cell(names, matrix, row_totals[t], t, p, left + c * cell, y, cell))
            count = matrix[t][p]
            if counted and (count or t == p):
                rate = count / row_totals[t] if row_totals[t] else 0.0
                light = _strength(rate, t == p) > 0.55
                svg.append(
                    f'<text x="{left + c * cell + cell / 2}" y="{y + cell / 2 + size / 2.8}" '
                    f'font-family="system-ui, sans-serif" font-size="{size}" '
                    f'fill="{"#ffffff" if light else INK}" text-anchor="middle" '
                    f'pointer-events="none">{_count_text(count)}</text>'
                )
    svg.append(
        f'<rect x="{left}" y="{top}" width="{side}" height="{side}" fill="none" '
        f'stroke="{SOFT}" stroke-width="1"/>'
    )
    legend_y = top + side + 18
    svg.append(
        f'<text x="4" y="{legend_y}" {TEXT}>rows: true class, columns: predicted</text>'
        f'<text x="4" y="{legend_y + 14}" {TEXT} fill-opacity="0.8">colour: share of the row; '
        "blue: recall (diagonal), red: errors (square-root scale)</text>"
    )
    if k < len(names):
        hidden = errors - sum(matrix[t][p] for t in shown for p in shown if t != p)
        svg.append(
            f'<text x="4" y="{legend_y + 28}" {TEXT} fill-opacity="0.8">{k} of {len(names)} '
            f"classes shown, those in the most errors; {len(names) - k} left out, "
            f"{hidden} errors outside the cells shown</text>"
        )
    svg.append("</svg>")
    return "".join(svg)


def _strength(rate: float, diagonal: bool) -> float:
    # Errors on a square-root scale, so that a share of a few percent still shows.
    return rate if diagonal else math.sqrt(rate)


def _cell(names, matrix, row_total: int, t: int, p: int, x: float, y: float, cell: int) -> str:
    count = matrix[t][p]
    rate = count / row_total if row_total else 0.0
    colour = RECALL_COLOUR if t == p else ERROR_COLOUR
    fill = mix(colour, _strength(rate, t == p)) if row_total else "#f6f8fa"
    rect = (
        f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" '
        'stroke="#ffffff" stroke-width="1"'
    )
    if not count and t != p:
        return rect + "/>"
    true, predicted = label(names[t], 60), label(names[p], 60)
    if row_total:
        share = f"{percent(rate)} of {row_total} {true}"
        what = f"recall {share}" if t == p else share
    else:
        what = "no samples of this class"
    tip = f"true {true}, predicted {predicted}: {count} ({what})"
    return f"{rect}><title>{esc(tip)}</title></rect>"
