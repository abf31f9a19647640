"""Which evidence layouts are charts, and one chart as the template shows it.

Every chart is our own SVG (numbers we format, text we escape), marked safe here and nowhere
else; a chart that cannot be drawn, or whose drawing fails, is shown as its data instead, so
evidence is never dropped. Split from ``html_evidence`` to keep each module readable.
"""

from __future__ import annotations

import json
from typing import Any

from dlqa.core.jsonsafe import to_json_safe
from dlqa.report.ablation_svg import ablation_svg
from dlqa.report.eval_svg import confusion_svg
from dlqa.report.histogram_svg import overlaid_histogram_svg
from dlqa.report.mode_matrix_svg import mode_matrix_svg
from dlqa.report.reliability_svg import reliability_svg
from dlqa.report.scatter_svg import map_svg
from dlqa.report.seed_dots_svg import seed_dots_svg
from dlqa.report.sequential_svg import sequential_svg

# A chart item that cannot be drawn is shown as its data, cut to this many characters (a
# map holds thousands of points).
MAX_RAW_CHARS = 20_000

# The chart layouts: each draws one item as our own SVG, or None when it cannot.
CHARTS = {
    "histograms": overlaid_histogram_svg,
    "confusion": confusion_svg,
    "reliability": reliability_svg,
    "map": map_svg,
}
# The chart layouts that draw all the shown items of an evidence in one picture (the groups
# of a comparison on one scale, the cells of an ablation, the looks of a sequential test,
# the modes of a comparison); as above, None when they cannot.
EVIDENCE_CHARTS = {
    "seed_dots": seed_dots_svg,
    "interaction": ablation_svg,
    "sequential_path": sequential_svg,
    "mode_matrix": mode_matrix_svg,
}


def json_text(value: Any) -> str:
    return json.dumps(to_json_safe(value), indent=2, ensure_ascii=False, sort_keys=True)


def raw_text(item: Any, limit: int = MAX_RAW_CHARS) -> str:
    """An item as indented JSON, cut after ``limit`` characters."""
    text = json_text(item)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n... ({len(text) - limit} more characters)"


def chart_view(layout: str, item: Any) -> dict[str, Any]:
    """One chart: of an item, or of the list of items for an ``EVIDENCE_CHARTS`` layout."""
    from markupsafe import Markup

    try:
        svg = (CHARTS.get(layout) or EVIDENCE_CHARTS[layout])(item)
    except Exception:  # a drawing bug must not hide the evidence: show it as data
        svg = None
    if svg is None:
        return {"raw": raw_text(item)}  # not drawable: shown as data, never dropped
    # Our own SVG: numbers we format and text that every module of CHARTS and EVIDENCE_CHARTS
    # escapes.
    return {"svg": Markup(svg)}
