"""Turn a database URL into a working, migrated engine, or a UsageError that says why not."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from dlqa.core.errors import UsageError
from dlqa.store.migrate import (
    current_revision,
    head_revision,
    known_revision,
    lock_for_migration,
    upgrade_to_head,
)

DATABASE_URL_ENV = "DLQA_DATABASE_URL"
FIX_HINT = (
    "pass a working database URL with --db or set DLQA_DATABASE_URL, e.g. "
    "sqlite:///path/to/dlqa.db or postgresql+psycopg://user@host/dbname"
)
_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
# Without a timeout libpq waits for the operating system (minutes) on a server that does not
# answer; this names an unreachable server within seconds. A URL's own connect_timeout wins.
CONNECT_TIMEOUT_S = 5
_LIBPQ_DRIVERS = ("psycopg", "psycopg2")
# NaN and infinity are not JSON (PostgreSQL's json type refuses them): the store makes every
# value JSON-safe first, and this makes any value that slipped past fail loudly on SQLite too.
_json_dumps = functools.partial(json.dumps, allow_nan=False)


def default_database_url(project_dir: Path) -> str:
    """``DLQA_DATABASE_URL`` if set, else a SQLite file in ``<project_dir>/.dlqa``."""
    from_env = os.environ.get(DATABASE_URL_ENV, "").strip()
    if from_env:
        return from_env
    database = Path(project_dir).resolve() / ".dlqa" / "dlqa.db"
    return f"sqlite:///{database.as_posix()}"


def resolve_database_url(explicit: str | None, configured: str | None, project_dir: Path) -> str:
    """The database dlqa uses: ``--db``, else ``DLQA_DATABASE_URL``, else ``[store] url`` of
    dlqa.toml, else SQLite in ``<project_dir>/.dlqa``."""
    for candidate in (explicit, os.environ.get(DATABASE_URL_ENV), configured):
        if candidate is not None and candidate.strip():
            return candidate.strip()
    return default_database_url(project_dir)


def sqlite_file(raw_url: str) -> Path | None:
    """The file of a SQLite URL (None for another database, memory or a ``file:`` URI)."""
    try:
        url = make_url(raw_url)
    except (ArgumentError, ValueError, TypeError):
        return None
    database = url.database
    if url.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return None
    if database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve()


def redact_url(raw_url: str) -> str:
    """The URL as it can be shown to a person: any password replaced by ``***``."""
    try:
        return make_url(raw_url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError, TypeError):
        return _PASSWORD_IN_URL.sub(r"\1***@", raw_url)


def open_engine(raw_url: str) -> Engine:
    """An engine for ``raw_url`` whose schema is at the newest revision."""
    engine = create_store_engine(raw_url)
    try:
        migrate_engine(engine, raw_url)
    except BaseException:
        engine.dispose()
        raise
    return engine


def create_store_engine(raw_url: str, *, read_only: bool = False) -> Engine:
    """An engine for ``raw_url`` with dlqa's connection settings, without touching the schema.

    ``read_only`` opens SQLite without taking the write lock (and without creating a
    missing folder): for looking at a database, not writing it.
    """
    shown = redact_url(raw_url)
    url = _parse(raw_url, shown)
    if not read_only:
        _ensure_sqlite_folder(url, shown)
    try:
        engine = create_engine(url, **_engine_options(url))
    except NoSuchModuleError as exc:
        raise UsageError(f"unknown database driver in {shown}: {exc}", hint=FIX_HINT) from exc
    except ImportError as exc:
        raise UsageError(
            f"the database driver for {shown} is not installed ({exc})",
            hint="install the driver (for PostgreSQL: pip install 'dlqa[postgres]'), or pass "
            "another URL with --db or DLQA_DATABASE_URL",
        ) from exc
    except (ArgumentError, TypeError, ValueError) as exc:
        raise UsageError(f"cannot use database URL {shown}: {exc}", hint=FIX_HINT) from exc
    if engine.dialect.name == "sqlite":
        _make_sqlite_behave(engine, writable=not read_only and _sqlite_writable(url))
    return engine


def _engine_options(url: URL) -> dict[str, Any]:
    options: dict[str, Any] = {"json_serializer": _json_dumps}
    if url.get_backend_name() == "sqlite":
        # pysqlite's own wait for a lock, in seconds, as long as the busy timeout.
        options["connect_args"] = {"timeout": 60}
    elif url.get_driver_name() in _LIBPQ_DRIVERS and "connect_timeout" not in url.query:
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    return options


def database_error(exc: SQLAlchemyError, raw_url: str) -> UsageError:
    """A UsageError for a database that cannot be opened: the address named, no password."""
    reason = str(exc.orig if isinstance(exc, DBAPIError) else exc).strip()
    password = _password_of(raw_url)
    if password:
        reason = reason.replace(password, "***")
    if "timeout expired" in reason:
        reason += (
            f" (no answer within {_connect_timeout(raw_url)} s; a connect_timeout=SECONDS "
            "query parameter in the URL changes the wait)"
        )
    return UsageError(
        f"cannot open the dlqa database {redact_url(raw_url)}: {reason}", hint=FIX_HINT
    )


def _connect_timeout(raw_url: str) -> str:
    try:
        return str(make_url(raw_url).query.get("connect_timeout", CONNECT_TIMEOUT_S))
    except (ArgumentError, ValueError, TypeError):
        return str(CONNECT_TIMEOUT_S)


def _password_of(raw_url: str) -> str | None:
    try:
        return make_url(raw_url).password
    except (ArgumentError, ValueError, TypeError):
        return None


def _parse(raw_url: str, shown: str) -> URL:
    if not raw_url or not raw_url.strip():
        raise UsageError("the database URL is empty", hint=FIX_HINT)
    try:
        return make_url(raw_url.strip())
    except (ArgumentError, ValueError) as exc:
        raise UsageError(f"cannot parse database URL {shown!r}", hint=FIX_HINT) from exc


def _ensure_sqlite_folder(url: URL, shown: str) -> None:
    # SQLite creates the file but not its folder; a missing folder is the usual first-run case.
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    if url.database.startswith("file:"):
        return  # a SQLite URI: leave it to SQLite
    folder = Path(url.database).expanduser().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the folder {folder} for the dlqa database {shown}: {exc.strerror}",
            hint=FIX_HINT,
        ) from exc


SQLITE_BUSY_TIMEOUT_MS = 60_000


def _sqlite_writable(url: URL) -> bool:
    """Whether dlqa can write the SQLite file (or create it): a read-only database still
    opens for reading, and a write then fails with a message that names the file."""
    database = url.database
    if database in (None, "", ":memory:") or database.startswith("file:"):
        return True
    path = Path(database).expanduser()
    if path.exists():
        return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    return os.access(path.parent, os.W_OK)


def _make_sqlite_behave(engine: Engine, *, writable: bool) -> None:
    """Foreign keys enforced as on PostgreSQL, transactional DDL so migrations are atomic, and
    concurrent writers that wait for each other instead of failing.

    pysqlite by default commits DDL outside any transaction; taking over BEGIN (the recipe in
    SQLAlchemy's SQLite docs) makes a failed migration roll back whole. Two processes whose
    deferred transactions both read and then write deadlock on the lock upgrade, and SQLite
    fails one at once ("database is locked") without waiting; ``BEGIN IMMEDIATE`` takes the
    write lock up front, so the second waits (up to the busy timeout) instead. WAL lets
    readers go on while one process writes.
    """
    begin = "BEGIN IMMEDIATE" if writable else "BEGIN"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        if writable:
            # Another process may hold the lock while switching: it sets WAL for both, and a
            # database in rollback mode still works, only with less concurrency.
            with contextlib.suppress(sqlite3.OperationalError):
                dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)


def migrate_engine(engine: Engine, raw_url: str) -> tuple[str | None, str]:
    """Bring the database of ``engine`` to the newest schema; returns (from, to) revisions.

    An up-to-date database is only read. Otherwise the migration runs in one transaction
    that first takes the migration lock (PostgreSQL: an advisory lock; SQLite: the write
    lock of BEGIN IMMEDIATE) and then looks at the revision again, so that of several
    processes opening a fresh database at once one migrates and the others find it done.
    A database from a newer dlqa is refused with both revisions named.
    """
    shown = redact_url(raw_url)
    try:
        with engine.connect() as connection:
            found = current_revision(connection)
            connection.rollback()
            _refuse_newer(found, shown)
            head = head_revision()
            if found == head:
                return found, head
            is_sqlite = engine.dialect.name == "sqlite"
            raw = connection.connection.dbapi_connection
            if is_sqlite and raw is not None:
                # SQLite rebuilds tables to alter them; enforced foreign keys would block that.
                raw.execute("PRAGMA foreign_keys=OFF")
            try:
                with connection.begin():
                    lock_for_migration(connection)
                    found = current_revision(connection)
                    _refuse_newer(found, shown)
                    upgrade_to_head(connection)
            finally:
                if is_sqlite and raw is not None:
                    raw.execute("PRAGMA foreign_keys=ON")
            return found, head
    except SQLAlchemyError as exc:
        raise database_error(exc, raw_url) from exc


def _refuse_newer(found: str | None, shown: str) -> None:
    if found is not None and not known_revision(found):
        raise UsageError(
            f"the dlqa database {shown} is at schema revision {found!r}, newer than this "
            f"dlqa knows (its newest is {head_revision()!r})",
            hint="upgrade dlqa, or point --db / DLQA_DATABASE_URL at another database",
        )
