"""Stored results and records into pieces of the model card: measures with their intervals,
the per-class, per-slice, calibration and parity rows, run references and snapshots, and the
small readers of stored values they share. Nothing here queries the store."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dlqa.core.results import CheckResult, Status
from dlqa.report.model_card import (
    CalibrationInfo,
    ClassRow,
    Measure,
    Missing,
    ParityRow,
    RunRef,
    SnapshotInfo,
)
from dlqa.store import RunRecord, SnapshotRecord

__all__ = [
    "as_int",
    "as_text",
    "calibration",
    "first_result",
    "measure",
    "parity_row",
    "per_class_rows",
    "run_ref",
    "slice_rows",
    "snapshot_info",
]


# -- results into card pieces ---------------------------------------------------------------


def measure(result: CheckResult, label: str, run_id: int) -> Measure:
    interval = result.interval
    return Measure(
        label=label,
        value=result.value,
        status=result.status.value,
        low=None if interval is None else interval.low,
        high=None if interval is None else interval.high,
        level=None if interval is None else interval.level,
        n=result.n,
        threshold=result.threshold,
        summary=result.summary,
        run_id=run_id,
        check=result.key,
    )


def _unusable(
    result: CheckResult | None, run: RunRecord, check_id: str, rerun: str, note: str = ""
) -> Missing | None:
    """Missing when ``result`` is absent, skipped or crashed (it then measured nothing)."""
    if result is None:
        return Missing(f"no {check_id} result in run {run.id}", rerun, note)
    if result.status in (Status.SKIP, Status.ERROR):
        return Missing(
            f"{check_id} was {result.status.value} in run {run.id}: {result.summary}", rerun, note
        )
    return None


def per_class_rows(
    run: RunRecord, results: list[CheckResult], rerun: str
) -> list[ClassRow] | Missing:
    result = first_result(results, "eval.per_class")
    missing = _unusable(result, run, "eval.per_class", rerun)
    if missing is not None:
        return missing
    assert result is not None
    table = _evidence_items(result, "table")
    recalls = {
        str(item.get("name")): item
        for item in _evidence_items(result, "intervals")
        if isinstance(item, dict)
    }
    level = None if result.interval is None else result.interval.level
    rows = []
    for item in table:
        if not isinstance(item, dict) or "class" not in item:
            continue
        name = str(item["class"])
        recall_item = recalls.get(f"recall[{name}]", {})
        rows.append(
            ClassRow(
                name=name,
                support=as_int(item.get("support")),
                precision=_number(item.get("precision")),
                precision_interval=str(item.get("precision_interval") or ""),
                recall=Measure(
                    label=f"recall[{name}]",
                    value=_number(recall_item.get("value", item.get("recall"))),
                    status=as_text(recall_item.get("status")),
                    low=_number(recall_item.get("low")),
                    high=_number(recall_item.get("high")),
                    level=level if recall_item.get("low") is not None else None,
                    n=as_int(recall_item.get("n", item.get("support"))),
                    threshold=_number(recall_item.get("threshold")),
                    run_id=run.id,
                    check=result.key,
                ),
                f1=_number(item.get("f1")),
                f1_interval=str(item.get("f1_interval") or ""),
            )
        )
    if not rows:
        return Missing(f"eval.per_class in run {run.id} stored no per-class table", rerun)
    return rows


def slice_rows(run: RunRecord, results: list[CheckResult], rerun: str) -> list[Measure] | Missing:
    result = first_result(results, "eval.slices")
    missing = _unusable(
        result, run, "eval.slices", rerun, "name the slice columns in [eval] slices first"
    )
    if missing is not None:
        return missing
    assert result is not None
    level = None if result.interval is None else result.interval.level
    rows = [
        Measure(
            label=str(item.get("name")),
            value=_number(item.get("value")),
            status=as_text(item.get("status")),
            low=_number(item.get("low")),
            high=_number(item.get("high")),
            level=level,
            n=as_int(item.get("n")),
            threshold=_number(item.get("threshold")),
            run_id=run.id,
            check=result.key,
        )
        for item in _evidence_items(result, "intervals")
        if isinstance(item, dict)
    ]
    return rows or Missing(f"eval.slices in run {run.id} measured no slice", rerun)


def calibration(
    run: RunRecord, results: list[CheckResult], rerun: str
) -> CalibrationInfo | Missing:
    result = first_result(results, "eval.calibration")
    missing = _unusable(result, run, "eval.calibration", rerun)
    if missing is not None:
        return missing
    assert result is not None
    details = result.details
    brier_interval = details.get("brier_interval") or {}
    return CalibrationInfo(
        ece=measure(result, "ECE", run.id),
        brier=_number(details.get("brier")),
        brier_low=_number(brier_interval.get("low")),
        brier_high=_number(brier_interval.get("high")),
        mean_confidence=_number(details.get("mean_confidence")),
        accuracy=_number(details.get("accuracy")),
        n_bins=as_int(details.get("n_bins")),
    )


def parity_row(result: CheckResult) -> ParityRow:
    details = result.details
    metric = details.get("metric") if isinstance(details.get("metric"), dict) else {}
    return ParityRow(
        target=result.subject or "-",
        status=result.status.value,
        summary=result.summary,
        # The row shows the summary itself; the measure carries only the figures.
        agreement=replace(measure(result, "top-1 agreement", 0), summary="", run_id=None),
        max_abs_diff=_number(details.get("max_abs_diff")),
        reference_accuracy=_number(metric.get("reference")),
        target_accuracy=_number(metric.get("target")),
        accuracy_delta=_number(metric.get("delta")),
        error=as_text(details.get("error")),
    )


def run_ref(run: RunRecord, role: str) -> RunRef:
    provenance = run.provenance or {}
    git = provenance.get("git")
    git_text = None
    if isinstance(git, dict) and git.get("commit"):
        git_text = str(git["commit"])[:12] + (" (dirty)" if git.get("dirty") else "")
    return RunRef(
        id=run.id,
        role=role,
        kind=run.kind,
        status=run.status,
        created_at=run.created_at.isoformat(timespec="seconds"),
        finished_at=None
        if run.finished_at is None
        else run.finished_at.isoformat(timespec="seconds"),
        command=run.command,
        exit_code=run.exit_code,
        dlqa_version=as_text((provenance.get("versions") or {}).get("dlqa")),
        git=git_text,
        config_sha256=as_text(provenance.get("config_sha256")),
    )


def snapshot_info(snap: SnapshotRecord) -> SnapshotInfo:
    summary = snap.summary or {}
    counts = summary.get("class_counts") or {}
    overall = counts.get("all") if isinstance(counts, dict) else None
    return SnapshotInfo(
        id=snap.id,
        run_id=snap.run_id,
        created_at=snap.created_at.isoformat(timespec="seconds"),
        source=snap.source,
        fingerprint=snap.fingerprint,
        n_samples=snap.n_samples,
        n_errors=as_int(summary.get("n_errors")),
        modality=as_text(summary.get("modality")),
        class_counts={str(k): int(v) for k, v in (overall or {}).items()},
    )


# -- small helpers --------------------------------------------------------------------------


def first_result(results: list[CheckResult], check_id: str) -> CheckResult | None:
    matching = [r for r in results if r.check_id == check_id]
    for r in matching:
        if r.subject is None:
            return r
    return matching[0] if matching else None


def _evidence_items(result: CheckResult, kind: str) -> list[Any]:
    for evidence in result.evidence:
        if evidence.kind == kind:
            return list(evidence.items)
    return []


def as_text(value: Any) -> str | None:
    return None if value is None else str(value)


def as_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
