"""``dlqa data``: profile a dataset, list snapshots, diff two snapshots."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dlqa.cli.common import (
    AddressOption,
    AllowInconclusiveOption,
    DbOption,
    ExecutorOption,
    HtmlOption,
    JsonOption,
    JunitOption,
    OptionalConfigOption,
    QuietOption,
    WorkerRootOption,
    WorkersOption,
    load_project_config,
    open_configured_store,
    progress_bars,
    show_report,
    stdout,
    with_executor,
)
from dlqa.runner import diff_snapshots, run_data_qa, run_drift
from dlqa.sources.base import Source
from dlqa.sources.open import open_source


class ModalityChoice(StrEnum):
    """The values --modality takes (the data stage's modalities are dlqa.data.modalities)."""

    image = "image"
    audio = "audio"
    text = "text"


app = typer.Typer(
    rich_markup_mode="markdown",
    help="Data QA: profile datasets, keep snapshots, diff them, compare with a reference.",
    no_args_is_help=True,
)


PathColumnOption = Annotated[
    str | None, typer.Option(help="Manifest column with file paths [default: path].")
]
LabelColumnOption = Annotated[
    str | None, typer.Option(help="Manifest column with labels [default: label].")
]
SplitColumnOption = Annotated[
    str | None, typer.Option(help="Manifest column with splits [default: split].")
]
IdColumnOption = Annotated[
    str | None,
    typer.Option(
        help="Manifest column with sample ids (default: the path; for texts, the 0-based "
        "row number)."
    ),
]
TextColumnOption = Annotated[
    str | None,
    typer.Option(help="Manifest column with each sample's text: profiles a text dataset."),
]
ModalityOption = Annotated[
    ModalityChoice | None,
    typer.Option(
        case_sensitive=False, help="What the samples are [default: detected from the files]."
    ),
]
ReportDirOption = Annotated[
    Path | None,
    typer.Option(
        help="Folder for the reports of this run "
        "[default: dlqa.toml's report dir, else .dlqa/reports]."
    ),
]
SOURCE_HELP = (
    "Folder tree (class folders of images, audio clips or .txt files) or a manifest (CSV, "
    "Parquet, JSONL) with a path or a text column."
)


@dataclass(frozen=True)
class _Columns:
    """The column options of a command, over [data]'s settings."""

    path: str | None
    label: str | None
    split: str | None
    id: str | None
    text: str | None
    modality: ModalityChoice | None

    def open(self, section: Any, spec: str | Path) -> Source:
        return open_source(
            spec,
            path_column=self.path or section.path_column,
            label_column=self.label or section.label_column,
            split_column=self.split or section.split_column,
            id_column=self.id or section.id_column,
            text_column=self.text or section.text_column,
            modality=self.modality.value if self.modality is not None else section.modality,
        )


@app.command("profile")
def profile_command(
    source: Annotated[str, typer.Argument(help=SOURCE_HELP)],
    path_column: PathColumnOption = None,
    label_column: LabelColumnOption = None,
    split_column: SplitColumnOption = None,
    id_column: IdColumnOption = None,
    text_column: TextColumnOption = None,
    modality: ModalityOption = None,
    pred_probs: Annotated[
        Path | None,
        typer.Option(
            help="Out-of-fold predicted probabilities for data.label_errors: CSV or Parquet "
            "with an `id` column (the sample ids dlqa reports) and one column per class.",
        ),
    ] = None,
    embeddings: Annotated[
        Path | None,
        typer.Option(
            help="Per-sample embeddings (CSV or Parquet: `id` and one column per dimension) "
            "for data.label_errors: dlqa fits its k-fold model on them.",
        ),
    ] = None,
    label_errors: Annotated[
        bool,
        typer.Option(
            "--label-errors",
            help="Find likely label errors with dlqa's own k-fold model on features it "
            "extracts (reads every sample again; or [data] label_errors = true).",
        ),
    ] = False,
    config: OptionalConfigOption = None,
    report_dir: ReportDirOption = None,
    db: DbOption = None,
    workers: WorkersOption = None,
    executor: ExecutorOption = None,
    address: AddressOption = None,
    worker_root: WorkerRootOption = None,
    json_path: JsonOption = None,
    html: HtmlOption = None,
    junit: JunitOption = None,
    allow_inconclusive: AllowInconclusiveOption = False,
    quiet: QuietOption = False,
) -> None:
    """Probe every sample, run the data checks, store a snapshot and write the reports.

    Exit code 0 when every gate passes, 1 when one fails, 2 on bad input, 130 on Ctrl-C.
    """
    settings = with_executor(load_project_config(config), executor, address, worker_root)
    columns = _Columns(path_column, label_column, split_column, id_column, text_column, modality)
    data_source = columns.open(settings.data, source)
    inputs: dict[str, Any] = {"pred_probs": pred_probs, "embeddings": embeddings}
    if label_errors:  # else [data] label_errors decides
        inputs["label_errors"] = True
    with progress_bars(quiet=quiet) as progress:
        run = run_data_qa(
            data_source,
            config=settings,
            db=db,
            workers=workers,
            progress=progress,
            allow_inconclusive=allow_inconclusive,
            report_dir=report_dir,
            formats=None,
            explicit_reports={"json": json_path, "html": html, "junit": junit},
            inputs={key: value for key, value in inputs.items() if value is not None},
        )
    show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(run.exit_code)


@app.command("drift")
def drift_command(
    reference: Annotated[
        str,
        typer.Argument(
            help="The reference dataset (training data): a folder or manifest, or a stored "
            "snapshot (an id, 'latest~N')."
        ),
    ],
    current: Annotated[
        str,
        typer.Argument(
            help="The dataset to compare with it (a production sample): a folder or "
            "manifest, or a stored snapshot."
        ),
    ],
    path_column: PathColumnOption = None,
    label_column: LabelColumnOption = None,
    split_column: SplitColumnOption = None,
    id_column: IdColumnOption = None,
    text_column: TextColumnOption = None,
    modality: ModalityOption = None,
    config: OptionalConfigOption = None,
    report_dir: ReportDirOption = None,
    db: DbOption = None,
    workers: WorkersOption = None,
    executor: ExecutorOption = None,
    address: AddressOption = None,
    worker_root: WorkerRootOption = None,
    json_path: JsonOption = None,
    html: HtmlOption = None,
    junit: JunitOption = None,
    allow_inconclusive: AllowInconclusiveOption = False,
    quiet: QuietOption = False,
) -> None:
    """Has the data drifted? Class priors, per-property distributions (judged by effect
    size) and a domain classifier, CURRENT against REFERENCE.

    Exit code 0 when nothing drifted, 1 when a drift gate failed, 2 on bad input.
    """
    settings = with_executor(load_project_config(config), executor, address, worker_root)
    columns = _Columns(path_column, label_column, split_column, id_column, text_column, modality)
    # An existing path is a dataset to profile; anything else names a stored snapshot.
    sides = [
        columns.open(settings.data, spec) if Path(spec).expanduser().exists() else spec
        for spec in (reference, current)
    ]
    with progress_bars(quiet=quiet) as progress:
        run = run_drift(
            sides[0],
            sides[1],
            config=settings,
            db=db,
            workers=workers,
            progress=progress,
            allow_inconclusive=allow_inconclusive,
            report_dir=report_dir,
            formats=None,
            explicit_reports={"json": json_path, "html": html, "junit": junit},
        )
    show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(run.exit_code)


@app.command("snapshots")
def snapshots_command(db: DbOption = None) -> None:
    """List stored snapshots, newest first."""
    with open_configured_store(db) as store:
        snapshots = store.list_snapshots()
    table = Table("id", "created", "samples", "fingerprint", "source")
    for snap in snapshots:
        table.add_row(
            str(snap.id),
            snap.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            str(snap.n_samples),
            snap.fingerprint.removeprefix("sha256:")[:12],
            snap.source,
        )
    stdout.print(table)


@app.command("diff")
def diff_command(
    old: Annotated[
        str | None,
        typer.Argument(
            help="Snapshot id, 'latest' or 'latest~N' [default: the snapshot of the same "
            "source before NEW].",
            show_default=False,
        ),
    ] = None,
    new: Annotated[
        str | None, typer.Argument(help="Snapshot id, 'latest' or 'latest~N' [default: latest].")
    ] = None,
    db: DbOption = None,
    json_path: JsonOption = None,
    limit: Annotated[int, typer.Option(help="Ids to show per list.")] = 10,
) -> None:
    """What changed between two snapshots: samples, class counts, properties, issues."""
    with open_configured_store(db) as store:
        old_snap, new_snap, diff = diff_snapshots(store, old, new)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "schema": "dlqa.data_diff",
            "schema_version": 1,
            "old_snapshot": old_snap.id,
            "new_snapshot": new_snap.id,
            **diff.to_dict(),
        }
        json_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    _print_diff(old_snap, new_snap, diff, limit)
    if json_path is not None:
        stdout.print(f" json: {json_path}", highlight=False)


