"""The schema comes from the shipped Alembic migrations and matches the models."""

from __future__ import annotations

import io
import shutil
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from dlqa.core.errors import UsageError
from dlqa.core.results import Status
from dlqa.store import open_store
from dlqa.store.migrate import MIGRATIONS_DIR, alembic_config, head_revision
from dlqa.store.models import Base

HEAD = "0005_dashboard"

ALL_TABLES = {
    "runs",
    "results",
    "artifacts",
    "snapshots",
    "review_samples",
    "review_verdicts",
    "adjudications",
}


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.as_posix()}"


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def revision_of(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def migrate(url: str, revision: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    finally:
        engine.dispose()


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    versions = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py"))
    assert versions == [
        "0001_initial.py",
        "0002_snapshots.py",
        "0003_uncertainty_provenance.py",
        "0004_reviews.py",
        "0005_dashboard.py",
    ]
    assert head_revision() == HEAD


def test_empty_database_is_migrated_to_head(database_url: str, tmp_path: Path) -> None:
    url = database_url
    assert table_names(url) == set()

    open_store(url, project_dir=tmp_path).close()

    assert table_names(url) == ALL_TABLES | {"alembic_version"}
    assert revision_of(url) == HEAD


def test_database_at_0001_is_upgraded_with_its_data(database_url: str, tmp_path: Path) -> None:
    url = database_url
    migrate(url, "0001")
    assert table_names(url) == {"runs", "results", "artifacts", "alembic_version"}
    assert revision_of(url) == "0001_initial"

    # Rows written the way an old dlqa wrote them: straight into the 0001 tables.
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    runs = sa.Table("runs", metadata, autoload_with=engine)
    results = sa.Table("results", metadata, autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(
            runs.insert().values(
                id=7,
                kind="check",
                command="dlqa check",
                config={"gates": {"data.class_balance": {"max_ratio": 10}}},
                created_at=datetime(2024, 1, 2, 3, 4, 5),
                status="finished",
                exit_code=1,
            )
        )
        connection.execute(
            results.insert(),
            [
                {
                    "run_id": 7,
                    "position": 0,
                    "check_id": "data.class_balance",
                    "status": "fail",
                    "summary": "class 'cat' is 12x rarer than 'dog'",
                    "value": 12.0,
                    "threshold": 10.0,
                    "evidence": [{"kind": "table", "items": [["cat", 10]], "total": 1}],
                    "details": {"counts": {"cat": 10, "dog": 120}},
                },
                {
                    "run_id": 7,
                    "position": 1,
                    "check_id": "data.near_duplicates",
                    "status": "pass",
                    "summary": "no near duplicates",
                    "value": None,
                    "threshold": None,
                    "evidence": [],
                    "details": {},
                },
            ],
        )
    engine.dispose()

    with open_store(url, project_dir=tmp_path) as store:
        assert revision_of(url) == HEAD
        run = store.get_run(7)
        assert run.command == "dlqa check"
        assert run.config == {"gates": {"data.class_balance": {"max_ratio": 10}}}
        assert run.exit_code == 1
        assert run.created_at.isoformat() == "2024-01-02T03:04:05+00:00"
        results = store.results_for_run(7)
        assert [r.check_id for r in results] == ["data.class_balance", "data.near_duplicates"]
        assert results[0].status is Status.FAIL
        assert results[0].evidence[0].items == [["cat", 10]]
        assert results[0].details == {"counts": {"cat": 10, "dog": 120}}
        # The new table is usable on the upgraded database.
        digest = store.artifacts.put_bytes(b"table")
        snapshot_id = store.add_snapshot(7, "data/train", "fp", 3, digest, {})
        assert store.get_snapshot("latest").id == snapshot_id


def test_models_and_migrations_do_not_drift(database_url: str, tmp_path: Path) -> None:
    url = database_url
    open_store(url, project_dir=tmp_path).close()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []

            # The comparison is sensitive: a model change without a migration shows up.
            drifted = sa.MetaData()
            for table in Base.metadata.sorted_tables:
                table.to_metadata(drifted)
            sa.Table(
                "runs",
                drifted,
                sa.Column("label", sa.String(32), nullable=True),
                extend_existing=True,
            )
            differences = compare_metadata(context, drifted)
            assert [(d[0], d[3].name) for d in differences] == [("add_column", "label")]
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(database_url: str, tmp_path: Path) -> None:
    url = database_url
    open_store(url, project_dir=tmp_path).close()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0001")
    assert "snapshots" not in table_names(url)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    engine.dispose()
    assert table_names(url) == {"alembic_version"}

    open_store(url, project_dir=tmp_path).close()
    assert table_names(url) == ALL_TABLES | {"alembic_version"}


def test_migrations_render_postgresql_ddl() -> None:
    # Offline mode needs no server: it proves the migrations compile for PostgreSQL.
    buffer = io.StringIO()
    config = alembic_config()
    config.output_buffer = buffer
    config.set_main_option("sqlalchemy.url", "postgresql://user@localhost/dlqa")
    command.upgrade(config, "head", sql=True)
    ddl = buffer.getvalue()
    for table in ALL_TABLES:
        assert f"CREATE TABLE {table} (" in ddl
    assert "created_at TIMESTAMP WITH TIME ZONE NOT NULL" in ddl
    assert "config JSON NOT NULL" in ddl
    assert "size BIGINT NOT NULL" in ddl
    assert f"UPDATE alembic_version SET version_num='{HEAD}'" in ddl


def test_database_from_a_newer_dlqa_is_refused(database_url: str, tmp_path: Path) -> None:
    url = database_url
    open_store(url, project_dir=tmp_path).close()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0099_future'"))
    engine.dispose()

    with pytest.raises(UsageError, match="0099_future") as caught:
        open_store(url, project_dir=tmp_path)
    assert "upgrade dlqa" in str(caught.value)
    assert f"its newest is {HEAD!r}" in str(caught.value)  # both versions are named


def test_a_database_written_by_dlqa_0_1_0_is_upgraded_and_read_back(tmp_path: Path) -> None:
    """tests/store/fixtures/store-0.1.0.db: `dlqa data profile` of the previous release."""
    fixture = Path(__file__).parent / "fixtures" / "store-0.1.0.db"
    database = tmp_path / "old.db"
    shutil.copy(fixture, database)
    url = sqlite_url(database)
    assert revision_of(url) == "0002_snapshots"
    with open_store(url, project_dir=tmp_path) as store:
        assert revision_of(url) == HEAD
        run = store.get_run(1)
        assert (run.kind, run.status, run.exit_code) == ("data.profile", "finished", 1)
        assert run.provenance == {} and run.report == {}
        results = store.results_for_run(1)
        assert len(results) == 16
        by_id = {r.check_id: r for r in results}
        assert by_id["data.exact_duplicates"].status is Status.FAIL
        assert by_id["data.exact_duplicates"].flagged_ids() == {"cat/copy.png", "dog/5.png"}
        assert all(r.subject is None and r.n is None and r.interval is None for r in results)
        assert store.get_snapshot("latest").n_samples == 13
        # New runs land beside the old one.
        new_run = store.start_run("check", "dlqa check", {}, provenance={"host": "h"})
        assert new_run == 2 and store.get_run(2).provenance == {"host": "h"}
