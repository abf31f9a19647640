"""``dlqa demo``: the whole process on a bundled example project, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dlqa.cli.common import QuietOption, WorkersOption, progress_bar, show_report, stdout
from dlqa.config import load_config
from dlqa.demo.verify import verify_planted
from dlqa.runner import open_configured_source, run_configured_checks


def demo_command(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to materialise the demo project.")
    ] = Path("dlqa-demo"),
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Build the example project (digits with planted problems), run `dlqa check` on it,
    and say whether the gates caught every planted problem.

    Exit code 0 when every planted problem was caught, 1 when one went unnoticed.
    """
    from dlqa.demo.build import build_demo_project  # scikit-learn loads only for the demo

    stdout.print(f"Building the demo project in {directory} ...", highlight=False)
    project = build_demo_project(directory)
    config = load_config(project.root / "dlqa.toml")
    source = open_configured_source(config)
    with progress_bar(len(source), "Profiling", quiet=quiet) as advance:  # the demo has data
        run = run_configured_checks(config, source, workers=workers, on_progress=advance)
    show_report(run.report, {}, quiet=quiet)

    outcomes = verify_planted(run.results, project.planted)
    table = Table("planted problem", "check", "status", "caught", title="Planted problems")
    for outcome in outcomes:
        table.add_row(
            outcome.problem,
            outcome.check_id,
            outcome.status,
            "yes" if outcome.caught else f"NO (missed {', '.join(outcome.missed_ids)})",
        )
    stdout.print(table)
    missed = [o for o in outcomes if not o.caught]
    if missed:
        stdout.print(f"[red]{len(missed)} planted problems went unnoticed.[/red]")
    else:
        stdout.print(
            f"All {len(outcomes)} planted problems were caught by their gates "
            "(so `dlqa check` exits 1 on this project, as it should)."
        )
    for fmt, path in run.written.items():
        stdout.print(f"{fmt:>5} report: {path}", highlight=False, soft_wrap=True)
    raise typer.Exit(1 if missed else 0)
