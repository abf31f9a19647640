"""The model card: what a stored evaluation says about a model, as Markdown and as HTML.

Rendering only. :class:`ModelCard` is filled by ``dlqa.runner.model_card.build_model_card``
from stored runs; every figure on it is a stored check result, and a piece the store does not
hold is a :class:`Missing` that says so and names the command that produces it. Nothing here
reads the store or a file.

Both views escape every piece of user data (class names, file names, summaries): the HTML
through jinja2's autoescaping (only our own interval-bar SVG is marked safe), the Markdown by
backslash-escaping what Markdown or an HTML renderer would interpret.

This module is the card's public face; the pieces live in
:mod:`~dlqa.report.model_card_types` (the sections), :mod:`~dlqa.report.model_card_format`
(shared text and Markdown escaping), :mod:`~dlqa.report.model_card_markdown` and
:mod:`~dlqa.report.model_card_html` (the two views).
"""

from __future__ import annotations

from dlqa.report.model_card_format import (
    fmt,
    interval_text,
    md,
    md_code,
    measure_text,
    missing_text,
)
from dlqa.report.model_card_html import build_html_context, render_html
from dlqa.report.model_card_markdown import render_markdown
from dlqa.report.model_card_types import (
    STATUS_ORDER,
    CalibrationInfo,
    ClassRow,
    DataEntry,
    Deployment,
    Issue,
    Measure,
    Missing,
    ModelCard,
    ModelInfo,
    ParityRow,
    Provenance,
    RunRef,
    SnapshotInfo,
)

__all__ = [
    "STATUS_ORDER",
    "CalibrationInfo",
    "ClassRow",
    "DataEntry",
    "Deployment",
    "Issue",
    "Measure",
    "Missing",
    "ModelCard",
    "ModelInfo",
    "ParityRow",
    "Provenance",
    "RunRef",
    "SnapshotInfo",
    "build_html_context",
    "fmt",
    "interval_text",
    "md",
    "md_code",
    "measure_text",
    "missing_text",
    "render_html",
    "render_markdown",
]
