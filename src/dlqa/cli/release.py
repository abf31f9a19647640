"""``dlqa release``: metrics per release, gated against the previous one, and their history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dlqa.cli.common import (
    DbOption,
    JsonOption,
    OptionalConfigOption,
    QuietOption,
    load_project_config,
    open_configured_store,
    show_report,
    stdout,
)
from dlqa.core.errors import UsageError
from dlqa.exp.releases import NOT_ENOUGH_DATA, history_svg, release_history
from dlqa.exp.stage import stored_releases
from dlqa.report.files import write_text_atomic
from dlqa.report.release_page import render_release_page
from dlqa.runner.releases import record_release

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Releases: metrics on the fixed eval suites per release, and the release gate.",
    no_args_is_help=True,
)


@app.command("record")
def record_command(
    version: Annotated[str, typer.Argument(help="The release's version, e.g. 1.4.0.")],
    eval_run: Annotated[
        int | None, typer.Option("--eval-run", help="A stored evaluation run's metrics.")
    ] = None,
    group: Annotated[str | None, typer.Option(help="A stored seed group's metrics.")] = None,
    config: OptionalConfigOption = None,
    db: DbOption = None,
    json_path: JsonOption = None,
    quiet: QuietOption = False,
) -> None:
    """Record a release's metrics (from an evaluation run, or a seed group) with its
    provenance, and gate it against the release recorded before it (exp.release_regression:
    a regression beyond noise fails, with the environment differences).

    Exit code 0, 1 when the release regresses, 2 when the version is already recorded or
    the source holds no metrics.
    """
    settings = load_project_config(config)
    with open_configured_store(db) as store:
        run = record_release(settings, store, version, eval_run=eval_run, group=group, db=db,
                             explicit_reports={"json": json_path})  # fmt: skip
    show_report(run.report, run.written, quiet=quiet)
    if not run.results:
        stdout.print(f"release {version} recorded: the first one, nothing to compare it with")
    raise typer.Exit(run.exit_code)


@app.command("history")
def history_command(
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the table and plots here.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Every recorded release's metrics with their intervals, oldest first; with --html, a
    page with one plot per metric."""
    with open_configured_store(db) as store:
        releases = stored_releases(store)
    if not releases:
        raise UsageError("no release recorded yet", hint="dlqa release record VERSION --eval-run N")
    rows = release_history(releases)
    table = Table("release", "metric", "value", "interval", "n", "change")
    for row in rows:
        interval = "-" if row["low"] is None else f"[{row['low']:.4g}, {row['high']:.4g}]"
        change = "-" if row["change"] is None else f"{row['change']:+.4g}"
        table.add_row(row["version"], row["metric"], f"{row['value']:.4g}", interval,
                      str(row["n"] or "-"), change)  # fmt: skip
    stdout.print(table)
    if len(releases) == 1:
        stdout.print(NOT_ENOUGH_DATA)
    if html is not None:
        metrics = list(dict.fromkeys(row["metric"] for row in rows))
        page = render_release_page(rows, {m: history_svg(rows, m) for m in metrics})
        stdout.print(f"html: {write_text_atomic(html, page)}", highlight=False)
