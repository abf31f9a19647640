"""Spot checks in the store: drawn review samples and reviewers' verdicts.

Verdict rows are only ever added, never updated: a later verdict on a sample supersedes an
earlier one (by insertion order), and both stay, so who said what, and when, is never lost.
Appending needs no read-modify-write, so concurrent importers need no lock beyond the one
every write takes (SQLite's BEGIN IMMEDIATE; on PostgreSQL plain inserts do not conflict).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dlqa.core.errors import UsageError
from dlqa.core.jsonsafe import to_json_safe
from dlqa.store.connect import redact_url
from dlqa.store.models import ReviewSampleRow, ReviewVerdictRow, SnapshotRow, utc_now

VERDICT_OK = "ok"
VERDICT_WRONG_LABEL = "wrong_label"
VERDICT_BAD_SAMPLE = "bad_sample"
VERDICTS = (VERDICT_OK, VERDICT_WRONG_LABEL, VERDICT_BAD_SAMPLE)
REVIEWS_HINT = "draw one with `dlqa data review sample`"


@dataclass(frozen=True)
class ReviewSampleRecord:
    """A drawn review sample. ``items``: ``{"id", "label", "random", "flagged_by"}`` each."""

    id: int
    snapshot_id: int
    source: str
    created_at: datetime
    seed: int
    size: int
    strata: str
    allocation: dict[str, Any]
    items: list[dict[str, Any]]

    @property
    def ids(self) -> list[str]:
        return [str(item["id"]) for item in self.items]

    def item(self, sample_id: str) -> dict[str, Any] | None:
        return self._by_id.get(sample_id)

    @cached_property  # frozen dataclasses allow it: it writes the instance's __dict__
    def _by_id(self) -> dict[str, dict[str, Any]]:
        return {str(item["id"]): item for item in self.items}


@dataclass(frozen=True)
class NewVerdict:
    """A verdict to store: ``label`` is the sample's label when it was reviewed."""

    sample_id: str
    verdict: str
    label: str | None = None
    correct_label: str | None = None
    note: str = ""


@dataclass(frozen=True)
class VerdictRecord:
    id: int
    review_id: int
    source: str
    sample_id: str
    label: str | None
    verdict: str
    correct_label: str | None
    note: str
    reviewer: str | None
    created_at: datetime


def _review_record(row: ReviewSampleRow) -> ReviewSampleRecord:
    return ReviewSampleRecord(
        id=row.id,
        snapshot_id=row.snapshot_id,
        source=row.source,
        created_at=row.created_at,
        seed=int(row.seed),
        size=row.size,
        strata=row.strata,
        allocation=dict(row.allocation),
        items=[dict(item) for item in row.items],
    )


def _verdict_record(row: ReviewVerdictRow) -> VerdictRecord:
    return VerdictRecord(
        id=row.id,
        review_id=row.review_id,
        source=row.source,
        sample_id=row.sample_id,
        label=row.label,
        verdict=row.verdict,
        correct_label=row.correct_label,
        note=row.note,
        reviewer=row.reviewer,
        created_at=row.created_at,
    )


