from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dlqa.store import DATABASE_URL_ENV, Store, open_store


@pytest.fixture(autouse=True)
def _no_database_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own DLQA_DATABASE_URL must never leak into these tests.
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database: a SQLite file in .dlqa/ of ``tmp_path`` (not created yet),
    or a fresh database on the throwaway PostgreSQL server."""
    if request.param == "sqlite":
        folder = tmp_path / ".dlqa"
        folder.mkdir(exist_ok=True)
        return f"sqlite:///{(folder / 'dlqa.db').as_posix()}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[Store]:
    """The store of the project in ``tmp_path``, on each database in turn."""
    opened = open_store(database_url, project_dir=tmp_path)
    yield opened
    opened.close()
