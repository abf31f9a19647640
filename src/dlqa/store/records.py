"""Plain records handed out by the store: runs, snapshots and results, built from rows so
that nothing outlives its database session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dlqa.core.results import CheckResult
from dlqa.store.models import ResultRow, RunRow, SnapshotRow

RUN_RUNNING = "running"
RUN_FINISHED = "finished"
RUN_FAILED = "failed"
RUN_INTERRUPTED = "interrupted"
END_STATUSES = (RUN_FINISHED, RUN_FAILED, RUN_INTERRUPTED)


@dataclass(frozen=True)
class RunRecord:
    id: int
    kind: str
    command: str
    config: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None
    status: str
    exit_code: int | None
    provenance: dict[str, Any]
    report: dict[str, Any]

    @property
    def complete(self) -> bool:
        return self.status == RUN_FINISHED


@dataclass(frozen=True)
class SnapshotRecord:
    id: int
    run_id: int
    created_at: datetime
    source: str
    fingerprint: str
    n_samples: int
    table_digest: str
    summary: dict[str, Any]
    complete: bool = True  # its run finished


def run_record(row: RunRow) -> RunRecord:
    return RunRecord(
        id=row.id,
        kind=row.kind,
        command=row.command,
        config=dict(row.config),
        created_at=row.created_at,
        finished_at=row.finished_at,
        status=row.status,
        exit_code=row.exit_code,
        provenance=dict(row.provenance or {}),
        report=dict(row.report or {}),
    )


def snapshot_record(row: SnapshotRow, run_status: str) -> SnapshotRecord:
    return SnapshotRecord(
        id=row.id,
        run_id=row.run_id,
        created_at=row.created_at,
        source=row.source,
        fingerprint=row.fingerprint,
        n_samples=row.n_samples,
        table_digest=row.table_digest,
        summary=dict(row.summary),
        complete=run_status == RUN_FINISHED,
    )


def result_from_row(row: ResultRow) -> CheckResult:
    return CheckResult.from_dict(
        {
            "check_id": row.check_id,
            "subject": row.subject,
            "status": row.status,
            "summary": row.summary,
            "value": row.value,
            "threshold": row.threshold,
            "n": row.n,
            "interval": {
                "low": row.interval_low,
                "high": row.interval_high,
                "level": row.interval_level or 0.95,
            },
            "evidence": row.evidence,
            "details": row.details,
        }
    )