def _preview(ids: list[str], limit: int) -> str:
    more = f" ... (+{len(ids) - limit})" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


def _print_diff(old, new, diff, limit: int) -> None:  # noqa: ANN001
    stdout.print(f"[bold]Snapshot {old.id} -> {new.id}[/bold] of {new.source}", highlight=False)
    if old.source != new.source:
        stdout.print(
            f"[yellow]note: different sources ({old.source} and {new.source}): this compares "
            "two datasets, not two versions of one[/yellow]",
            highlight=False,
        )
    for snap in (old, new):
        if not snap.complete:
            stdout.print(
                f"[yellow]note: snapshot {snap.id} comes from a run that did not finish; "
                "its issues may be incomplete[/yellow]",
                highlight=False,
            )
    if diff.unchanged:
        stdout.print("identical datasets (same fingerprint)")
    changed_ids = [c["id"] + " (" + "+".join(c["changed"]) + ")" for c in diff.changed]
    for name, ids in (("added", diff.added), ("removed", diff.removed), ("changed", changed_ids)):
        stdout.print(f"{name:>8}: {len(ids)}" + (f"  {_preview(ids, limit)}" if ids else ""))
    moved = [row for row in diff.class_counts if row["delta"]]
    if moved:
        table = Table("class", "old", "new", "delta", title="Class counts")
        for row in moved:
            table.add_row(row["label"], str(row["old"]), str(row["new"]), f"{row['delta']:+d}")
        stdout.print(table)
    # KS below 0.05 is noise for a reader; the JSON keeps every property.
    shifted = [row for row in diff.properties if row["ks_statistic"] >= 0.05]
    if shifted:
        table = Table("property", "old median", "new median", "KS", title="Property shifts")
        for row in shifted:
            table.add_row(
                row["property"],
                f"{row['old_median']:.4g}",
                f"{row['new_median']:.4g}",
                f"{row['ks_statistic']:.3f}",
            )
        stdout.print(table)
    for issue in diff.issues:
        stdout.print(
            f"[bold]{issue['check_id']}[/bold] ({issue['old_status']} -> {issue['new_status']}): "
            f"{len(issue['new'])} new, {len(issue['fixed'])} fixed"
        )
        if issue["new"]:
            stdout.print(f"    new: {_preview(issue['new'], limit)}", highlight=False)
        if issue["fixed"]:
            stdout.print(f"  fixed: {_preview(issue['fixed'], limit)}", highlight=False)


from dlqa.cli.review import app as review_app  # noqa: E402

app.add_typer(review_app, name="review")
