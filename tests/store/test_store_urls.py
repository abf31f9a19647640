"""Which database is opened, and what a bad URL says."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dlqa.core.errors import EXIT_USAGE, UsageError
from dlqa.store import DATABASE_URL_ENV, default_database_url, open_store, redact_url


def test_default_url_is_a_sqlite_file_in_the_project(tmp_path: Path) -> None:
    expected = f"sqlite:///{(tmp_path.resolve() / '.dlqa' / 'dlqa.db').as_posix()}"
    assert default_database_url(tmp_path) == expected


def test_environment_variable_overrides_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "shared" / "results.db"
    url = f"sqlite:///{elsewhere.as_posix()}"
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    assert default_database_url(tmp_path / "project") == url

    with open_store(project_dir=tmp_path / "project") as store:
        assert store.url == url
        store.start_run("check", "dlqa check", {})
    assert elsewhere.is_file()
    assert not (tmp_path / "project" / ".dlqa" / "dlqa.db").exists()
    # Artifacts live beside the SQLite database, so that any folder finds them.
    assert (tmp_path / "shared" / "artifacts").is_dir()
    assert not (tmp_path / "project" / ".dlqa").exists()


def test_blank_environment_variable_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, "  ")
    assert default_database_url(tmp_path).endswith("/.dlqa/dlqa.db")


def test_explicit_url_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, "not a url at all")
    url = f"sqlite:///{(tmp_path / 'explicit.db').as_posix()}"
    with open_store(url, project_dir=tmp_path) as store:
        assert store.url == url
    assert (tmp_path / "explicit.db").is_file()


def test_project_dir_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store() as store:
        assert store.project_dir == tmp_path.resolve()
        digest = store.artifacts.put_bytes(b"x")
    assert (tmp_path / ".dlqa" / "dlqa.db").is_file()
    assert (tmp_path / ".dlqa" / "artifacts" / digest[:2] / digest[2:]).is_file()


def test_data_persists_across_opens(tmp_path: Path) -> None:
    with open_store(project_dir=tmp_path) as store:
        run_id = store.start_run("check", "dlqa check", {"n": 1})
    with open_store(project_dir=tmp_path) as store:
        assert store.get_run(run_id).config == {"n": 1}


def test_redact_url_hides_passwords() -> None:
    assert redact_url("postgresql+psycopg://qa:hunter2@db/dlqa") == (
        "postgresql+psycopg://qa:***@db/dlqa"
    )
    assert "hunter2" not in redact_url("not parsable://qa:hunter2@db")
    assert redact_url("sqlite:///a/b.db") == "sqlite:///a/b.db"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "cannot parse"),
        ("://qa:hunter2@db/x", "cannot parse"),
        ("", "empty"),
        ("nosuchdb://qa:hunter2@db/x", "unknown database driver"),
        ("postgresql+nosuchdriver://qa:hunter2@db/x", "unknown database driver"),
    ],
)
def test_bad_url_is_a_usage_error(tmp_path: Path, url: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        open_store(url, project_dir=tmp_path)
    error = caught.value
    assert error.exit_code == EXIT_USAGE
    assert says in error.message
    assert "hunter2" not in str(error)
    if url:
        assert redact_url(url) in error.message
    assert "--db" in str(error) and DATABASE_URL_ENV in str(error)


def test_sqlite_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    url = f"sqlite:///{(blocker / 'sub' / 'dlqa.db').as_posix()}"
    with pytest.raises(UsageError, match="cannot create the folder") as caught:
        open_store(url, project_dir=tmp_path)
    assert url in str(caught.value)
    assert "--db" in str(caught.value)


def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    impostor = tmp_path / "dlqa.db"
    impostor.write_bytes(b"these bytes are no SQLite header " * 64)
    url = f"sqlite:///{impostor.as_posix()}"
    with pytest.raises(UsageError, match="cannot open the dlqa database") as caught:
        open_store(url, project_dir=tmp_path)
    assert url in str(caught.value)
    assert DATABASE_URL_ENV in str(caught.value)
    assert impostor.read_bytes().startswith(b"these bytes")  # left untouched


def test_missing_driver_names_the_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes `import psycopg` fail, as where the extra is not installed.
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(UsageError, match="not installed") as caught:
        open_store("postgresql+psycopg://qa:hunter2@localhost:1/dlqa", project_dir=tmp_path)
    assert "dlqa[postgres]" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_project_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(UsageError, match="cannot create"):
        open_store(project_dir=blocker / "project")
