"""The terminal view: a results table, the top evidence of what did not pass, a verdict.

Colours and box drawing only when rich detects a terminal; in a pipe or a CI log the output is
plain columns that stay readable and greppable. Items are named by ``dlqa.report.evidence``,
numbers and verdicts by ``dlqa.report.text``, the same way every other view names them.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dlqa.core.results import CheckResult, Status
from dlqa.report.evidence import evidence_lines
from dlqa.report.model import Report
from dlqa.report.text import (
    blocks,
    counts_line,
    format_measure,
    format_number,
    incomplete_line,
    inconclusive_note,
    notes_of,
    run_failed,
    status_label,
    verdict_line,
)

STATUS_STYLES = {
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "bold red",
    Status.ERROR: "bold magenta",
    Status.SKIP: "dim",
    # Amber, never green: an undecided gate has not passed.
    Status.INCONCLUSIVE: "bold dark_orange",
}
# An inconclusive result that does not block: the same amber, without the weight of a failure.
NOT_BLOCKING_STYLE = "dark_orange"
INCOMPLETE_STYLE = "bold white on red"
# A long key (a check with a mode combination as its subject) must not squeeze the summary
# to a letter a line: keys longer than this share of the console fold instead.
KEY_MAX_SHARE = 0.4


def _status_style(result: CheckResult, allow_inconclusive: bool) -> str:
    if result.status is Status.INCONCLUSIVE and not blocks(result, allow_inconclusive):
        return NOT_BLOCKING_STYLE
    return STATUS_STYLES[result.status]


def _status_cell(result: CheckResult, allow_inconclusive: bool) -> str:
    # "(not blocking)" on a line of its own keeps the status column narrow.
    return status_label(result, allow_inconclusive).upper().replace(" (", "\n(", 1)


def print_summary(report: Report, console: Console | None = None, *, max_items: int = 5) -> None:
    """Print the results table, the top evidence of each non-pass result and the verdict."""
    console = console or Console()
    allow = report.allow_inconclusive
    incomplete = incomplete_line(report)
    if incomplete:
        # First, before the table: a partial run must not read as a clean one.
        console.print(Text(incomplete, style=INCOMPLETE_STYLE))
    for note in notes_of(report):
        console.print(Text(f"note: {note}", style="yellow"))
    # Box drawing only where a terminal renders it; a pipe gets plain aligned columns.
    table = Table(
        title=Text(report.title),
        box=box.SIMPLE_HEAD if console.is_terminal else None,
        show_edge=False,
        pad_edge=False,
    )
    # The key and the status are what a reader greps for: they never wrap or shrink (unless
    # a key would take most of the line); the summary (and, in a narrow terminal, the
    # measure) wraps instead.
    longest = max((len(r.key) for r in report.results), default=0)
    key_room = max(16, int(console.width * KEY_MAX_SHARE))
    if longest <= key_room:
        table.add_column("check", no_wrap=True)
    else:
        table.add_column("check", overflow="fold", max_width=key_room)
    table.add_column("status", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_column("threshold", justify="right", no_wrap=True)
    table.add_column("summary", overflow="fold")
    for result in report.results:
        # Text objects, never markup strings: a summary or a subject may contain "[...]".
        table.add_row(
            Text(result.key),
            Text(_status_cell(result, allow), style=_status_style(result, allow)),
            Text(format_measure(result)),
            Text(format_number(result.threshold)),
            Text(result.summary),
        )
    console.print(table)

    for result in report.results:
        if result.status in (Status.PASS, Status.SKIP):
            continue
        lines = evidence_lines(result, max_items)
        if result.status is Status.INCONCLUSIVE:
            lines.insert(0, inconclusive_note(result, allow))
        if result.status is Status.ERROR and not lines:
            lines = [_where_raised(result)]
        style = _status_style(result, allow)
        heading = Text(f"{result.status.value.upper()} ", style=style)
        heading.append(result.key, style="bold")
        console.print(heading)
        for line in lines:
            console.print(Text(f"  {line}"), soft_wrap=True)

    failed = run_failed(report)
    console.print(Text(verdict_line(report), style="bold red" if failed else "bold green"))
    console.print(Text(counts_line(report)))
    if incomplete:
        # And last, where the eye lands after a long table.
        console.print(Text(incomplete, style=INCOMPLETE_STYLE))
    for note in notes_of(report):
        console.print(Text(f"note: {note}", style="yellow"))


def _where_raised(result: CheckResult) -> str:
    """Where an error was raised: the innermost frame of the traceback, else the summary."""
    frames = [
        line.strip()
        for line in str(result.details.get("traceback") or "").splitlines()
        if line.strip().startswith('File "')
    ]
    return f"raised at {frames[-1]}" if frames else result.summary
