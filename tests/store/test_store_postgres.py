"""PostgreSQL only: an unreachable server is named quickly, with the password hidden.

Only loopback addresses are used: a port nothing listens on, and a listener that accepts
connections and never answers (what a dropped or firewalled route looks like to a client).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlqa.core.errors import EXIT_USAGE, UsageError
from dlqa.store import CONNECT_TIMEOUT_S, DATABASE_URL_ENV, open_store
from tests.e2e.conftest import run_cli
from tests.pg import PostgresServer, free_loopback_port, skip_or_fail

pytestmark = pytest.mark.postgres
SECRET = "hunter2"
NAMED_WITHIN_S = 10


@pytest.fixture(autouse=True)
def _psycopg() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        skip_or_fail(f"psycopg is not installed ({exc}); pip install -e '.[postgres]'")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port whose listener completes the TCP handshake and then never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def url_at(port: int, query: str = "") -> str:
    return f"postgresql+psycopg://qa:{SECRET}@127.0.0.1:{port}/dlqa{query}"


def assert_named_without_password(error: UsageError, port: int) -> None:
    message = str(error)
    assert error.exit_code == EXIT_USAGE
    assert f"127.0.0.1:{port}" in message
    assert SECRET not in message and "qa:***@" in message
    assert DATABASE_URL_ENV in message and "--db" in message


def test_a_closed_port_is_named_at_once(tmp_path: Path) -> None:
    port = free_loopback_port()
    started = time.monotonic()
    with pytest.raises(UsageError, match="cannot open the dlqa database") as caught:
        open_store(url_at(port), project_dir=tmp_path)
    assert time.monotonic() - started < NAMED_WITHIN_S
    assert_named_without_password(caught.value, port)
    assert "refused" in str(caught.value)
    assert not (tmp_path / ".dlqa").exists()


@pytest.mark.slow
def test_a_server_that_never_answers_is_named_within_the_timeout(
    tmp_path: Path, silent_port: int
) -> None:
    started = time.monotonic()
    with pytest.raises(UsageError, match="timeout") as caught:
        open_store(url_at(silent_port), project_dir=tmp_path)
    waited = time.monotonic() - started
    assert CONNECT_TIMEOUT_S - 1 <= waited < NAMED_WITHIN_S
    assert_named_without_password(caught.value, silent_port)
    assert f"no answer within {CONNECT_TIMEOUT_S} s" in str(caught.value)


@pytest.mark.slow
def test_the_urls_own_connect_timeout_wins(tmp_path: Path, silent_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(UsageError, match="no answer within 2 s"):
        open_store(url_at(silent_port, "?connect_timeout=2"), project_dir=tmp_path)
    assert 1.5 <= time.monotonic() - started < CONNECT_TIMEOUT_S


@pytest.mark.parametrize("command", ["check", "upgrade"])
def test_db_commands_exit_2_naming_an_unreachable_server(command: str) -> None:
    port = free_loopback_port()
    started = time.monotonic()
    code, out, err = run_cli("db", command, "--db", url_at(port))
    assert time.monotonic() - started < NAMED_WITHIN_S
    assert code == EXIT_USAGE
    assert f"127.0.0.1:{port}" in err
    assert SECRET not in out + err


def test_a_database_missing_on_a_running_server(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = postgres_server.url("no_such_database")
    with pytest.raises(UsageError, match="no_such_database") as caught:
        open_store(url, project_dir=tmp_path)
    assert "does not exist" in str(caught.value)
