"""`dlqa db upgrade` and `dlqa db check` on both databases, through the real CLI entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from dlqa.store import DATABASE_URL_ENV, open_store, resolve_database_url
from tests.e2e.conftest import run_cli
from tests.store.test_store_migrations import HEAD, migrate, revision_of, table_names


@pytest.fixture(autouse=True)
def _in_a_project_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./dlqa.toml of the developer's


def check(url: str) -> tuple[int, str]:
    code, out, err = run_cli("db", "check", "--db", url)
    return code, out + err


def test_upgrade_brings_an_empty_database_to_head_and_says_so(database_url: str) -> None:
    code, out, _ = run_cli("db", "upgrade", "--db", database_url)
    assert code == 0
    assert f"upgraded from (empty) to {HEAD}" in out
    assert revision_of(database_url) == HEAD

    code, out, _ = run_cli("db", "upgrade", "--db", database_url)
    assert code == 0
    assert f"already at {HEAD}" in out


def test_upgrade_from_an_old_revision_names_both(database_url: str) -> None:
    migrate(database_url, "0001")
    code, out, _ = run_cli("db", "upgrade", "--db", database_url)
    assert code == 0
    assert f"upgraded from 0001_initial to {HEAD}" in out


def test_check_of_a_current_database_counts_its_rows(database_url: str, tmp_path: Path) -> None:
    with open_store(database_url, project_dir=tmp_path) as store:
        run_id = store.start_run("check", "dlqa check", {})
        digest = store.artifacts.put_bytes(b"table")
        store.add_snapshot(run_id, "data", "fp", 1, digest, {})
        store.add_results(run_id, [])

    code, out = check(database_url)

    assert code == 0, out
    assert f"revision:  {HEAD}" in out and "schema:    current" in out
    counts = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    assert {
        name: counts[name].strip() for name in ("runs", "results", "snapshots", "artifacts")
    } == {
        "runs": "1",
        "results": "0",
        "snapshots": "1",
        "artifacts": "1",
    }


def test_check_of_an_old_database_exits_1_and_does_not_upgrade_it(database_url: str) -> None:
    migrate(database_url, "0001")
    code, out = check(database_url)
    assert code == 1, out
    assert "revision:  0001_initial" in out
    assert "dlqa db upgrade" in out
    assert revision_of(database_url) == "0001_initial"  # untouched
    assert "snapshots" not in table_names(database_url)


def test_check_of_an_empty_database_exits_1(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        engine = sa.create_engine(database_url)
        engine.connect().close()  # an empty file
        engine.dispose()
    code, out = check(database_url)
    assert code == 1, out
    assert "none (empty database)" in out
    assert "alembic_version" not in table_names(database_url)


def test_check_of_a_missing_sqlite_file_creates_nothing(tmp_path: Path) -> None:
    database = tmp_path / "sub" / "dlqa.db"
    code, out = check(f"sqlite:///{database.as_posix()}")
    assert code == 1
    assert "does not exist yet" in out
    assert not database.parent.exists()


def test_a_newer_database_is_refused_with_both_revisions(database_url: str, tmp_path: Path) -> None:
    open_store(database_url, project_dir=tmp_path).close()
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0099_future'"))
    engine.dispose()

    code, out = check(database_url)
    assert code == 2
    assert "0099_future" in out and HEAD in out and "upgrade dlqa" in out

    code, out, err = run_cli("db", "upgrade", "--db", database_url)
    assert code == 2
    assert "0099_future" in err and f"its newest is {HEAD!r}" in err
    assert revision_of(database_url) == "0099_future"


def test_the_database_is_chosen_by_db_then_environment_then_dlqa_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def url(name: str) -> str:
        return f"sqlite:///{(tmp_path / name).as_posix()}"

    default = f"sqlite:///{(tmp_path / '.dlqa' / 'dlqa.db').as_posix()}"
    assert resolve_database_url(None, None, tmp_path) == default
    assert resolve_database_url(None, url("toml.db"), tmp_path) == url("toml.db")
    monkeypatch.setenv(DATABASE_URL_ENV, url("env.db"))
    assert resolve_database_url(None, url("toml.db"), tmp_path) == url("env.db")
    assert resolve_database_url(url("flag.db"), url("toml.db"), tmp_path) == url("flag.db")

    # Through the CLI: each `upgrade` creates the file it chose.
    (tmp_path / "dlqa.toml").write_text(f'[store]\nurl = "{url("toml.db")}"\n', encoding="utf-8")
    monkeypatch.delenv(DATABASE_URL_ENV)
    assert run_cli("db", "upgrade")[0] == 0
    assert (tmp_path / "toml.db").is_file()
    monkeypatch.setenv(DATABASE_URL_ENV, url("env.db"))
    assert run_cli("db", "upgrade")[0] == 0
    assert (tmp_path / "env.db").is_file()
    assert run_cli("db", "upgrade", "--db", url("flag.db"))[0] == 0
    assert (tmp_path / "flag.db").is_file()
    assert not (tmp_path / ".dlqa" / "dlqa.db").exists()
