"""The HTML view: one self-contained file that opens offline and can be attached to a ticket.

Everything is inline (CSS, SVG charts and interval bars, thumbnails as data URIs); nothing
points outside the file. All user-provided text goes through jinja2's autoescaping; only SVG
that we generate (matplotlib's writer and ``intervals`` both escape their own text) is marked
safe. Which layout an evidence kind gets comes from ``dlqa.report.evidence``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dlqa._version import __version__
from dlqa.core.jsonsafe import to_json_safe
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.report.evidence import evidence_heading, evidence_kind, shorten
from dlqa.report.files import write_text_atomic
from dlqa.report.intervals import interval_bar_svg
from dlqa.report.model import Report
from dlqa.report.text import (
    counts_line,
    format_interval,
    format_number,
    incomplete_line,
    inconclusive_note,
    not_blocking_reason,
    notes_of,
    run_failed,
    verdict_line,
)
from dlqa.report.thumbnails import image_data_uri

MAX_THUMBNAILS_PER_RESULT = 12
MAX_GROUP_MEMBERS_SHOWN = 6
MAX_TEXT_CHARS = 400
HEADER_META_KEYS = ("source", "n_samples", "fingerprint", "snapshot_id", "run_id")
SECTION_STATUSES = (Status.WARN, Status.FAIL, Status.ERROR, Status.INCONCLUSIVE)

_TEMPLATE_NAME = "report.html.j2"


def _json_text(value: Any) -> str:
    return json.dumps(to_json_safe(value), indent=2, ensure_ascii=False, sort_keys=True)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value)
    return json.dumps(to_json_safe(value), ensure_ascii=False)


class _Thumbnails:
    """Data URIs of the stored thumbnails, each encoded once however often it is shown."""

    def __init__(self, thumbnails: Mapping[str, bytes]) -> None:
        self._images = thumbnails
        self._uris: dict[str, str | None] = {}

    def uri(self, sample_id: str) -> str | None:
        if sample_id not in self._uris:
            data = self._images.get(sample_id)
            self._uris[sample_id] = image_data_uri(data) if data else None
        return self._uris[sample_id]


class _ThumbnailBudget:
    """At most ``limit`` images for one result (page size); later tiles show text only."""

    def __init__(self, thumbnails: _Thumbnails, limit: int) -> None:
        self._thumbnails = thumbnails
        self._left = limit

    def take(self, sample_id: str) -> str | None:
        if self._left <= 0:
            return None
        uri = self._thumbnails.uri(sample_id)
        if uri is not None:
            self._left -= 1
        return uri


def _tile(sample_id: Any, budget: _ThumbnailBudget, **fields: Any) -> dict[str, Any]:
    return {"id": str(sample_id), "thumb": budget.take(str(sample_id)), **fields}


def _sample_tile(item: Any, budget: _ThumbnailBudget) -> dict[str, Any] | None:
    if isinstance(item, (str, int)):
        return _tile(item, budget)
    if not isinstance(item, dict) or "id" not in item:
        return None
    known = {"id", "label", "split", "value", "reason"}
    others = {key: value for key, value in item.items() if key not in known}
    return _tile(
        item["id"],
        budget,
        label=item.get("label"),
        split=item.get("split"),
        value=None if item.get("value") is None else format_number(item["value"]),
        reason=item.get("reason"),
        extra=_json_text(others) if others else "",
    )


def _members(item: Any) -> tuple[list[Any], list[Any]] | None:
    """(ids, labels) of a pair or group item in either the dict or the bare-list form."""
    if isinstance(item, dict) and isinstance(item.get("ids"), (list, tuple)):
        labels = item.get("labels")
        labels = list(labels) if isinstance(labels, (list, tuple)) else []
        return list(item["ids"]), labels
    if isinstance(item, (list, tuple)):
        return list(item), []
    return None


def _pair_view(item: Any, budget: _ThumbnailBudget) -> dict[str, Any] | None:
    members = _members(item)
    if members is None or len(members[0]) != 2:
        return None
    ids, labels = members
    splits = item.get("splits") if isinstance(item, dict) else None
    splits = list(splits) if isinstance(splits, (list, tuple)) and len(splits) == 2 else [None] * 2
    labels = labels + [None] * (2 - len(labels))
    tiles = [_tile(ids[i], budget, label=labels[i], split=splits[i]) for i in range(2)]
    distance = item.get("distance") if isinstance(item, dict) else None
    return {
        "tiles": tiles,
        "distance": None if distance is None else format_number(distance),
        "same_label": labels[0] is not None and labels[0] == labels[1],
    }


def _group_view(item: Any, budget: _ThumbnailBudget) -> dict[str, Any] | None:
    members = _members(item)
    if members is None:
        return None
    ids, labels = members
    shown = ids[:MAX_GROUP_MEMBERS_SHOWN]
    tiles = [
        _tile(sample_id, budget, label=labels[i] if i < len(labels) else None)
        for i, sample_id in enumerate(shown)
    ]
    return {"tiles": tiles, "size": len(ids), "more": len(ids) - len(shown)}


def _table_view(rows: list[Any]) -> dict[str, Any] | None:
    if not rows or not all(isinstance(row, dict) for row in rows):
        return None
    columns: list[str] = []
    for row in rows:
        columns.extend(str(key) for key in row if str(key) not in columns)
    cells = [[_cell_text(row.get(column)) for column in columns] for row in rows]
    return {"columns": columns, "rows": cells}


# The tile layouts; "table", "log" and "text" are built in _evidence_view.
_TILE_BUILDERS = {"samples": _sample_tile, "pairs": _pair_view, "groups": _group_view}


def _evidence_view(evidence: Evidence, budget: _ThumbnailBudget) -> dict[str, Any]:
    spec = evidence_kind(evidence.kind)
    top = evidence.items[: spec.html_items]
    view: dict[str, Any] = {"kind": evidence.kind, "heading": evidence_heading(evidence, len(top))}
    if spec.layout in _TILE_BUILDERS:
        entries = []
        for item in top:
            built = _TILE_BUILDERS[spec.layout](item, budget)
            # An item of an unexpected shape is still shown, as text, never dropped.
            entries.append(built if built is not None else {"raw": _json_text(item)})
        view.update(layout=spec.layout, entries=entries)
        return view
    if spec.layout == "table":
        table = _table_view(top)
        if table is not None:
            view.update(layout="table", table=table)
            return view
    if spec.layout == "log":
        view.update(layout="log", text="\n".join(str(item) for item in top))
        return view
    # The text fallback: the same describer the terminal and JUnit use.
    view.update(layout="text", entries=[shorten(spec.describe(i), MAX_TEXT_CHARS) for i in top])
    return view


def _measure_fields(result: CheckResult) -> dict[str, Any]:
    """Value, interval, n and threshold as the row and the finding show them."""
    return {
        "value": format_number(result.value),
        "interval": format_interval(result.interval),
        "n": "" if result.n is None else str(result.n),
        "threshold": format_number(result.threshold),
        "interval_svg": interval_bar_svg(result),
    }


def _result_view(
    index: int, result: CheckResult, thumbnails: _Thumbnails, allow_inconclusive: bool
) -> dict[str, Any]:
    budget = _ThumbnailBudget(thumbnails, MAX_THUMBNAILS_PER_RESULT)
    details = dict(result.details)
    traceback_text = details.pop("traceback", None)
    inconclusive = result.status is Status.INCONCLUSIVE
    return {
        "anchor": f"result-{index}",
        "key": result.key,
        "status": result.status.value,
        "not_blocking": not_blocking_reason(result, allow_inconclusive),
        "note": inconclusive_note(result, allow_inconclusive) if inconclusive else "",
        "summary": result.summary,
        **_measure_fields(result),
        "evidence": [_evidence_view(evidence, budget) for evidence in result.evidence],
        "traceback": str(traceback_text) if traceback_text else "",
        "details": _json_text(details) if details else "",
    }


def build_context(report: Report, *, charts: bool = True) -> dict[str, Any]:
    """Everything the template renders, as plain data (handy to test without parsing HTML)."""
    thumbnails = _Thumbnails(report.thumbnails)
    allow = report.allow_inconclusive
    rows = []
    sections = []
    for index, result in enumerate(report.results):
        has_section = result.status in SECTION_STATUSES
        rows.append(
            {
                "anchor": f"result-{index}" if has_section else "",
                "key": result.key,
                "status": result.status.value,
                "not_blocking": not_blocking_reason(result, allow),
                **_measure_fields(result),
                "summary": result.summary,
            }
        )
        if has_section:
            sections.append(_result_view(index, result, thumbnails, allow))

    balance_svg = None
    histograms: dict[str, str] = {}
    if charts:
        from dlqa.report.plots import class_balance_svg, property_histograms_svg

        balance_svg = class_balance_svg(report.class_counts)
        histograms = property_histograms_svg(report.histograms)

    header_meta = [(key, report.meta[key]) for key in HEADER_META_KEYS if key in report.meta]
    other_meta = {key: value for key, value in report.meta.items() if key not in HEADER_META_KEYS}
    return {
        "title": report.title,
        "dlqa_version": __version__,
        "kind": report.kind,
        "created_at": report.created_at,
        "run_status": report.status,
        "incomplete": incomplete_line(report),
        "notes": notes_of(report),
        "allow_inconclusive": allow,
        "exit_code": report.exit_code,
        "failed": run_failed(report),
        "verdict": verdict_line(report),
        "counts_line": counts_line(report),
        "counts": report.counts(),
        "header_meta": [(key, _cell_text(value)) for key, value in header_meta],
        "other_meta": _json_text(other_meta) if other_meta else "",
        "rows": rows,
        "sections": sections,
        "balance_svg": balance_svg,
        "class_counts": report.class_counts,
        "histograms": histograms,
    }


def render_html(report: Report, *, charts: bool = True) -> str:
    """The report as one self-contained HTML document."""
    import jinja2
    from markupsafe import Markup

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    context = build_context(report, charts=charts)
    # Our own SVG: matplotlib's writer and intervals.interval_bar_svg escape their text nodes.
    if context["balance_svg"] is not None:
        context["balance_svg"] = Markup(context["balance_svg"])
    context["histograms"] = {name: Markup(svg) for name, svg in context["histograms"].items()}
    for view in (*context["rows"], *context["sections"]):
        if view["interval_svg"] is not None:
            view["interval_svg"] = Markup(view["interval_svg"])
    return environment.get_template(_TEMPLATE_NAME).render(**context)


def write_html(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write the self-contained HTML report atomically; returns the path written."""
    return write_text_atomic(path, render_html(report))
