"""Adjudicated labels: the final label an adjudicator chose for a disputed item (mixed into
Store).

Rows are only ever added, as verdicts are: a later decision on an item of a source supersedes
an earlier one (the highest id wins), and both stay, so who decided what, and when, is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dlqa.core.errors import UsageError
from dlqa.store.connect import redact_url
from dlqa.store.models import AdjudicationRow, RunRow, utc_now

# Item ids per IN (...) list: well under SQLite's and PostgreSQL's limits on parameters.
_IN_CHUNK = 500


@dataclass(frozen=True)
class AdjudicationRecord:
    id: int
    run_id: int | None
    source: str
    item_id: str
    label: str
    note: str
    adjudicator: str | None
    created_at: datetime


def _record(row: AdjudicationRow) -> AdjudicationRecord:
    return AdjudicationRecord(
        id=row.id,
        run_id=row.run_id,
        source=row.source,
        item_id=row.item_id,
        label=row.label,
        note=row.note,
        adjudicator=row.adjudicator,
        created_at=row.created_at,
    )


def _latest_ids(source: str) -> object:
    """The id of the decision in force on each adjudicated item of ``source``."""
    return (
        select(func.max(AdjudicationRow.id))
        .where(AdjudicationRow.source == source)
        .group_by(AdjudicationRow.item_id)
    )


class AdjudicationMethods:
    """The store's adjudication methods (mixed into :class:`dlqa.store.Store`)."""

    url: str
    _sessions: sessionmaker[Session]

    def add_adjudication(
        self,
        source: str,
        item_id: str,
        label: str,
        *,
        note: str = "",
        adjudicator: str | None = None,
        run_id: int | None = None,
    ) -> int:
        """Record the final label of ``item_id`` of ``source``; returns the decision's id."""
        if not str(label).strip():
            raise ValueError(f"an adjudication of {item_id!r} needs a label")
        with self._sessions() as session:
            if run_id is not None and session.get(RunRow, run_id) is None:
                raise UsageError(f"no run {run_id} in {redact_url(self.url)}")
            row = AdjudicationRow(
                run_id=run_id,
                source=source,
                item_id=str(item_id),
                label=str(label),
                note=note or "",
                adjudicator=adjudicator or None,
                created_at=utc_now(),
            )
            session.add(row)
            session.commit()
            return row.id

    def current_adjudications(
        self, source: str, *, offset: int = 0, limit: int | None = None
    ) -> list[AdjudicationRecord]:
        """The decision in force on each adjudicated item of ``source`` (the latest stored),
        ordered by item id; a page of them with ``offset`` and ``limit``."""
        query = (
            select(AdjudicationRow)
            .where(AdjudicationRow.id.in_(_latest_ids(source)))
            .order_by(AdjudicationRow.item_id, AdjudicationRow.id)
            .offset(offset)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._sessions() as session:
            return [_record(row) for row in session.scalars(query)]

    def count_adjudications(self, source: str) -> int:
        """How many items of ``source`` have a final label."""
        query = select(func.count(func.distinct(AdjudicationRow.item_id))).where(
            AdjudicationRow.source == source
        )
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def adjudications_of(
        self, source: str, item_ids: Iterable[str]
    ) -> dict[str, AdjudicationRecord]:
        """item id -> the decision in force, for those of ``item_ids`` that have one."""
        wanted = sorted({str(item) for item in item_ids})
        found: dict[str, AdjudicationRecord] = {}
        with self._sessions() as session:
            for start in range(0, len(wanted), _IN_CHUNK):
                query = (
                    select(AdjudicationRow)
                    .where(AdjudicationRow.source == source)
                    .where(AdjudicationRow.item_id.in_(wanted[start : start + _IN_CHUNK]))
                    .order_by(AdjudicationRow.id)
                )
                for row in session.scalars(query):
                    found[row.item_id] = _record(row)  # ascending ids: the latest stays
        return found

    def adjudication_history(
        self, source: str, item_id: str | None = None
    ) -> list[AdjudicationRecord]:
        """Every stored decision on ``source`` (on one item when given), oldest first."""
        query = (
            select(AdjudicationRow)
            .where(AdjudicationRow.source == source)
            .order_by(AdjudicationRow.id)
        )
        if item_id is not None:
            query = query.where(AdjudicationRow.item_id == item_id)
        with self._sessions() as session:
            return [_record(row) for row in session.scalars(query)]

    def adjudicated_sources(self) -> list[str]:
        """The sources with at least one adjudication, sorted."""
        query = select(AdjudicationRow.source).distinct().order_by(AdjudicationRow.source)
        with self._sessions() as session:
            return list(session.scalars(query))


__all__ = ["AdjudicationMethods", "AdjudicationRecord"]
