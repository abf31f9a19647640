"""The typer application: command groups, one module each."""

from __future__ import annotations

import typer

from dlqa import __version__
from dlqa.cli import (
    check,
    data,
    db,
    demo,
    deploy,
    exp,
    labels,
    model,
    release,
    report,
    serve,
    train,
    ui,
)
from dlqa.cli.common import FLAG

app = typer.Typer(
    rich_markup_mode="markdown",
    name="dlqa",
    help="Automated QA for deep-learning pipelines: data, training, evaluation, deployment.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data.app, name="data")
app.add_typer(train.app, name="train")
app.add_typer(labels.app, name="labels")
app.add_typer(model.app, name="model")
app.add_typer(deploy.app, name="deploy")
app.add_typer(exp.app, name="exp")
app.add_typer(release.app, name="release")
app.add_typer(db.app, name="db")
app.command("check")(check.check_command)
app.command("init")(check.init_command)
app.command("checks")(check.checks_command)
app.command("demo")(demo.demo_command)
app.command("report")(report.report_command)
app.command("serve")(serve.serve_command)
app.command("ui")(ui.ui_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dlqa {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print the version.",
        metavar=FLAG,
    ),
) -> None:
    """dlqa: verdict, value, threshold and evidence for every check."""
