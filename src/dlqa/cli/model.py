"""``dlqa model``: evaluation QA of a trained model on its eval sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlqa.cli.common import (
    AllowInconclusiveOption,
    ConfigOption,
    DbOption,
    HtmlOption,
    JsonOption,
    JunitOption,
    QuietOption,
    WorkersOption,
    progress_bars,
    show_report,
)
from dlqa.config import CONFIG_FILENAME, load_config
from dlqa.runner import run_configured_checks

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Evaluation QA: metrics with intervals, gates, slices, calibration, case sets.",
    no_args_is_help=True,
)

SetOption = Annotated[str | None, typer.Option(help="Overrides the set named in [eval].")]


@app.command("eval")
def eval_command(
    config: ConfigOption = Path(CONFIG_FILENAME),
    test: SetOption = None,
    golden: SetOption = None,
    regression: SetOption = None,
    check: Annotated[
        list[str] | None, typer.Option("--check", help="Run only this check (repeatable).")
    ] = None,
    db: DbOption = None,
    workers: WorkersOption = None,
    json_path: JsonOption = None,
    html: HtmlOption = None,
    junit: JunitOption = None,
    allow_inconclusive: AllowInconclusiveOption = False,
    quiet: QuietOption = False,
) -> None:
    """Run the [eval] model on its eval sets (test, golden, regression) and the eval.*
    checks on its predictions; store one run and write the reports.

    Exit code 0 when every gate passes, 1 when a gate fails (an inconclusive gate fails
    unless relaxed), 2 on bad config or input, 3 on an internal error.
    """
    settings = load_config(config)
    given = {"test": test, "golden": golden, "regression": regression}
    with progress_bars(quiet=quiet) as progress:
        run = run_configured_checks(
            settings,
            stages=("eval",),
            kind="model.eval",
            inputs={"eval": {k: v for k, v in given.items() if v is not None}},
            checks=check,
            db=db,
            workers=workers,
            progress=progress,
            allow_inconclusive=allow_inconclusive,
            explicit_reports={"json": json_path, "html": html, "junit": junit},
        )
    show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(run.exit_code)
