"""The store: runs, their check results, dataset snapshots, and artifacts."""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from dlqa.core.errors import UsageError
from dlqa.core.jsonsafe import finite_number, to_json_safe
from dlqa.core.results import CheckResult
from dlqa.store.adjudications import AdjudicationMethods
from dlqa.store.artifacts import ArtifactStore, is_digest
from dlqa.store.connect import default_database_url, open_engine, redact_url, sqlite_file
from dlqa.store.models import ArtifactRow, ResultRow, RunRow, SnapshotRow, utc_now
from dlqa.store.queries import QueryMethods
from dlqa.store.records import (
    END_STATUSES,
    RUN_FAILED,
    RUN_FINISHED,
    RUN_RUNNING,
    RunRecord,
    SnapshotRecord,
    result_from_row,
    run_record,
    snapshot_record,
)
from dlqa.store.reviews import ReviewMethods
from dlqa.store.snapshot_queries import SnapshotQueryMethods

ARTIFACTS_ENV = "DLQA_ARTIFACTS"
SNAPSHOTS_HINT = "see the stored snapshots with `dlqa data snapshots`"
_LATEST_REF = re.compile(r"latest(?:~(\d+))?")


class Store(ReviewMethods, AdjudicationMethods, QueryMethods, SnapshotQueryMethods):
    """Typed access to one dlqa database and the artifact folder of one project (spot-check
    reviews: :class:`dlqa.store.reviews.ReviewMethods`; adjudicated labels:
    :class:`dlqa.store.adjudications.AdjudicationMethods`; the dashboard's paged reads:
    :class:`dlqa.store.queries.QueryMethods`)."""

    def __init__(
        self, engine: Engine, url: str, project_dir: Path, artifact_root: Path | None = None
    ) -> None:
        self.url = url
        self.project_dir = project_dir
        self._engine = engine
        # Records handed out are plain dataclasses, so rows need not outlive the session.
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        root = artifact_root or project_dir / ".dlqa" / "artifacts"
        self.artifacts = ArtifactStore(root, self._sessions)

    # -- runs -------------------------------------------------------------------------

    def start_run(
        self,
        kind: str,
        command: str,
        config: dict[str, Any],
        provenance: dict[str, Any] | None = None,
    ) -> int:
        row = RunRow(
            kind=kind,
            command=command,
            config=to_json_safe(dict(config)),
            created_at=utc_now(),
            status=RUN_RUNNING,
            provenance=to_json_safe(dict(provenance or {})),
            report={},
        )
        try:
            with self._sessions() as session:
                session.add(row)
                session.commit()
                return row.id
        except OperationalError as exc:
            if "readonly" not in str(exc).replace("read-only", "readonly"):
                raise
            raise UsageError(
                f"the dlqa database {redact_url(self.url)} is read-only: {exc.orig}",
                hint="make the file and its folder writable, or pass another database "
                "with --db or DLQA_DATABASE_URL",
            ) from None

    def add_results(self, run_id: int, results: list[CheckResult]) -> None:
        """Append ``results`` to the run, in order, and commit them at once.

        Committing per call means results already reported survive a crash later in
        the run; calling again appends after the ones already stored. Writers of the same
        run take turns: the run's row is locked (on PostgreSQL; SQLite's BEGIN IMMEDIATE
        locks the whole database) before the next position is read, so two of them never
        read the same last position. On PostgreSQL writers of different runs do not wait
        for each other.
        """
        with self._sessions() as session:
            self._require_run(session, run_id, lock=True)
            last = session.scalar(
                select(func.max(ResultRow.position)).where(ResultRow.run_id == run_id)
            )
            start = -1 if last is None else last
            for offset, result in enumerate(results, start=1):
                data = result.to_dict()  # JSON-safe: no NaN, no numpy types
                interval = data["interval"] or {}
                session.add(
                    ResultRow(
                        run_id=run_id,
                        position=start + offset,
                        check_id=data["check_id"],
                        subject=data["subject"],
                        status=data["status"],
                        summary=data["summary"],
                        value=data["value"],
                        threshold=data["threshold"],
                        n=data["n"],
                        interval_low=interval.get("low"),
                        interval_high=interval.get("high"),
                        interval_level=finite_number(interval.get("level")),
                        # to_dict() made them JSON-safe already: no NaN, no numpy types.
                        evidence=data["evidence"],
                        details=data["details"],
                    )
                )
            session.commit()

    def set_report_parts(self, run_id: int, parts: dict[str, Any]) -> None:
        """Store (merging) what views need besides the results: title, meta, class counts,
        histogram bins, thumbnail artifact digests."""
        with self._sessions() as session:
            # Locked: two writers merging at once must not drop each other's parts.
            row = self._require_run(session, run_id, lock=True)
            row.report = {**(row.report or {}), **to_json_safe(parts)}
            session.commit()

    def finish_run(self, run_id: int, status: str, exit_code: int) -> None:
        if status not in END_STATUSES:
            raise ValueError(f"a run finishes as one of {END_STATUSES}, not {status!r}")
        with self._sessions() as session:
            row = self._require_run(session, run_id)
            row.status = status
            row.exit_code = int(exit_code)
            row.finished_at = utc_now()
            session.commit()

    def get_run(self, run_id: int) -> RunRecord:
        with self._sessions() as session:
            return run_record(self._require_run(session, run_id))

    def list_runs(self, kind: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first; only those of ``kind`` when given."""
        query = select(RunRow).order_by(RunRow.id.desc())
        if kind is not None:
            query = query.where(RunRow.kind == kind)
        if limit is not None:
            query = query.limit(limit)
        with self._sessions() as session:
            return [run_record(row) for row in session.scalars(query)]

    def results_for_run(self, run_id: int) -> list[CheckResult]:
        with self._sessions() as session:
            self._require_run(session, run_id)
            rows = session.scalars(
                select(ResultRow).where(ResultRow.run_id == run_id).order_by(ResultRow.position)
            )
            return [result_from_row(row) for row in rows]

    # -- snapshots --------------------------------------------------------------------

    def add_snapshot(
        self,
        run_id: int,
        source: str,
        fingerprint: str,
        n_samples: int,
        table_digest: str,
        summary: dict[str, Any],
    ) -> int:
        """Record a snapshot whose per-sample table was stored with ``artifacts.put_*``."""
        with self._sessions() as session:
            self._require_run(session, run_id)
            if not is_digest(table_digest) or session.get(ArtifactRow, table_digest) is None:
                raise ValueError(
                    f"table digest {table_digest!r} is not a stored artifact; "
                    "store the table with store.artifacts.put_file first"
                )
            row = SnapshotRow(
                run_id=run_id,
                created_at=utc_now(),
                source=source,
                fingerprint=fingerprint,
                n_samples=int(n_samples),
                table_digest=table_digest,
                summary=to_json_safe(dict(summary)),
            )
            session.add(row)
            session.commit()
            return row.id

    def get_snapshot(
        self, ref: int | str, *, source: str | None = None, include_incomplete: bool = False
    ) -> SnapshotRecord:
        """The snapshot named by ``ref``: an id, ``"latest"`` or ``"latest~N"`` (N before latest).

        ``source`` narrows ``latest`` refs to the snapshots of one source; an id is
        looked up as it is. ``latest`` refs leave out snapshots of runs that did not finish
        (interrupted, failed, or still running) unless ``include_incomplete``: their checks
        did not all run, so a diff against them would report issues as fixed that were never
        checked. ``SnapshotRecord.complete`` says which kind a record is.
        """
        snapshot_id, back = _parse_snapshot_ref(ref)
        with self._sessions() as session:
            # An id names one snapshot, complete or not; 'latest' refs skip incomplete ones.
            query = self._snapshot_query(source, include_incomplete or snapshot_id is not None)
            if snapshot_id is not None:
                row = session.scalars(query.where(SnapshotRow.id == snapshot_id)).first()
            else:
                row = session.scalars(query.offset(back).limit(1)).first()
            if row is None:
                count_query = select(func.count()).select_from(query.subquery())
                count = session.scalar(count_query) or 0
                where = f" of source {source!r}" if source is not None else ""
                raise UsageError(
                    f"no snapshot {ref!r}{where} in {redact_url(self.url)} "
                    f"({count} snapshot{'s' if count != 1 else ''} stored)",
                    hint=f"{SNAPSHOTS_HINT}; refer to one by id, 'latest' or 'latest~N'",
                )
            return snapshot_record(row, self._run_status(session, row.run_id))

    def list_snapshots(
        self, source: str | None = None, *, include_incomplete: bool = False
    ) -> list[SnapshotRecord]:
        """Snapshots of finished runs, newest first; only those of ``source`` when given."""
        query = self._snapshot_query(source, include_incomplete)
        with self._sessions() as session:
            return [
                snapshot_record(row, self._run_status(session, row.run_id))
                for row in session.scalars(query)
            ]

    @staticmethod
    def _run_status(session: Session, run_id: int) -> str:
        return session.scalar(select(RunRow.status).where(RunRow.id == run_id)) or RUN_FAILED

    @staticmethod
    def _snapshot_query(source: str | None, include_incomplete: bool) -> Any:
        query = select(SnapshotRow).order_by(SnapshotRow.id.desc())
        if not include_incomplete:
            query = query.join(RunRow, RunRow.id == SnapshotRow.run_id).where(
                RunRow.status == RUN_FINISHED
            )
        if source is not None:
            query = query.where(SnapshotRow.source == source)
        return query

    # -- lifecycle --------------------------------------------------------------------

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({redact_url(self.url)!r}, project_dir={str(self.project_dir)!r})"

    def _require_run(self, session: Session, run_id: int, *, lock: bool = False) -> RunRow:
        """The run's row; ``lock`` holds it until the session commits (PostgreSQL: FOR NO KEY
        UPDATE, which still lets other transactions insert rows that refer to the run)."""
        row = session.get(RunRow, run_id, with_for_update={"key_share": True} if lock else None)
        if row is None:
            raise UsageError(
                f"no run {run_id} in {redact_url(self.url)}",
                hint="check the run id; runs are numbered as the commands report them",
            )
        return row


def open_store(
    url: str | None = None,
    project_dir: Path | str | None = None,
    *,
    artifacts: Path | str | None = None,
) -> Store:
    """Open (creating and upgrading as needed) the store of the project in ``project_dir``.

    ``url`` defaults to ``DLQA_DATABASE_URL``, else ``<project_dir>/.dlqa/dlqa.db``;
    ``project_dir`` defaults to the current directory. Artifacts live in ``artifacts`` when
    given, else under ``DLQA_ARTIFACTS``, else beside a SQLite database (its folder's
    ``artifacts``), else in ``<project_dir>/.dlqa/artifacts``: wherever the command runs, a
    database finds its own artifacts, and a team shares a root with a PostgreSQL database.
    """
    folder = Path.cwd() if project_dir is None else Path(project_dir).expanduser()
    folder = folder.resolve()
    resolved_url = default_database_url(folder) if url is None else url
    root = artifact_root(resolved_url, folder, artifacts)
    engine = open_engine(resolved_url)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        engine.dispose()
        raise UsageError(
            f"cannot create the dlqa artifact folder {root}: {exc.strerror}",
            hint=f"make it writable, or name another with [store] artifacts or {ARTIFACTS_ENV}",
        ) from exc
    return Store(engine, resolved_url, folder, root)


def artifact_root(url: str, project_dir: Path, artifacts: Path | str | None = None) -> Path:
    """Where the artifacts of the database at ``url`` live (see :func:`open_store`)."""
    chosen = artifacts or os.environ.get(ARTIFACTS_ENV, "").strip() or None
    if chosen is not None:
        path = Path(chosen).expanduser()
        return (path if path.is_absolute() else project_dir / path).resolve()
    database = sqlite_file(url)
    if database is not None:
        return database.parent / "artifacts"
    return project_dir / ".dlqa" / "artifacts"


def _parse_snapshot_ref(ref: int | str) -> tuple[int | None, int]:
    """``(id, 0)`` for an id, ``(None, N)`` for ``latest~N``."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        return ref, 0
    if isinstance(ref, str):
        text = ref.strip()
        if text.isdigit():
            return int(text), 0
        match = _LATEST_REF.fullmatch(text)
        if match:
            return None, int(match.group(1) or 0)
    raise UsageError(
        f"{ref!r} is not a snapshot reference",
        hint=f"use a snapshot id, 'latest' or 'latest~N' (N snapshots before the latest); "
        f"{SNAPSHOTS_HINT}",
    )
