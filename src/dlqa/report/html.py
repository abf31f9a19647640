"""The HTML view: one self-contained file that opens offline and can be attached to a ticket.

Everything is inline (CSS, SVG charts, thumbnails as data URIs); nothing points outside the
file. All user-provided text goes through jinja2's autoescaping; only the SVG that matplotlib
wrote (which escapes its own text) is marked safe.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dlqa
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.report.console import counts_line, evidence_heading, format_number, verdict_line
from dlqa.report.json_report import to_json_safe, write_text_atomic
from dlqa.report.model import Report
from dlqa.report.thumbnails import Thumbnail, ThumbnailCache

MAX_THUMBNAILS_PER_RESULT = 12
MAX_SAMPLES_SHOWN = 12
MAX_PAIRS_SHOWN = 6
MAX_GROUPS_SHOWN = 4
MAX_GROUP_MEMBERS_SHOWN = 6
MAX_ROWS_SHOWN = 20
HEADER_META_KEYS = ("source", "n_samples", "fingerprint", "snapshot_id", "run_id")

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


class _ThumbnailBudget:
    """Hands out at most ``limit`` thumbnails for one result; later tiles show text only."""

    def __init__(self, cache: ThumbnailCache, limit: int) -> None:
        self._cache = cache
        self._left = limit

    def take(self, sample_id: Any) -> Thumbnail | None:
        if self._left <= 0:
            return None
        self._left -= 1
        return self._cache.get(str(sample_id))


def _tile(sample_id: Any, budget: _ThumbnailBudget, **fields: Any) -> dict[str, Any]:
    return {"id": str(sample_id), "thumb": budget.take(sample_id), **fields}


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


def _table_view(items: list[Any]) -> dict[str, Any] | None:
    rows = items[:MAX_ROWS_SHOWN]
    if not rows or not all(isinstance(row, dict) for row in rows):
        return None
    columns: list[str] = []
    for row in rows:
        columns.extend(str(key) for key in row if str(key) not in columns)
    cells = [[_cell_text(row.get(column)) for column in columns] for row in rows]
    return {"columns": columns, "rows": cells}


def _evidence_view(evidence: Evidence, budget: _ThumbnailBudget) -> dict[str, Any]:
    kind = evidence.kind
    limits = {"samples": MAX_SAMPLES_SHOWN, "pairs": MAX_PAIRS_SHOWN, "groups": MAX_GROUPS_SHOWN}
    top = evidence.items[: limits.get(kind, MAX_ROWS_SHOWN)]
    view: dict[str, Any] = {"kind": kind, "heading": evidence_heading(evidence, len(top))}
    builders = {"samples": _sample_tile, "pairs": _pair_view, "groups": _group_view}
    if kind in builders:
        entries = []
        for item in top:
            built = builders[kind](item, budget)
            # An item of an unexpected shape is still shown, as JSON, never dropped.
            entries.append(built if built is not None else {"raw": _json_text(item)})
        view.update(layout=kind, entries=entries)
        return view
    # "table", and rows of any other kind (parameters, inputs) that are dicts: one table.
    if all(isinstance(item, dict) for item in top):
        table = _table_view(top)
        if table is not None:
            view.update(layout="table", table=table)
            return view
    view.update(layout="raw", entries=[_json_text(item) for item in top])
    return view


def _result_view(index: int, result: CheckResult, cache: ThumbnailCache) -> dict[str, Any]:
    budget = _ThumbnailBudget(cache, MAX_THUMBNAILS_PER_RESULT)
    details = dict(result.details)
    traceback_text = details.pop("traceback", None)
    return {
        "anchor": f"result-{index}",
        "check_id": result.check_id,
        "status": result.status.value,
        "summary": result.summary,
        "value": format_number(result.value),
        "threshold": format_number(result.threshold),
        "evidence": [_evidence_view(evidence, budget) for evidence in result.evidence],
        "traceback": str(traceback_text) if traceback_text else "",
        "details": _json_text(details) if details else "",
    }


def build_context(report: Report, *, charts: bool = True) -> dict[str, Any]:
    """Everything the template renders, as plain data (handy to test without parsing HTML)."""
    cache = ThumbnailCache(report.sample_paths)
    rows = []
    sections = []
    for index, result in enumerate(report.results):
        has_section = result.status in (Status.WARN, Status.FAIL, Status.ERROR)
        rows.append(
            {
                "anchor": f"result-{index}" if has_section else "",
                "check_id": result.check_id,
                "status": result.status.value,
                "value": format_number(result.value),
                "threshold": format_number(result.threshold),
                "summary": result.summary,
            }
        )
        if has_section:
            sections.append(_result_view(index, result, cache))

    balance_svg = None
    histograms: dict[str, str] = {}
    if charts:
        from dlqa.report.plots import class_balance_svg, property_histograms_svg

        balance_svg = class_balance_svg(report.class_counts)
        histograms = property_histograms_svg(report.properties)

    header_meta = [(key, report.meta[key]) for key in HEADER_META_KEYS if key in report.meta]
    other_meta = {key: value for key, value in report.meta.items() if key not in HEADER_META_KEYS}
    return {
        "title": report.title,
        "dlqa_version": dlqa.__version__,
        "kind": report.kind,
        "created_at": report.created_at,
        "exit_code": report.exit_code,
        "failed": any(result.status.fails_gate for result in report.results),
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
    # Our own matplotlib output: its text nodes are escaped by matplotlib's SVG writer.
    if context["balance_svg"] is not None:
        context["balance_svg"] = Markup(context["balance_svg"])
    context["histograms"] = {name: Markup(svg) for name, svg in context["histograms"].items()}
    return environment.get_template(_TEMPLATE_NAME).render(**context)


def write_html(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write the self-contained HTML report atomically; returns the path written."""
    return write_text_atomic(path, render_html(report))
