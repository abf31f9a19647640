"""Where a run came from: git state, versions, host, command line and config hash.

Recorded with every run so that a result can be traced to the code, environment and settings
that produced it. Each probe is best effort: a missing git or an odd environment leaves a
field empty, never fails the run.
"""

from __future__ import annotations

import getpass
import hashlib
import platform
import socket
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from dlqa._version import __version__

GIT_TIMEOUT_S = 5
VERSIONED = ("numpy", "torch", "pyarrow", "sqlalchemy", "pydantic")


def collect_provenance(command: str, base_dir: Path, config_path: Path | None) -> dict[str, Any]:
    return {
        "command": command,
        "cwd": str(Path.cwd()),
        "git": git_state(base_dir),
        "versions": {
            "dlqa": __version__,
            "python": platform.python_version(),
            **{name: _version(name) for name in VERSIONED},
        },
        "os": platform.platform(),
        "host": socket.gethostname(),
        "user": _user(),
        "config_path": None if config_path is None else str(config_path),
        "config_sha256": _config_hash(config_path),
    }


def git_state(folder: Path) -> dict[str, Any] | None:
    """Commit, branch and dirty flag of the repository ``folder`` is in (None outside one)."""
    commit = _git(folder, "rev-parse", "HEAD")
    if commit is None:
        return None
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": _git(folder, "rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status),
    }


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return None


def _config_hash(config_path: Path | None) -> str | None:
    if config_path is None:
        return None
    try:
        return hashlib.sha256(config_path.read_bytes()).hexdigest()
    except OSError:
        return None


__all__ = ["collect_provenance", "git_state"]
