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
    load_project_config,
    progress_bars,
    show_report,
    stdout,
)
from dlqa.config import CONFIG_FILENAME, load_config
from dlqa.runner import run_configured_checks
from dlqa.runner.deploy import run_bundle_eval
from dlqa.runner.model_card import write_model_card

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Evaluation QA: metrics with intervals, gates, slices, calibration, case sets.",
    no_args_is_help=True,
)

SetOption = Annotated[str | None, typer.Option(help="Overrides the set named in [eval].")]


@app.command("eval")
def eval_command(
    bundle: Annotated[
        Path | None,
        typer.Argument(
            help="Evaluate through this exported bundle (its manifest preprocessing and ONNX "
            "Runtime) instead of [eval]'s model.",
            show_default=False,
        ),
    ] = None,
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
    checks on its predictions; store one run and write the reports. With BUNDLE, the
    predictions come from the exported bundle (`dlqa deploy export`), not the training code.

    Exit code 0 when every gate passes, 1 when a gate fails (an inconclusive gate fails
    unless relaxed), 2 on bad config or input, 3 on an internal error.
    """
    settings = load_config(config)
    given = {"test": test, "golden": golden, "regression": regression}
    sets = {k: v for k, v in given.items() if v is not None}
    session = {
        "checks": check, "db": db, "workers": workers,
        "allow_inconclusive": allow_inconclusive,
        "explicit_reports": {"json": json_path, "html": html, "junit": junit},
    }  # fmt: skip
    with progress_bars(quiet=quiet) as progress:
        if bundle is not None:
            run = run_bundle_eval(settings, bundle, sets, progress=progress, **session)
        else:
            run = run_configured_checks(
                settings, stages=("eval",), kind="model.eval", inputs={"eval": sets},
                progress=progress, **session,
            )  # fmt: skip
    show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(run.exit_code)


@app.command("card")
def card_command(
    eval_run: Annotated[
        int,
        typer.Argument(
            help="The evaluation run: a `dlqa model eval` run, or a `dlqa check` run with eval "
            "results.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for model-card.md and model-card.html (default: the report folder's "
            "model-card-run-N).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Write the model card of EVAL_RUN as Markdown and self-contained HTML, filled from the
    store alone: metrics with their intervals, per class and per slice, calibration, the eval
    sets and the data findings on them, the bundle's latest deployment run (parity, batch
    sweep, preprocessing, unexpected inputs), guardrails, every known issue and where each
    figure came from. What the store lacks is marked missing, with the command that makes it.

    Exit code 0, or 2 when the run does not exist or is not an evaluation run.
    """
    settings = load_project_config(None)
    written = write_model_card(settings, eval_run, out=out, db=db)
    for path in written.values():
        stdout.print(f"{path.suffix[1:]:>5} model card: {path}", highlight=False, soft_wrap=True)
