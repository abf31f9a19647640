"""Fixtures of the dashboard's tests: a store on each database, and a client of the app over
it (starlette's TestClient: the real app, in process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dlqa.store import DATABASE_URL_ENV, Store, open_store
from dlqa.ui import UiSettings, create_app


@pytest.fixture(autouse=True)
def _no_database_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store of the project in ``tmp_path``, on SQLite and on PostgreSQL in turn."""
    if request.param == "sqlite":
        url = f"sqlite:///{(tmp_path / '.dlqa' / 'dlqa.db').as_posix()}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = open_store(url, project_dir=tmp_path)
    yield opened
    opened.close()


def make_client(store: Store, **settings: object):  # type: ignore[no-untyped-def]
    """A client of the dashboard over ``store``; ``settings`` as UiSettings takes them."""
    from starlette.testclient import TestClient

    return TestClient(create_app(UiSettings(store=store, **settings)))  # type: ignore[arg-type]


@pytest.fixture
def client(store: Store):  # type: ignore[no-untyped-def]
    """A client of the dashboard over ``store``, served as on 127.0.0.1 (writable)."""
    with make_client(store) as opened:
        yield opened
