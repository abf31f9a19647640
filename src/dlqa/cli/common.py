"""Pieces the commands share: options, progress bars, the store, writing and showing reports."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dlqa.core.errors import UsageError
from dlqa.report.console import print_summary
from dlqa.report.model import Report

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: DLQA_DATABASE_URL, else SQLite at .dlqa/dlqa.db).",
        show_default=False,
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", "-w", help="Worker processes (default: one per core).", min=1),
]
JsonOption = Annotated[
    Path | None, typer.Option("--json", help="Write the versioned JSON results here.")
]
HtmlOption = Annotated[
    Path | None, typer.Option("--html", help="Write the self-contained HTML report here.")
]
JunitOption = Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar and no summary table.")
]

stdout = Console()
stderr = Console(stderr=True)


@contextmanager
def progress_bar(total: int, description: str, *, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on a terminal; silent in a pipe, in CI logs or with --quiet."""
    if quiet or not sys.stderr.isatty():
        yield lambda advance: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda advance: progress.update(task, advance=advance)


def show_report(report: Report, written: dict[str, Path], *, quiet: bool) -> None:
    if not quiet:
        print_summary(report, stdout)
    for fmt, path in written.items():
        stdout.print(f"{fmt:>5} report: {path}", highlight=False, soft_wrap=True)


def require_file_parent(path: Path | None, option: str) -> None:
    if path is not None and path.exists() and path.is_dir():
        raise UsageError(f"{option} {path}: is a folder; give a file path")
