"""Fixtures any test may use: a throwaway PostgreSQL server (see tests/pg.py).

The server starts once per session, on 127.0.0.1 only, and each test that asks for
``postgres_url`` gets a database of its own. Without a server (no Debian ``postgresql``
package, no root to run it as ``postgres``) those tests skip with the reason, or fail when
``DLQA_REQUIRE_SERVICES=1`` (as ``.ci/run`` sets).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg import PostgresServer, ServerUnavailable, skip_or_fail
from tests.pg import start_server as start_postgres_server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    unavailable = None
    try:
        server = start_postgres_server()
    except ServerUnavailable as exc:
        unavailable = str(exc)
    if unavailable is not None:  # outside the except: the report shows the reason alone
        skip_or_fail(f"no PostgreSQL server: {unavailable}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty database on the throwaway server, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)
