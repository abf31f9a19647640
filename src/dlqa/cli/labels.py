"""``dlqa labels``: annotation QA (agreement between annotators)."""

from __future__ import annotations

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
    show_report,
)
from dlqa.runner import run_label_agreement

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Annotation QA: agreement between annotators, items to adjudicate.",
    no_args_is_help=True,
)


@app.command("agreement")
def agreement_command(
    table: Annotated[
        str,
        typer.Argument(help="Long table (CSV, Parquet, JSONL): one row per item and annotator."),
    ],
    item_column: Annotated[
        str | None, typer.Option(help="Column naming the item [default: item].")
    ] = None,
    annotator_column: Annotated[
        str | None, typer.Option(help="Column naming the annotator [default: annotator].")
    ] = None,
    label_column: Annotated[
        str | None, typer.Option(help="Column with the label given [default: label].")
    ] = None,
    config: OptionalConfigOption = None,
    db: DbOption = None,
    json_path: JsonOption = None,
    html: HtmlOption = None,
    junit: JunitOption = None,
    allow_inconclusive: AllowInconclusiveOption = False,
    quiet: QuietOption = False,
) -> None:
    """Krippendorff's alpha, Fleiss' and Cohen's kappa, each annotator's agreement with the
    others' majority, and the items to adjudicate.

    Exit code 0 when every gate passes, 1 when one fails (alpha below `min_alpha`), 2 on bad
    input.
    """
    settings = load_project_config(config)
    run = run_label_agreement(
        table,
        config=settings,
        item_column=item_column,
        annotator_column=annotator_column,
        label_column=label_column,
        db=db,
        formats=None,
        explicit_reports={"json": json_path, "html": html, "junit": junit},
        allow_inconclusive=allow_inconclusive,
    )
    show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(run.exit_code)
