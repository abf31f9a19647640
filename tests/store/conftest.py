from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dlqa.store import DATABASE_URL_ENV, Store, open_store


@pytest.fixture(autouse=True)
def _no_database_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own DLQA_DATABASE_URL must never leak into these tests.
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(project_dir=tmp_path)
    yield opened
    opened.close()
