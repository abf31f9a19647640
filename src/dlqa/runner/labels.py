"""The labels stage as a run of its own (`dlqa labels agreement FILE`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlqa.config import Config, default_config
from dlqa.runner.session import RunSession
from dlqa.store import Store


def run_label_agreement(
    path: str | Path,
    store: Store | None = None,
    *,
    config: Config | None = None,
    item_column: str | None = None,
    annotator_column: str | None = None,
    label_column: str | None = None,
    db: str | None = None,
    report_dir: Path | None = None,
    formats: tuple[str, ...] | list[str] | None = (),
    explicit_reports: dict[str, Path | None] | None = None,
    allow_inconclusive: bool = False,
) -> RunSession:
    """Measure the agreement of the annotations in ``path`` (one row per item and annotator)
    and store it as a run; columns default to ``[labels]`` of ``config``, else item,
    annotator, label."""
    config = config or default_config()
    inputs: dict[str, Any] = {
        "path": str(path),
        "item_column": item_column,
        "annotator_column": annotator_column,
        "label_column": label_column,
    }
    session = RunSession(
        config,
        kind="labels.agreement",
        title=f"Annotator agreement: {path}",
        db=db,
        store=store,
        allow_inconclusive=allow_inconclusive,
        report_dir=report_dir,
        formats=formats,
        explicit_reports=explicit_reports,
    )
    with session:
        session.run_stage("labels", inputs)
    return session
