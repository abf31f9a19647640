"""Text of the model card's pieces: the formatting both views share, and the building blocks
of the Markdown view (escaping of user data, tables, statuses, missing pieces)."""

from __future__ import annotations

import re
from typing import Any

from dlqa.report.model_card_types import STATUS_ORDER, Measure, Missing, RunRef
from dlqa.report.text import format_level, format_number

# -- shared formatting ----------------------------------------------------------------------


def fmt(value: Any) -> str:
    return format_number(value)


def interval_text(measure: Measure) -> str:
    """``[0.909, 0.949] 95% CI``, or '' without an interval."""
    if measure.low is None or measure.high is None:
        return ""
    level = f" {format_level(measure.level)} CI" if measure.level else ""
    return f"[{fmt(measure.low)}, {fmt(measure.high)}]{level}"


def measure_text(measure: Measure) -> str:
    """``0.932 [0.909, 0.949] 95% CI, n=600``."""
    text = fmt(measure.value)
    interval = interval_text(measure)
    if interval:
        text += f" {interval}"
    if measure.n is not None:
        text += f", n={measure.n}"
    return text


def missing_text(missing: Missing) -> str:
    text = missing.what
    if missing.command:
        text += f": run `{missing.command}`"
    if missing.note:
        text += f" ({missing.note})"
    return text


def delta_text(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:+.4g}"


def class_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[s]} {s}" for s in STATUS_ORDER if counts.get(s))


# -- Markdown building blocks ---------------------------------------------------------------

# Markdown syntax that can start inside a line (``>`` and ``#`` only act at a line's start,
# which user text never is here); an underscore only emphasises at a word's edge.
_MD_SPECIAL = re.compile(r"([\\`*\[\]<|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def md(value: Any) -> str:
    """User text for Markdown: on one line, every character Markdown or embedded HTML would
    interpret backslash-escaped (``<script>`` renders as text, ``|`` cannot split a table)."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;")
    return _MD_SPECIAL.sub(r"\\\1", text)


_NUMERIC_SPAN = re.compile(r"\[[-+0-9.e, ]*\]")


def md_span(text: str) -> str:
    """A stored interval string such as ``[0.815, 0.969]``: numbers need no escaping."""
    return text if _NUMERIC_SPAN.fullmatch(text) else md(text)


def md_code(value: Any) -> str:
    """User text as an inline code span (a fingerprint, a path, a command) that may sit in a
    table: the fence is longer than any run of backticks inside, and ``|`` is escaped (GFM
    splits table cells before code spans)."""
    text = " ".join(str(value).split())
    if "<" in text or ">" in text:  # some renderers let HTML through code spans in tables
        return md(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    body = text.replace("|", "\\|")
    return f"{fence}{pad}{body}{pad}{fence}"


def md_missing(missing: Missing) -> str:
    text = f"**missing**: {md(missing.what)}"
    if missing.command:
        text += f": run {md_code(missing.command)}"
    if missing.note:
        text += f" ({md(missing.note)})"
    return text


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return lines + [""]


def md_status(status: str | None) -> str:
    if not status:
        return "-"
    return f"**{md(status)}**" if status != "pass" else md(status)


def md_run(run: RunRef) -> str:
    return f"run {run.id} ({md(run.kind)}, {md(run.created_at)}, {md(run.status)})"


def md_measure_row(measure: Measure) -> list[str]:
    return [
        md(measure.label),
        fmt(measure.value),
        interval_text(measure) or "-",
        fmt(measure.n),
        fmt(measure.threshold),
        md_status(measure.status),
    ]
