"""Paged reads of snapshots for the dashboard: a page of snapshots with what their list shows,
a run's problem results without their evidence, an artifact's media type (mixed into Store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from dlqa.store.artifacts import is_digest
from dlqa.store.models import ArtifactRow, ResultRow, RunRow, SnapshotRow
from dlqa.store.records import result_from_row

# The statuses a snapshot page lists: what needs a look.
PROBLEM_STATUSES = ("fail", "error", "warn")


@dataclass(frozen=True)
class SnapshotListing:
    """One snapshot as the list of snapshots shows it (no summary, no table)."""

    id: int
    run_id: int
    created_at: datetime
    source: str
    fingerprint: str
    n_samples: int
    table_digest: str
    run_status: str
    previous_id: int | None  # the snapshot of the same source stored just before this one
    result_counts: dict[str, int] = field(default_factory=dict)  # status -> results


@dataclass(frozen=True)
class ResultLine:
    """One result as a list shows it: no evidence, no details."""

    position: int
    check_id: str
    subject: str | None
    status: str
    summary: str


class SnapshotQueryMethods:
    """The store's paged snapshot reads (mixed into :class:`dlqa.store.Store`)."""

    url: str
    _sessions: sessionmaker[Session]

    def count_snapshots(self) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(SnapshotRow)) or 0)

    def snapshot_page(self, offset: int, limit: int) -> list[SnapshotListing]:
        """Snapshots newest first, ``limit`` of them from ``offset``, of every run status."""
        earlier = aliased(SnapshotRow)
        previous = (
            select(func.max(earlier.id))
            .where(earlier.source == SnapshotRow.source, earlier.id < SnapshotRow.id)
            .scalar_subquery()
        )
        query = (
            select(SnapshotRow, RunRow.status, previous)
            .join(RunRow, RunRow.id == SnapshotRow.run_id)
            .order_by(SnapshotRow.id.desc())
            .offset(offset)
            .limit(limit)
        )
        with self._sessions() as session:
            rows = session.execute(query).all()
            counts = _result_counts(session, {row.run_id for row, _, _ in rows})
        return [
            SnapshotListing(
                id=row.id,
                run_id=row.run_id,
                created_at=row.created_at,
                source=row.source,
                fingerprint=row.fingerprint,
                n_samples=row.n_samples,
                table_digest=row.table_digest,
                run_status=status,
                previous_id=previous_id,
                result_counts=counts.get(row.run_id, {}),
            )
            for row, status, previous_id in rows
        ]

    def previous_snapshot_id(self, snapshot_id: int, source: str) -> int | None:
        """The snapshot of ``source`` stored just before ``snapshot_id`` (None: the first)."""
        query = select(func.max(SnapshotRow.id)).where(
            SnapshotRow.source == source, SnapshotRow.id < snapshot_id
        )
        with self._sessions() as session:
            return session.scalar(query)

    def problem_results(self, run_id: int, limit: int = 200) -> list[ResultLine]:
        """The run's failing, erroring and warning results in run order, without evidence."""
        query = (
            select(
                ResultRow.position,
                ResultRow.check_id,
                ResultRow.subject,
                ResultRow.status,
                ResultRow.summary,
            )
            .where(ResultRow.run_id == run_id, ResultRow.status.in_(PROBLEM_STATUSES))
            .order_by(ResultRow.position)
            .limit(limit)
        )
        with self._sessions() as session:
            return [ResultLine(*row) for row in session.execute(query)]

    def flagged_sample_ids(self, run_id: int, check_id: str) -> set[str]:
        """The sample ids that the run's results of ``check_id`` name in their evidence."""
        query = select(ResultRow).where(ResultRow.run_id == run_id, ResultRow.check_id == check_id)
        with self._sessions() as session:
            return {
                sample_id
                for row in session.scalars(query)
                for sample_id in result_from_row(row).flagged_ids()
            }

    def run_result_counts(self, run_id: int) -> dict[str, int]:
        """How many of the run's results have each status."""
        with self._sessions() as session:
            return _result_counts(session, {run_id}).get(run_id, {})

    def artifact_media_type(self, digest: str) -> str | None:
        """The media type an artifact was stored with; None when no artifact has ``digest``."""
        if not is_digest(digest):
            return None
        with self._sessions() as session:
            return session.scalar(
                select(ArtifactRow.media_type).where(ArtifactRow.digest == digest)
            )


def _result_counts(session: Session, run_ids: set[int]) -> dict[int, dict[str, int]]:
    """run id -> {status: results}, one grouped query (the results' run_id index)."""
    if not run_ids:
        return {}
    query = (
        select(ResultRow.run_id, ResultRow.status, func.count())
        .where(ResultRow.run_id.in_(sorted(run_ids)))
        .group_by(ResultRow.run_id, ResultRow.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for run_id, status, count in session.execute(query):
        counts.setdefault(run_id, {})[status] = int(count)
    return counts


__all__ = ["PROBLEM_STATUSES", "ResultLine", "SnapshotListing", "SnapshotQueryMethods"]
