"""Paged reads for the dashboard: lists that never load every row (mixed into Store).

Every list is ordered by the primary key (newest run first, results in their order) and cut
with LIMIT/OFFSET, so a page costs an index range scan: ``runs.id``, ``runs.kind`` and
``results.run_id`` are indexed. Counts are grouped in the database, never counted in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, Select, false, func, or_, select, type_coerce
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from dlqa.core.results import CheckResult
from dlqa.store.models import ResultRow, RunRow
from dlqa.store.records import RunRecord, result_from_row, run_record

# A kind ending with this is a prefix: "exp." matches "exp.run", "exp.compare", ...
PREFIX_MARK = "."


@dataclass(frozen=True)
class RunSummary:
    """What a list of runs shows of one run: its columns and a few provenance fields, read
    without the run's bulky JSON (config, the provenance's diff, the report parts)."""

    id: int
    kind: str
    command: str
    status: str
    exit_code: int | None
    created_at: datetime
    finished_at: datetime | None
    title: str | None
    user: str | None
    host: str | None
    commit: str | None
    dirty: bool | None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _flag(value: Any) -> bool | None:
    return value if value is None or isinstance(value, bool) else bool(value)


def summary_of(run: RunRecord) -> RunSummary:
    """The summary of a run read whole."""
    git = run.provenance.get("git") or {}
    return RunSummary(
        id=run.id,
        kind=run.kind,
        command=run.command,
        status=run.status,
        exit_code=run.exit_code,
        created_at=run.created_at,
        finished_at=run.finished_at,
        title=_text(run.report.get("title")),
        user=_text(run.provenance.get("user")),
        host=_text(run.provenance.get("host")),
        commit=_text(git.get("commit")),
        dirty=_flag(git.get("dirty")),
    )


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _kind_condition(kinds: Sequence[str]) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    exact = [kind for kind in kinds if not kind.endswith(PREFIX_MARK)]
    if exact:
        conditions.append(RunRow.kind.in_(exact))
    for prefix in (kind for kind in kinds if kind.endswith(PREFIX_MARK)):
        conditions.append(RunRow.kind.like(_like_prefix(prefix), escape="\\"))
    return or_(*conditions) if conditions else false()


def _filtered(query: Select[Any], kinds: Sequence[str] | None, status: str | None) -> Select[Any]:
    if kinds is not None:
        query = query.where(_kind_condition(tuple(kinds)))
    if status is not None:
        query = query.where(RunRow.status == status)
    return query


def _json_field(column: Any, path: tuple[str, ...], sqlite: bool) -> ColumnElement[Any]:
    """One field of a JSON column, read back as JSON text and decoded in Python.

    Not as SQL text (``->>``, ``json_extract``): a string stored with a ``\\udcXX`` escape
    (a file name that is not UTF-8, kept by surrogate escapes) would be unescaped by the
    database into bytes that no driver decodes. SQLite's ``->`` (3.38+) and PostgreSQL's
    ``->`` / ``#>`` on ``json`` return the stored text of the field, escapes kept.
    """
    if sqlite:
        quoted = ".".join('"' + part.replace('"', '""') + '"' for part in path)
        return type_coerce(column.op("->")(f"$.{quoted}"), JSON)
    return column[path if len(path) > 1 else path[0]]


def _summary_columns(sqlite: bool) -> tuple[Any, ...]:
    return (
        RunRow.id,
        RunRow.kind,
        RunRow.command,
        RunRow.status,
        RunRow.exit_code,
        RunRow.created_at,
        RunRow.finished_at,
        _json_field(RunRow.report, ("title",), sqlite),
        _json_field(RunRow.provenance, ("user",), sqlite),
        _json_field(RunRow.provenance, ("host",), sqlite),
        _json_field(RunRow.provenance, ("git", "commit"), sqlite),
        _json_field(RunRow.provenance, ("git", "dirty"), sqlite),
    )


class QueryMethods:
    """The store's paged queries (mixed into :class:`dlqa.store.Store`).

    ``kinds``: None for every run, else a tuple of kinds and kind prefixes (ending with ".").
    """

    url: str
    _sessions: sessionmaker[Session]

    def runs_page(
        self,
        kinds: Sequence[str] | None = None,
        status: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> list[RunRecord]:
        """Whole runs, newest first: one page of them."""
        query = _filtered(select(RunRow), kinds, status)
        query = query.order_by(RunRow.id.desc()).offset(offset).limit(limit)
        with self._sessions() as session:
            return [run_record(row) for row in session.scalars(query)]

    def run_summaries(
        self,
        kinds: Sequence[str] | None = None,
        status: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> list[RunSummary]:
        """One page of runs, newest first, as :class:`RunSummary` (no bulky JSON read)."""
        columns = _summary_columns(sqlite=self.url.startswith("sqlite"))
        query = _filtered(select(*columns), kinds, status)
        query = query.order_by(RunRow.id.desc()).offset(offset).limit(limit)
        try:
            with self._sessions() as session:
                rows = session.execute(query).all()
        except (DataError, OperationalError):
            # PostgreSQL's json operators refuse a lone surrogate escape in the document (and
            # SQLite before 3.38 has no "->"): read this page's rows whole instead.
            return [summary_of(run) for run in self.runs_page(kinds, status, offset, limit)]
        return [
            RunSummary(*row[:7], *(_text(v) for v in row[7:11]), dirty=_flag(row[11]))
            for row in rows
        ]

    def count_runs(self, kinds: Sequence[str] | None = None, status: str | None = None) -> int:
        query = _filtered(select(func.count(RunRow.id)), kinds, status)
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def count_runs_by_kind(self) -> dict[str, int]:
        """{kind: runs of it}, the most frequent first."""
        query = select(RunRow.kind, func.count(RunRow.id)).group_by(RunRow.kind)
        with self._sessions() as session:
            counts = {kind: int(n) for kind, n in session.execute(query)}
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def latest_run(self, kinds: Sequence[str] | None = None) -> RunRecord | None:
        found = self.runs_page(kinds, limit=1)
        return found[0] if found else None

    def run_reports(self, run_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """{run_id: its report parts} of the given runs (their config and provenance unread)."""
        wanted = list(run_ids)
        if not wanted:
            return {}
        query = select(RunRow.id, RunRow.report).where(RunRow.id.in_(wanted))
        with self._sessions() as session:
            return {run_id: dict(report or {}) for run_id, report in session.execute(query)}

    def result_counts(self, run_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """{run_id: {status: results}} of the given runs, in one grouped query."""
        wanted = list(run_ids)
        counts: dict[int, dict[str, int]] = {run_id: {} for run_id in wanted}
        if not wanted:
            return counts
        query = (
            select(ResultRow.run_id, ResultRow.status, func.count(ResultRow.id))
            .where(ResultRow.run_id.in_(wanted))
            .group_by(ResultRow.run_id, ResultRow.status)
        )
        with self._sessions() as session:
            for run_id, status, n in session.execute(query):
                counts[run_id][status] = int(n)
        return counts

    def check_status_counts(self, run_id: int) -> dict[str, dict[str, int]]:
        """{check_id: {status: results}} of one run, in one grouped query."""
        query = (
            select(ResultRow.check_id, ResultRow.status, func.count(ResultRow.id))
            .where(ResultRow.run_id == run_id)
            .group_by(ResultRow.check_id, ResultRow.status)
        )
        counts: dict[str, dict[str, int]] = {}
        with self._sessions() as session:
            for check_id, status, n in session.execute(query):
                counts.setdefault(check_id, {})[status] = int(n)
        return counts

    def results_page(self, run_id: int, offset: int = 0, limit: int = 50) -> list[CheckResult]:
        """One page of a run's results, in the order they were stored."""
        query = (
            select(ResultRow)
            .where(ResultRow.run_id == run_id)
            .order_by(ResultRow.position)
            .offset(offset)
            .limit(limit)
        )
        with self._sessions() as session:
            return [result_from_row(row) for row in session.scalars(query)]

    def results_with_status(
        self, run_id: int, statuses: Sequence[str], limit: int = 500
    ) -> list[CheckResult]:
        """A run's results of the given statuses (at most ``limit``), in order."""
        query = (
            select(ResultRow)
            .where(ResultRow.run_id == run_id, ResultRow.status.in_(list(statuses)))
            .order_by(ResultRow.position)
            .limit(limit)
        )
        with self._sessions() as session:
            return [result_from_row(row) for row in session.scalars(query)]

    def results_of_runs(
        self, run_ids: Iterable[int], check_prefixes: Sequence[str], limit: int = 2000
    ) -> dict[int, list[CheckResult]]:
        """{run_id: its results whose check id starts with one of ``check_prefixes``}, for a
        page of runs (at most ``limit`` results in all)."""
        wanted = list(run_ids)
        found: dict[int, list[CheckResult]] = {run_id: [] for run_id in wanted}
        if not wanted or not check_prefixes:
            return found
        matches = [
            ResultRow.check_id.like(_like_prefix(prefix), escape="\\") for prefix in check_prefixes
        ]
        query = (
            select(ResultRow)
            .where(ResultRow.run_id.in_(wanted), or_(*matches))
            .order_by(ResultRow.run_id.desc(), ResultRow.position)
            .limit(limit)
        )
        with self._sessions() as session:
            for row in session.scalars(query):
                found[row.run_id].append(result_from_row(row))
        return found

    def latest_results_of_check(
        self, check_id: str, run_status: str, limit: int = 500
    ) -> list[tuple[int, CheckResult]]:
        """(run_id, result) of the ``limit`` latest results of ``check_id`` in runs of
        ``run_status``, newest run first, whatever kind of run stored them."""
        query = (
            select(ResultRow)
            .join(RunRow, RunRow.id == ResultRow.run_id)
            .where(ResultRow.check_id == check_id, RunRow.status == run_status)
            .order_by(ResultRow.run_id.desc(), ResultRow.position)
            .limit(limit)
        )
        with self._sessions() as session:
            return [(row.run_id, result_from_row(row)) for row in session.scalars(query)]


__all__ = ["PREFIX_MARK", "QueryMethods", "RunSummary", "summary_of"]
