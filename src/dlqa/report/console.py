"""The terminal view: a results table, the top evidence of what did not pass, a verdict.

Colours and box drawing only when rich detects a terminal; in a pipe or a CI log the output is
plain columns that stay readable and greppable. The item formatting here is shared with the
JUnit view so that both name evidence the same way.
"""

from __future__ import annotations

import json
import math
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.report.model import Report

STATUS_STYLES = {
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "bold red",
    Status.ERROR: "bold magenta",
    Status.SKIP: "dim",
}

_MAX_ITEM_CHARS = 120
_MAX_GROUP_MEMBERS = 4


def format_number(value: Any) -> str:
    """A value or threshold as a short string: 4 significant digits, '-' for none."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "nan"
    return f"{number:.4g}"


def _shorten(text: str, limit: int = _MAX_ITEM_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_item(kind: str, item: Any) -> str:
    """One evidence item as one line of plain text; unknown shapes fall back to compact JSON."""
    if isinstance(item, dict):
        if kind == "samples" and "id" in item:
            extras = [str(item[key]) for key in ("label",) if item.get(key) is not None]
            if item.get("value") is not None:
                extras.append(format_number(item["value"]))
            if item.get("reason"):
                extras.append(str(item["reason"]))
            suffix = f" ({', '.join(extras)})" if extras else ""
            return _shorten(f"{item['id']}{suffix}")
        if kind == "pairs" and isinstance(item.get("ids"), (list, tuple)):
            text = " <-> ".join(str(member) for member in item["ids"])
            if item.get("distance") is not None:
                text += f" (distance {format_number(item['distance'])})"
            return _shorten(text)
        if kind == "groups" and isinstance(item.get("ids"), (list, tuple)):
            return _shorten(_describe_members(item["ids"]))
        if kind == "table":
            return _shorten(", ".join(f"{key}={_plain(value)}" for key, value in item.items()))
    if isinstance(item, (list, tuple)) and kind in ("pairs", "groups"):
        return _shorten(_describe_members(item))
    if isinstance(item, (str, int, float)):
        return _shorten(str(item))
    return _shorten(_plain(item))


def _describe_members(members: Any) -> str:
    members = [str(member) for member in members]
    shown = ", ".join(members[:_MAX_GROUP_MEMBERS])
    more = len(members) - _MAX_GROUP_MEMBERS
    return f"{{{shown}{f', +{more} more' if more > 0 else ''}}} ({len(members)} items)"


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return format_number(value)
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def evidence_heading(evidence: Evidence, shown: int) -> str:
    """'samples: 5 of 340' style heading; total can exceed len(items) when a check truncated."""
    total = max(evidence.total, len(evidence.items))
    heading = evidence.kind
    if evidence.description:
        heading += f" ({evidence.description})"
    if shown < total:
        return f"{heading}, showing {shown} of {total}"
    return f"{heading}, {total} in all"


def evidence_lines(result: CheckResult, max_items: int) -> list[str]:
    """Plain lines naming the top items of each evidence of ``result``."""
    lines = []
    for evidence in result.evidence:
        top = evidence.items[:max_items]
        lines.append(evidence_heading(evidence, len(top)) + ":")
        lines.extend(f"  - {describe_item(evidence.kind, item)}" for item in top)
    return lines


def verdict_line(report: Report) -> str:
    failed = [result.check_id for result in report.results if result.status.fails_gate]
    if failed:
        noun = "gate" if len(failed) == 1 else "gates"
        return f"{len(failed)} {noun} failed: {', '.join(failed)}"
    if not report.results:
        return "no checks ran"
    return "all gates passed"


def counts_line(report: Report) -> str:
    counts = report.counts()
    noun = "check" if len(report.results) == 1 else "checks"
    parts = ", ".join(f"{counts[status.value]} {status.value}" for status in Status)
    return f"{len(report.results)} {noun}: {parts}"


def print_summary(report: Report, console: Console | None = None, *, max_items: int = 5) -> None:
    """Print the results table, the top evidence of each non-pass result and the verdict."""
    console = console or Console()
    # Box drawing only where a terminal renders it; a pipe gets plain aligned columns.
    table = Table(
        title=Text(report.title),
        box=box.SIMPLE_HEAD if console.is_terminal else None,
        show_edge=False,
        pad_edge=False,
    )
    table.add_column("check")
    table.add_column("status")
    table.add_column("value", justify="right")
    table.add_column("threshold", justify="right")
    table.add_column("summary", overflow="fold")
    for result in report.results:
        # Text objects, never markup strings: a summary may contain "[...]".
        table.add_row(
            Text(result.check_id),
            Text(result.status.value.upper(), style=STATUS_STYLES[result.status]),
            Text(format_number(result.value)),
            Text(format_number(result.threshold)),
            Text(result.summary),
        )
    console.print(table)

    for result in report.results:
        if result.status in (Status.PASS, Status.SKIP):
            continue
        lines = evidence_lines(result, max_items)
        if result.status is Status.ERROR and not lines:
            lines = [_where_raised(result)]
        heading = Text(f"{result.status.value.upper()} ", style=STATUS_STYLES[result.status])
        heading.append(result.check_id, style="bold")
        console.print(heading)
        for line in lines:
            console.print(Text(f"  {line}"), soft_wrap=True)

    failed = any(result.status.fails_gate for result in report.results)
    console.print(Text(verdict_line(report), style="bold red" if failed else "bold green"))
    console.print(Text(counts_line(report)))


def _where_raised(result: CheckResult) -> str:
    """Where an error was raised: the innermost frame of the traceback, else the summary."""
    frames = [
        line.strip()
        for line in str(result.details.get("traceback") or "").splitlines()
        if line.strip().startswith('File "')
    ]
    return f"raised at {frames[-1]}" if frames else result.summary
