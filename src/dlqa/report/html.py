"""The HTML view: one self-contained file that opens offline and can be attached to a ticket.

Everything is inline (CSS, SVG charts and interval bars, thumbnails and audio previews as data
URIs); nothing points outside the file. All user-provided text goes through jinja2's
autoescaping; only SVG that we generate (matplotlib's writer and ``intervals`` both escape
their own text) is marked safe. The evidence of a result is laid out by
``dlqa.report.html_evidence``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dlqa._version import __version__
from dlqa.core.results import CheckResult, Status
from dlqa.report.files import write_text_atomic
from dlqa.report.html_evidence import (
    MAX_THUMBNAILS_PER_RESULT,
    EvidenceMedia,
    MediaBudget,
    cell_text,
    evidence_view,
    json_text,
)
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

__all__ = ["MAX_THUMBNAILS_PER_RESULT", "build_context", "render_html", "write_html"]

HEADER_META_KEYS = ("source", "n_samples", "fingerprint", "snapshot_id", "run_id")
SECTION_STATUSES = (Status.WARN, Status.FAIL, Status.ERROR, Status.INCONCLUSIVE)
# A passing result still gets a section when its evidence is something to look at rather than
# a list of problems: a preview grid, an agreement table, overlaid histograms.
SHOWN_WHEN_PASSING = frozenset(
    {"image", "table", "histograms", "confusion", "reliability", "map", "intervals", "seed_groups",
     "ablation_cells", "sequential_path", "mode_matrix"}
)  # fmt: skip

_TEMPLATE_NAME = "report.html.j2"


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
    index: int, result: CheckResult, media: EvidenceMedia, allow_inconclusive: bool
) -> dict[str, Any]:
    budget = MediaBudget(media, MAX_THUMBNAILS_PER_RESULT)
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
        "evidence": [evidence_view(evidence, budget) for evidence in result.evidence],
        "traceback": str(traceback_text) if traceback_text else "",
        "details": json_text(details) if details else "",
    }


def build_context(report: Report, *, charts: bool = True) -> dict[str, Any]:
    """Everything the template renders, as plain data (handy to test without parsing HTML)."""
    media = EvidenceMedia(report.thumbnails, report.media)
    allow = report.allow_inconclusive
    rows = []
    sections = []
    passed_sections = []
    for index, result in enumerate(report.results):
        shown_passing = result.status is Status.PASS and any(
            evidence.kind in SHOWN_WHEN_PASSING for evidence in result.evidence
        )
        has_section = result.status in SECTION_STATUSES or shown_passing
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
            view = _result_view(index, result, media, allow)
            (passed_sections if shown_passing else sections).append(view)

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
        "header_meta": [(key, cell_text(value)) for key, value in header_meta],
        "other_meta": json_text(other_meta) if other_meta else "",
        "rows": rows,
        "sections": sections,
        "passed_sections": passed_sections,
        "balance_svg": balance_svg,
        "class_counts": report.class_counts,
        "histograms": histograms,
    }


def template_environment(folder: Path | None = None) -> Any:
    """The jinja2 environment of dlqa's HTML templates (the report's, or those in ``folder``:
    the dashboard's): every value escaped unless marked safe, a missing variable an error."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder or Path(__file__).parent / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render_html(report: Report, *, charts: bool = True) -> str:
    """The report as one self-contained HTML document."""
    from markupsafe import Markup

    environment = template_environment()
    context = build_context(report, charts=charts)
    # Our own SVG: matplotlib's writer and intervals.interval_bar_svg escape their text nodes.
    if context["balance_svg"] is not None:
        context["balance_svg"] = Markup(context["balance_svg"])
    context["histograms"] = {name: Markup(svg) for name, svg in context["histograms"].items()}
    for view in (*context["rows"], *context["sections"], *context["passed_sections"]):
        if view["interval_svg"] is not None:
            view["interval_svg"] = Markup(view["interval_svg"])
    return environment.get_template(_TEMPLATE_NAME).render(**context)


def write_html(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write the self-contained HTML report atomically; returns the path written."""
    return write_text_atomic(path, render_html(report))
