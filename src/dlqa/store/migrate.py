"""Run the store's Alembic migrations programmatically, without an alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The key of the PostgreSQL advisory lock that serialises dlqa's migrations of one database
# (advisory locks are per database): the bytes of "dlqa.mig" as a signed 64-bit integer.
MIGRATION_LOCK_KEY = int.from_bytes(b"dlqa.mig", "big", signed=True)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the migrations shipped inside the package.

    With a ``connection`` the migrations run on it (inside its transaction).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the store ships at least one migration"
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def lock_for_migration(connection: Connection) -> None:
    """Inside the migration's transaction: wait until no other process migrates this database.

    On PostgreSQL an advisory lock held until the transaction ends; two processes creating
    the tables of a fresh database at once would otherwise collide (a duplicate key in
    ``pg_type`` for ``alembic_version``). SQLite needs nothing: dlqa begins every
    transaction with BEGIN IMMEDIATE, which already holds the database's write lock.
    Read the revision again after this: another process may have migrated meanwhile.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def upgrade_to_head(connection: Connection) -> None:
    """Bring the database behind ``connection`` to the newest schema, keeping its data."""
    # Checking first keeps a normal open read-only: no write lock on an up-to-date database.
    if current_revision(connection) == head_revision():
        return
    command.upgrade(alembic_config(connection), "head")


def known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of the shipped migrations (not one from a newer dlqa)."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return any(script.revision == revision for script in scripts.walk_revisions())