class ReviewMethods:
    """The store's spot-check methods (mixed into :class:`dlqa.store.Store`)."""

    url: str
    _sessions: sessionmaker[Session]

    def add_review_sample(
        self,
        snapshot_id: int,
        *,
        seed: int,
        size: int,
        strata: str,
        allocation: dict[str, Any],
        items: Sequence[dict[str, Any]],
    ) -> int:
        """Record a sample drawn from snapshot ``snapshot_id``; returns its review id."""
        ids = [str(item["id"]) for item in items]
        if len(set(ids)) != len(ids):
            raise ValueError("a review sample names each sample once")
        with self._sessions() as session:
            snapshot = session.get(SnapshotRow, snapshot_id)
            if snapshot is None:
                raise UsageError(
                    f"no snapshot {snapshot_id} in {redact_url(self.url)}",
                    hint="see the stored snapshots with `dlqa data snapshots`",
                )
            row = ReviewSampleRow(
                snapshot_id=snapshot_id,
                source=snapshot.source,
                created_at=utc_now(),
                seed=int(seed),
                size=int(size),
                strata=strata,
                allocation=to_json_safe(dict(allocation)),
                items=to_json_safe([dict(item) for item in items]),
            )
            session.add(row)
            session.commit()
            return row.id

    def get_review_sample(self, review_id: int) -> ReviewSampleRecord:
        with self._sessions() as session:
            row = session.get(ReviewSampleRow, review_id)
            if row is None:
                count = session.scalar(select(func.count()).select_from(ReviewSampleRow)) or 0
                raise UsageError(
                    f"no review sample {review_id} in {redact_url(self.url)} "
                    f"({count} review sample{'s' if count != 1 else ''} stored)",
                    hint=REVIEWS_HINT,
                )
            return _review_record(row)

    def list_review_samples(self, source: str | None = None) -> list[ReviewSampleRecord]:
        """Drawn review samples, newest first; only those of ``source`` when given."""
        query = select(ReviewSampleRow).order_by(ReviewSampleRow.id.desc())
        if source is not None:
            query = query.where(ReviewSampleRow.source == source)
        with self._sessions() as session:
            return [_review_record(row) for row in session.scalars(query)]

    def review_samples_page(self, offset: int = 0, limit: int = 50) -> list[ReviewSampleRecord]:
        """One page of the drawn review samples, newest first."""
        query = (
            select(ReviewSampleRow).order_by(ReviewSampleRow.id.desc()).offset(offset).limit(limit)
        )
        with self._sessions() as session:
            return [_review_record(row) for row in session.scalars(query)]

    def count_review_samples(self) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(ReviewSampleRow)) or 0)

    def add_verdicts(
        self, review_id: int, verdicts: Sequence[NewVerdict], reviewer: str | None = None
    ) -> int:
        """Store verdicts on samples of review ``review_id``, all in one transaction; returns
        how many. Every sample must belong to the review and every verdict be one of
        ``VERDICTS`` (a wrong label with its correct label): callers validate a reviewer's
        file first and say what is wrong; this refuses anything that slipped through."""
        problems = [
            f"{v.sample_id!r}: verdict {v.verdict!r}" for v in verdicts if v.verdict not in VERDICTS
        ] + [
            f"{v.sample_id!r}: wrong_label without a correct label"
            for v in verdicts
            if v.verdict == VERDICT_WRONG_LABEL and not v.correct_label
        ]
        if problems:
            raise ValueError("invalid verdicts: " + "; ".join(problems[:5]))
        with self._sessions() as session:
            review = session.get(ReviewSampleRow, review_id)
            if review is None:
                raise UsageError(f"no review sample {review_id}", hint=REVIEWS_HINT)
            drawn = {str(item["id"]) for item in review.items}
            foreign = [v.sample_id for v in verdicts if v.sample_id not in drawn]
            if foreign:
                raise ValueError(
                    f"{len(foreign)} verdicts on samples not in review sample {review_id}: "
                    + ", ".join(repr(i) for i in foreign[:5])
                )
            now = utc_now()
            session.add_all(
                ReviewVerdictRow(
                    review_id=review_id,
                    source=review.source,
                    sample_id=v.sample_id,
                    label=v.label,
                    verdict=v.verdict,
                    correct_label=v.correct_label or None,
                    note=v.note or "",
                    reviewer=reviewer or None,
                    created_at=now,
                )
                for v in verdicts
            )
            session.commit()
        return len(verdicts)

    def current_verdicts(self, source: str) -> list[VerdictRecord]:
        """The verdict in force on each reviewed sample of ``source`` (the latest stored),
        ordered by sample id."""
        latest = (
            select(func.max(ReviewVerdictRow.id))
            .where(ReviewVerdictRow.source == source)
            .group_by(ReviewVerdictRow.sample_id)
        )
        query = (
            select(ReviewVerdictRow)
            .where(ReviewVerdictRow.id.in_(latest))
            .order_by(ReviewVerdictRow.sample_id, ReviewVerdictRow.id)
        )
        with self._sessions() as session:
            return [_verdict_record(row) for row in session.scalars(query)]

    def verdict_history(self, source: str, sample_id: str | None = None) -> list[VerdictRecord]:
        """Every stored verdict on ``source`` (on one sample when given), oldest first."""
        query = (
            select(ReviewVerdictRow)
            .where(ReviewVerdictRow.source == source)
            .order_by(ReviewVerdictRow.id)
        )
        if sample_id is not None:
            query = query.where(ReviewVerdictRow.sample_id == sample_id)
        with self._sessions() as session:
            return [_verdict_record(row) for row in session.scalars(query)]
