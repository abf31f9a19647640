"""``dlqa deploy``: export a bundle, check it, smoke-test a served copy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlqa.cli.common import (
    AllowInconclusiveOption,
    DbOption,
    HtmlOption,
    JsonOption,
    JunitOption,
    OptionalConfigOption,
    QuietOption,
    load_project_config,
    progress_bars,
    show_report,
)
from dlqa.runner.deploy import run_deploy_checks, run_smoke

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Deployment QA: the export bundle, its parity matrix, preprocessing parity, "
    "unexpected inputs, serving guardrails, smoke tests of a served bundle.",
    no_args_is_help=True,
)

BundleArgument = Annotated[
    Path | None,
    typer.Argument(help="The bundle folder (default: [deploy] bundle).", show_default=False),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar="DLQA_SERVE_TOKEN", help="The server's bearer token."),
]


@app.command("export")
def export_command(
    bundle: BundleArgument = None,
    config: OptionalConfigOption = None,
    db: DbOption = None,
    quiet: QuietOption = False,
) -> None:
    """Export the [deploy] model as a bundle (model.onnx + dlqa-model.json with the
    preprocessing spec, class names, guardrails, fingerprints and golden pairs), then check
    that it loads and reproduces its golden outputs (deploy.bundle).

    Exit code 0 on success, 1 when the exported bundle fails its own check, 2 on bad config
    or a model that does not export (the unsupported operator is named).
    """
    settings = load_project_config(config)
    with progress_bars(quiet=quiet) as progress:
        run = run_deploy_checks(
            settings, bundle=bundle, export=True, checks=["deploy.bundle"], db=db,
            progress=progress, explicit_reports={},
        )  # fmt: skip
    show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(run.exit_code)


@app.command("check")
def check_command(
    bundle: BundleArgument = None,
    export: Annotated[
        bool | None,
        typer.Option("--export/--no-export", help="Export first (default: [deploy] export)."),
    ] = None,
    check: Annotated[
        list[str] | None, typer.Option("--check", help="Run only this check (repeatable).")
    ] = None,
    config: OptionalConfigOption = None,
    db: DbOption = None,
    json_path: JsonOption = None,
    html: HtmlOption = None,
    junit: JunitOption = None,
    allow_inconclusive: AllowInconclusiveOption = False,
    quiet: QuietOption = False,
) -> None:
    """Run the deploy.* checks on a bundle: integrity and golden pairs, the parity matrix
    (ONNX Runtime fp32, fp16, int8 against the eager model), the batch sweep, preprocessing
    parity with the training transform, unexpected inputs and the serving guardrails.

    Exit code 0 when every gate passes, 1 when one fails, 2 on bad config or a bundle
    that is missing, 3 on an internal error.
    """
    settings = load_project_config(config)
    with progress_bars(quiet=quiet) as progress:
        run = run_deploy_checks(
            settings, bundle=bundle, export=export, checks=check, db=db, progress=progress,
            allow_inconclusive=allow_inconclusive,
            explicit_reports={"json": json_path, "html": html, "junit": junit},
        )  # fmt: skip
    show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(run.exit_code)


@app.command("smoke")
def smoke_command(
    url: Annotated[str, typer.Argument(help="The served bundle, e.g. http://127.0.0.1:8000")],
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="The local bundle to compare with (default: the server's)."),
    ] = None,
    token: TokenOption = None,
    config: OptionalConfigOption = None,
    db: DbOption = None,
    json_path: JsonOption = None,
    quiet: QuietOption = False,
) -> None:
    """Send the bundle's golden inputs to a served copy (`dlqa serve`) and compare the
    answers with the sealed golden outputs; the run is stored.

    Exit code 0 when every answer matches, 1 when one differs or the server is unreachable.
    """
    settings = load_project_config(config)
    run = run_smoke(
        settings, url, bundle=bundle, token=token, db=db,
        explicit_reports={"json": json_path},
    )  # fmt: skip
    show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(run.exit_code)
