"""The labels stage: agreement between annotators on a long table (item, annotator, label).

Registered through the ``dlqa.stages`` entry point ``labels``; `dlqa labels agreement FILE`
runs it, and so does `dlqa check` when ``[labels] agreement`` names a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from dlqa.core.errors import UsageError
from dlqa.core.stages import StageRun, StageSpec, register_stage
from dlqa.labels.agreement import Ratings
from dlqa.sources.manifest_readers import column_as_strings, read_manifest_table


class LabelsConfig(BaseModel):
    """``[labels]``: the annotations whose agreement is measured."""

    model_config = ConfigDict(extra="forbid")

    agreement: str | None = Field(
        None, description="long table (CSV, Parquet, JSONL): one row per item and annotator"
    )
    item_column: str = "item"
    annotator_column: str = "annotator"
    label_column: str = "label"


@dataclass(frozen=True)
class AgreementContext:
    """What the labels checks read: the ratings and the file they came from."""

    ratings: Ratings
    source: str


def read_ratings(
    path: str | Path, *, item_column: str, annotator_column: str, label_column: str
) -> Ratings:
    """The ratings of a long table; a missing column or an empty label is a usage error."""
    path = Path(path).expanduser()
    table = read_manifest_table(path)
    wanted = {"item": item_column, "annotator": annotator_column, "label": label_column}
    missing = [f"{role} column {name!r}" for role, name in wanted.items()
               if name not in table.column_names]  # fmt: skip
    if missing:
        raise UsageError(
            f"{path}: no {', no '.join(missing)}; columns present: "
            f"{', '.join(map(repr, table.column_names))}",
            hint="name them with --item-column, --annotator-column, --label-column",
        )
    values = {role: column_as_strings(table.column(name)) for role, name in wanted.items()}
    for role, column in values.items():
        blank = [row + 1 for row, value in enumerate(column) if value is None or not value.strip()]
        if blank:
            raise UsageError(
                f"{path}: {len(blank)} row(s) have no {role} (data rows {blank[:5]}, 1-based)",
                hint=f"fill in the {role} of every row, or remove those rows",
            )
    return Ratings.from_rows(values["item"], values["annotator"], values["label"])


def build_labels_context(run: StageRun) -> AgreementContext:
    section: LabelsConfig = run.section
    path = run.inputs.get("path") or section.agreement
    if path is None:
        raise UsageError("no annotation table", hint='set [labels] agreement = "..."')
    path = Path(path)
    if not path.is_absolute() and "path" not in run.inputs:
        path = run.config.base_dir / path
    # One name per table, however it was given (the adjudication queue is keyed by it).
    path = path.expanduser().resolve()
    columns = {
        "item_column": run.inputs.get("item_column") or section.item_column,
        "annotator_column": run.inputs.get("annotator_column") or section.annotator_column,
        "label_column": run.inputs.get("label_column") or section.label_column,
    }
    ratings = read_ratings(path, **columns)
    run.report_parts.update(
        meta={
            "source": str(path),
            "items": len(ratings.item_names),
            "annotators": len(ratings.annotator_names),
            "ratings": len(ratings.items),
        }
    )
    return AgreementContext(ratings, str(path))


STAGE = register_stage(
    StageSpec(
        name="labels",
        title="Labels",
        section=LabelsConfig,
        build_context=build_labels_context,
        is_configured=lambda section: bool(section.agreement),
        order=15,
        check_order=("labels.agreement", "labels.disagreements"),
    )
)

__all__ = ["STAGE", "AgreementContext", "LabelsConfig", "read_ratings"]
