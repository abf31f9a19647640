"""``dlqa labels``: annotation QA (agreement between annotators)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
    open_configured_store,
    show_report,
    stdout,
)
from dlqa.runner import run_label_agreement
from dlqa.runner.labels import final_labels, write_adjudications_csv

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
    if run.report is not None and not quiet:
        _print_adjudicated(run.report.meta)
    raise typer.Exit(run.exit_code)


def _print_adjudicated(meta: dict[str, Any]) -> None:
    total, decided = int(meta.get("to_adjudicate", 0)), int(meta.get("adjudicated", 0))
    if total:
        stdout.print(
            f"items to adjudicate: {total}, {decided} already decided (dashboard: "
            f"/adjudicate; final labels: dlqa labels adjudications {meta.get('source')})",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )


@app.command("adjudications")
def adjudications_command(
    source: Annotated[
        str, typer.Argument(help="The annotation table that `dlqa labels agreement` read.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the final labels to this CSV file.")
    ] = None,
    db: DbOption = None,
) -> None:
    """The final labels adjudicators chose for the items annotators disagreed on: item,
    label, adjudicator, when (the latest decision on each item)."""
    # The table's absolute path, as the agreement run stored it, however it is given here.
    source = str(Path(source).expanduser().resolve())
    with open_configured_store(db) as store:
        records = final_labels(store, source)
    if out is not None:
        write_adjudications_csv(records, out)
        stdout.print(f"wrote {len(records)} final labels to {out}", highlight=False)
        return
    for record in records:  # item, final label, adjudicator, when: two spaces apart
        stdout.print(
            f"{record.item_id}  {record.label}  {record.adjudicator or '-'}  "
            f"{record.created_at:%Y-%m-%d %H:%M:%S}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    stdout.print(f"{len(records)} adjudicated items of {source}", highlight=False, markup=False)
