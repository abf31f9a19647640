"""The model card as one self-contained HTML page, through jinja2's autoescaping (only our own
interval-bar SVG is marked safe)."""

from __future__ import annotations

import math
from typing import Any

from dlqa.report.intervals import interval_bar, status_colour
from dlqa.report.model_card_format import (
    class_counts,
    counts_line,
    delta_text,
    fmt,
    interval_text,
    measure_text,
    missing_text,
)
from dlqa.report.model_card_types import (
    CalibrationInfo,
    Deployment,
    Measure,
    Missing,
    ModelCard,
    SnapshotInfo,
)

__all__ = ["build_html_context", "render_html"]

_TEMPLATE_NAME = "model_card.html.j2"


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _bar(measure: Measure, domain: tuple[float, float] | None = None) -> str | None:
    if measure.low is None or measure.high is None:
        return None
    if not all(_finite(v) for v in (measure.low, measure.high)):
        return None
    value = measure.value if _finite(measure.value) else None
    threshold = measure.threshold if _finite(measure.threshold) else None
    return interval_bar(
        measure.low,
        measure.high,
        value=value,
        threshold=threshold,
        colour=status_colour(measure.status),
        domain=domain,
    )


def _unit(measures: list[Measure]) -> tuple[float, float] | None:
    """One scale for the bars of ``measures`` (rows of a table, read together): from the
    lowest to the highest of their bounds, values and thresholds."""
    points = [
        p
        for m in measures
        for p in (m.low, m.high, m.value, m.threshold)
        if p is not None and _finite(p)
    ]
    return (min(points), max(points)) if points else None


def build_html_context(card: ModelCard) -> dict[str, Any]:
    """The template's data: the card plus the interval bars and text the views share."""
    from markupsafe import Markup

    def view(measure: Measure, domain: tuple[float, float] | None = None) -> dict[str, Any]:
        bar = _bar(measure, domain)
        return {
            "m": measure,
            "value": fmt(measure.value),
            "interval": interval_text(measure),
            "measure": measure_text(measure),
            "n": fmt(measure.n),
            "threshold": fmt(measure.threshold),
            # Our own SVG: interval_bar escapes the only text it holds (its label).
            "bar": None if bar is None else Markup(bar),
        }

    headline = [m for m in card.headline if isinstance(m, Measure)]
    per_class = None if isinstance(card.per_class, Missing) else card.per_class
    slices = None if isinstance(card.slices, Missing) else card.slices
    class_domain = _unit([row.recall for row in per_class or []])
    slice_domain = _unit(slices or [])
    dep = card.deployment
    parity: list[dict[str, Any]] | None = None
    if isinstance(dep, Deployment) and not isinstance(dep.parity, Missing):
        parity_domain = _unit([row.agreement for row in dep.parity])
        parity = [
            {
                "row": row,
                "agreement": view(row.agreement, parity_domain),
                "max_abs_diff": fmt(row.max_abs_diff),
                "accuracy": (
                    f"{fmt(row.reference_accuracy)} → {fmt(row.target_accuracy)} "
                    f"({delta_text(row.accuracy_delta)})"
                    if row.reference_accuracy is not None and row.target_accuracy is not None
                    else "-"
                ),
            }
            for row in dep.parity
        ]
    calibration = None
    if isinstance(card.calibration, CalibrationInfo):
        cal = card.calibration
        calibration = {
            "cal": cal,
            "ece": view(cal.ece),
            "brier": fmt(cal.brier),
            "brier_interval": ""
            if cal.brier_low is None or cal.brier_high is None
            else f"[{fmt(cal.brier_low)}, {fmt(cal.brier_high)}]",
            "mean_confidence": fmt(cal.mean_confidence),
            "accuracy": fmt(cal.accuracy),
        }
    return {
        "card": card,
        "headline": [view(m, _unit(headline)) for m in headline],
        "headline_missing": [m for m in card.headline if isinstance(m, Missing)],
        "per_class": None
        if per_class is None
        else [
            {
                "row": row,
                "recall": view(row.recall, class_domain),
                "precision": f"{fmt(row.precision)} {row.precision_interval}".strip(),
                "f1": f"{fmt(row.f1)} {row.f1_interval}".strip(),
            }
            for row in per_class
        ],
        "slices": None if slices is None else [view(s, slice_domain) for s in slices],
        "calibration": calibration,
        "evaluation_results": [view(r) for r in card.evaluation_results],
        "deployment": dep if isinstance(dep, Deployment) else None,
        "parity": parity,
        "guardrails": [view(g) for g in card.guardrails if isinstance(g, Measure)],
        "guardrails_missing": [g for g in card.guardrails if isinstance(g, Missing)],
        "data": None
        if isinstance(card.data, Missing)
        else [
            {
                "entry": e,
                "counts": counts_line(e.counts),
                "classes": class_counts(e.snapshot.class_counts)
                if isinstance(e.snapshot, SnapshotInfo)
                else "",
            }
            for e in card.data
        ],
        "fmt": fmt,
        "missing_text": missing_text,
        "is_missing": lambda item: isinstance(item, Missing),
    }


def render_html(card: ModelCard) -> str:
    """The card as one self-contained HTML page: inline CSS and SVG, no external resource."""
    from dlqa.report.html import template_environment

    template = template_environment().get_template(_TEMPLATE_NAME)
    return template.render(**build_html_context(card))
