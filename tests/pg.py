"""A throwaway PostgreSQL server for the tests and benchmarks, from Debian's ``postgresql``.

``start_server()`` runs ``initdb`` into a fresh temporary folder and ``pg_ctl start`` on a
free port of 127.0.0.1 only (its unix socket lies in that folder, so it never meets a system
server), with trust authentication for the superuser ``dlqa``. initdb refuses to run as
root, so as root the server runs as the unprivileged ``postgres`` user that the package
creates, and the folder belongs to it. ``stop()`` stops it by its PID (``pg_ctl stop -m
immediate``, then SIGKILL of that PID if it is still there) and removes the folder.

When no server can be started, :class:`ServerUnavailable` says why; the fixtures skip on it,
or fail when ``DLQA_REQUIRE_SERVICES=1`` (as in CI).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

# Moved to tests/services.py (the browser tests share them); imported here as before.
from tests.services import REQUIRE_SERVICES_ENV, services_required, skip_or_fail  # noqa: F401

SUPERUSER = "dlqa"
UNPRIVILEGED_USER = "postgres"
INSTALL_HINT = "install Debian's postgresql package (`make test` does, as root)"


class ServerUnavailable(RuntimeError):
    """No PostgreSQL server could be started here; the message says why."""


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with initdb, else initdb's folder on PATH."""

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.parent.name
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One running throwaway server; ``url(name)`` is a SQLAlchemy URL of a database on it."""

    def __init__(self, bin_dir: Path, folder: Path, port: int, run_as: str | None) -> None:
        self.bin_dir = bin_dir
        self.folder = folder
        self.data_dir = folder / "data"
        self.log_file = folder / "server.log"
        self.port = port
        self.run_as = run_as
        self.pid: int | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with contextlib.suppress(Exception):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        import psycopg

        conninfo = f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as connection:
            connection.execute(statement)

    def command(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as is not None:
            argv = ["runuser", "-u", self.run_as, "--", *argv]
        # The server's user may not be allowed into the caller's working directory.
        return subprocess.run(
            argv, cwd=self.folder, capture_output=True, text=True, timeout=timeout, check=False
        )

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def read_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """Stop the server (by its PID if pg_ctl cannot) and remove its folder."""
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def kill(self) -> None:
        """Stop the server process: ``pg_ctl stop -m immediate``, then SIGKILL of its PID."""
        pid = self.pid or self.read_pid()
        if self.data_dir.is_dir():
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                self.command("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate",
                             "-w", "-t", "10", timeout=20)  # fmt: skip
        if pid is not None and _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        self.pid = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True


def start_server(*, durable: bool = False) -> PostgresServer:
    """Start a throwaway server; ``durable=False`` turns fsync off (tests need no crash
    safety, and it makes creating databases fast). Raises ServerUnavailable."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise ServerUnavailable(
            f"psycopg is not installed ({exc}); pip install -e '.[dev,postgres]'"
        ) from exc
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise ServerUnavailable(
            f"no PostgreSQL server binaries (no /usr/lib/postgresql/*/bin/initdb); {INSTALL_HINT}"
        )
    run_as = None
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam(UNPRIVILEGED_USER)
        except KeyError as exc:
            raise ServerUnavailable(
                f"running as root, and there is no {UNPRIVILEGED_USER!r} user to run the server "
                f"as (initdb refuses root); {INSTALL_HINT}"
            ) from exc
        if shutil.which("runuser") is None:
            raise ServerUnavailable("running as root without runuser to drop privileges")
        run_as = UNPRIVILEGED_USER
    folder = Path(tempfile.mkdtemp(prefix="dlqa-pg-"))
    if run_as is not None:
        os.chown(folder, account.pw_uid, account.pw_gid)
    last_error = ""
    for _attempt in range(3):  # another process may take the free port before the server
        server = PostgresServer(bin_dir, folder, free_loopback_port(), run_as)
        try:
            if not server.data_dir.is_dir():
                _initdb(server)
            error = _pg_ctl_start(server, durable=durable)
        except (OSError, subprocess.TimeoutExpired) as exc:
            error = f"{type(exc).__name__}: {exc}"
        if not error:
            server.pid = server.read_pid()
            atexit.register(server.stop)
            return server
        last_error = error
        if not server.data_dir.is_dir():
            break  # initdb failed: another port will not help
    shutil.rmtree(folder, ignore_errors=True)
    raise ServerUnavailable(f"could not start a PostgreSQL server from {bin_dir}: {last_error}")


def _initdb(server: PostgresServer) -> None:
    done = server.command(
        "initdb", "-D", str(server.data_dir), "-U", SUPERUSER, "--auth=trust",
        "-E", "UTF8", "--locale=C", "--no-sync",
    )  # fmt: skip
    if done.returncode != 0:
        shutil.rmtree(server.data_dir, ignore_errors=True)
        raise OSError(f"initdb failed ({done.returncode}): {(done.stderr or done.stdout)[-800:]}")


def _pg_ctl_start(server: PostgresServer, *, durable: bool) -> str:
    """Start the server; '' on success, else why not."""
    options = [
        "-c listen_addresses=127.0.0.1",
        f"-p {server.port}",
        f"-c unix_socket_directories={server.folder}",
        "-c max_connections=200",
        "-c timezone=UTC",
    ]
    if not durable:
        options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    done = server.command(
        "pg_ctl", "start", "-D", str(server.data_dir), "-l", str(server.log_file),
        "-w", "-t", "60", "-o", " ".join(options), timeout=90,
    )  # fmt: skip
    if done.returncode == 0:
        return ""
    server.kill()  # pg_ctl may have given up waiting on a server that still came up
    return f"pg_ctl start failed ({done.returncode}): {done.stderr.strip()}\n{server.log_tail()}"
