"""The labels stage as a run of its own (`dlqa labels agreement FILE`), and the adjudication
queue its runs leave: the items annotators disagreed on, and the final labels decided since
(`dlqa labels adjudications SOURCE`, the dashboard's /adjudicate)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from dlqa.config import Config, default_config
from dlqa.core.errors import UsageError
from dlqa.runner.session import RunSession
from dlqa.store import RUN_FINISHED, AdjudicationRecord, RunRecord, Store

AGREEMENT_KIND = "labels.agreement"
DISAGREEMENTS_CHECK = "labels.disagreements"
# Agreement runs looked at for the queue, newest first: enough for every annotation table a
# team keeps, without reading a store's whole history on each page.
RECENT_AGREEMENT_RUNS = 500
ADJUDICATION_COLUMNS = ("item", "label", "adjudicator", "decided_at", "note", "run_id")


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
        _note_adjudicated(session)
    return session


def agreement_source(run: RunRecord) -> str | None:
    """The annotation table an agreement run read (its report's source)."""
    source = (run.report.get("meta") or {}).get("source")
    return None if source is None else str(source)


def latest_agreement_runs(store: Store) -> dict[str, RunRecord]:
    """source -> the latest finished run that measured its agreement: a `dlqa labels
    agreement` run or a `dlqa check` run with ``[labels] agreement``; sources in order of
    their latest run."""
    latest: dict[str, int] = {}
    found = store.latest_results_of_check(
        DISAGREEMENTS_CHECK, RUN_FINISHED, limit=RECENT_AGREEMENT_RUNS
    )
    runs = {}
    for run_id, result in found:
        source = result.details.get("source")
        if source is None:  # stored before the result named its table
            run = runs.setdefault(run_id, store.get_run(run_id))
            source = agreement_source(run) if run.kind == AGREEMENT_KIND else None
        if source is not None:
            latest.setdefault(str(source), run_id)
    return {source: runs.get(run_id) or store.get_run(run_id) for source, run_id in latest.items()}


def items_to_adjudicate(store: Store, run_id: int) -> list[dict[str, Any]]:
    """The queue of agreement run ``run_id``: ``{"item", "disagreement", "labels"}`` rows
    (labels: annotator -> label), most contested first; empty when all agreed."""
    return queue_of(store, run_id)[1]


def queue_of(store: Store, run_id: int) -> tuple[str | None, list[dict[str, Any]]]:
    """(the annotation table, its items to adjudicate) that run ``run_id`` stored; (None, [])
    when the run measured no agreement."""
    for result in store.results_for_run(run_id):
        if result.check_id == DISAGREEMENTS_CHECK:
            source = result.details.get("source")
            if source is None:  # stored before the result named its table
                source = agreement_source(store.get_run(run_id))
            rows = [dict(row) for e in result.evidence if e.kind == "table" for row in e.items]
            return (None if source is None else str(source)), rows
    return None, []


def _note_adjudicated(session: RunSession) -> None:
    """Record in the run's meta how many of its items to adjudicate are already decided (by
    an earlier queue of the same table): the queue the dashboard shows is the rest."""
    assert session.store is not None and session.run_id is not None
    run = session.store.get_run(session.run_id)
    source = agreement_source(run)
    if source is None:
        return
    items = [str(row["item"]) for row in items_to_adjudicate(session.store, run.id)]
    decided = session.store.adjudications_of(source, items)
    meta = {**run.report.get("meta", {}), "to_adjudicate": len(items), "adjudicated": len(decided)}
    session.store.set_report_parts(run.id, {"meta": meta})


def final_labels(store: Store, source: str) -> list[AdjudicationRecord]:
    """The final label in force on each adjudicated item of ``source``, by item id; a source
    dlqa never saw is a usage error that names the ones it knows."""
    records = store.current_adjudications(source)
    if records:
        return records
    known = set(store.adjudicated_sources()) | set(latest_agreement_runs(store))
    if source not in known:
        raise UsageError(
            f"no adjudications and no agreement run of {source!r}",
            hint="sources known: "
            + (", ".join(sorted(known)) or "none (run `dlqa labels agreement FILE` first)"),
        )
    return []


def write_adjudications_csv(records: list[AdjudicationRecord], path: Path) -> None:
    """The final labels as CSV (UTF-8): item, label, adjudicator, decided_at, note, run_id."""
    with path.open("w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
        writer = csv.writer(handle)
        writer.writerow(ADJUDICATION_COLUMNS)
        for record in records:
            writer.writerow(
                [
                    record.item_id,
                    record.label,
                    record.adjudicator or "",
                    record.created_at.isoformat(),
                    record.note,
                    "" if record.run_id is None else record.run_id,
                ]
            )


__all__ = [
    "ADJUDICATION_COLUMNS",
    "AGREEMENT_KIND",
    "agreement_source",
    "final_labels",
    "items_to_adjudicate",
    "latest_agreement_runs",
    "run_label_agreement",
    "write_adjudications_csv",
]
