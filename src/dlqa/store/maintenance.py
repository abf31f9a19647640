"""Looking at a database's schema without changing it, and upgrading it on purpose.

``dlqa db check`` and ``dlqa db upgrade`` are thin over these. Opening a store upgrades
its database anyway; :func:`check_database` is the one way to look without upgrading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, inspect, select, table
from sqlalchemy.exc import SQLAlchemyError

from dlqa.core.errors import EXIT_GATE_FAILED, EXIT_OK, EXIT_USAGE
from dlqa.store.connect import (
    create_store_engine,
    database_error,
    migrate_engine,
    redact_url,
    sqlite_file,
)
from dlqa.store.migrate import current_revision, head_revision, known_revision

COUNTED_TABLES = ("runs", "results", "snapshots", "artifacts")

SCHEMA_CURRENT = "current"  # at this dlqa's newest revision
SCHEMA_BEHIND = "behind"  # older, or empty: `dlqa db upgrade` brings it up
SCHEMA_MISSING = "missing"  # a SQLite file that does not exist yet
SCHEMA_NEWER = "newer"  # written by a newer dlqa: refused


@dataclass(frozen=True)
class DatabaseStatus:
    """What :func:`check_database` found. ``counts`` has the tables that exist."""

    url: str  # password redacted
    revision: str | None
    head: str
    state: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 current, 1 behind (or not there yet), 2 newer than this dlqa."""
        if self.state == SCHEMA_CURRENT:
            return EXIT_OK
        if self.state == SCHEMA_NEWER:
            return EXIT_USAGE
        return EXIT_GATE_FAILED


@dataclass(frozen=True)
class UpgradeOutcome:
    url: str  # password redacted
    from_revision: str | None
    to_revision: str

    @property
    def changed(self) -> bool:
        return self.from_revision != self.to_revision


def check_database(raw_url: str) -> DatabaseStatus:
    """The schema revision of the database at ``raw_url`` and its row counts, read only.

    Nothing is created or upgraded (a missing SQLite file stays missing). Raises UsageError
    when the database cannot be reached or read, naming it without its password.
    """
    shown = redact_url(raw_url)
    head = head_revision()
    database = sqlite_file(raw_url)
    if database is not None and not database.is_file():
        return DatabaseStatus(shown, None, head, SCHEMA_MISSING)
    engine = create_store_engine(raw_url, read_only=True)
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
            present = set(inspect(connection).get_table_names())
            counts = {
                name: int(connection.scalar(select(func.count()).select_from(table(name))) or 0)
                for name in COUNTED_TABLES
                if name in present
            }
    except SQLAlchemyError as exc:
        raise database_error(exc, raw_url) from exc
    finally:
        engine.dispose()
    if revision == head:
        state = SCHEMA_CURRENT
    elif revision is not None and not known_revision(revision):
        state = SCHEMA_NEWER
    else:
        state = SCHEMA_BEHIND
    return DatabaseStatus(shown, revision, head, state, counts)


def upgrade_database(raw_url: str) -> UpgradeOutcome:
    """Bring the database at ``raw_url`` to the newest schema (creating a SQLite file).

    Safe to run while other dlqa processes use or open the database (see
    :func:`dlqa.store.connect.migrate_engine`). Raises UsageError for a database from a
    newer dlqa, or one that cannot be reached.
    """
    engine = create_store_engine(raw_url)
    try:
        before, after = migrate_engine(engine, raw_url)
    finally:
        engine.dispose()
    return UpgradeOutcome(redact_url(raw_url), before, after)
