"""Where a run came from: git state, versions, environment, host, command line and config hash.

Recorded with every run so that a result can be traced to the code, environment and settings
that produced it. Each probe is best effort: a missing git or an odd environment leaves a
field empty, never fails the run. Each is also cheap (a few git calls, no torch import) and
capped in size, because it runs at the start of every run and is stored with it.

The git state says more than "dirty": the diff of the tracked files, the untracked files with
their hashes, the tag and the commits not pushed yet, so that a run from a dirty tree can still
be rebuilt. ``source_dirty`` is what ``dlqa exp run`` refuses without ``--allow-dirty``.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import platform
import socket
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from dlqa._version import __version__
from dlqa.exp.environment import environment_diff, environment_fingerprint

GIT_TIMEOUT_S = 5
VERSIONED = ("numpy", "torch", "pyarrow", "sqlalchemy", "pydantic")
DIFF_MAX_BYTES = 200_000  # the stored diff; its sha256 covers the whole of it
UNTRACKED_MAX = 200  # changed and untracked files listed (untracked hashed); *_count: all
UNPUSHED_MAX = 50
HASH_MAX_FILE_BYTES = 8 << 20  # a bigger untracked file is listed with its size, unhashed
HASH_BUDGET_BYTES = 32 << 20  # all untracked hashing together, to stay fast
SOURCE_LISTED = 20
OWN_OUTPUT = ".dlqa/"
# An untracked file "looks like source" (and makes the tree source-dirty) by its suffix, by its
# name, or, without a suffix, by a "#!" first line (a script). Data, logs and outputs do not:
# a run should not be refused for a stray .log or .csv, but a new module never committed
# would make the run impossible to rebuild from its commit.
SOURCE_SUFFIXES = frozenset(
    {".py", ".pyi", ".pyx", ".pxd", ".toml", ".cfg", ".ini", ".yaml", ".yml", ".json", ".sh",
     ".ipynb", ".c", ".cc", ".cpp", ".h", ".hpp", ".cu", ".cuh"}
)  # fmt: skip
SOURCE_NAMES = frozenset({"Makefile", "Dockerfile", "Justfile", "CMakeLists.txt"})


def collect_provenance(command: str, base_dir: Path, config_path: Path | None) -> dict[str, Any]:
    """Everything recorded about where a run came from; a probe that fails leaves None."""
    return {
        "command": command,
        "cwd": str(Path.cwd()),
        "git": _best_effort(lambda: git_state(base_dir)),
        "versions": {
            "dlqa": __version__,
            "python": platform.python_version(),
            **{name: _version(name) for name in VERSIONED},
        },
        "environment": _best_effort(environment_fingerprint),
        "os": platform.platform(),
        "host": socket.gethostname(),
        "user": _user(),
        "config_path": None if config_path is None else str(config_path),
        "config_sha256": _config_hash(config_path),
    }


def git_state(folder: Path) -> dict[str, Any] | None:
    """The state of the repository ``folder`` is in (None outside one, or before its first
    commit): commit, branch, tag, tracked changes with their diff, untracked files with their
    hashes, commits ahead of the upstream.

    ``dirty`` means tracked changes (staged or not); ``source_dirty`` adds untracked files
    that look like source (see SOURCE_SUFFIXES). ``unpushed`` is None without an upstream.
    """
    raw = _git_bytes(folder, "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all")
    if raw is None:
        return None
    header, changed, untracked = _parse_status(raw)
    commit = header.get("branch.oid")
    if not commit or commit == "(initial)":
        return None
    branch = header.get("branch.head")
    state: dict[str, Any] = {
        "commit": commit,
        "branch": "HEAD" if branch == "(detached)" else branch,
        "tag": _git(folder, "describe", "--tags", "--exact-match", "HEAD"),
        "dirty": bool(changed),
        "changed": changed[:UNTRACKED_MAX],
        "changed_count": len(changed),
        **_diff(folder, bool(changed)),
        **_unpushed(folder, header),
    }
    root = Path(_git(folder, "rev-parse", "--show-toplevel") or folder) if untracked else folder
    # dlqa's own output (store, reports, seed run folders under .dlqa/) is not source.
    source = [
        path
        for path in untracked
        if f"/{OWN_OUTPUT}" not in f"/{path}" and _looks_like_source(root / path)
    ]
    state.update(
        untracked=_hash_untracked(root, untracked[:UNTRACKED_MAX]),
        untracked_count=len(untracked),
        untracked_source=source[:SOURCE_LISTED],
        source_dirty=bool(changed) or bool(source),
    )
    return state


def _parse_status(raw: bytes) -> tuple[dict[str, str], list[str], list[str]]:
    """(branch headers, changed tracked paths, untracked paths) of ``status --porcelain=v2
    -z``; the paths are relative to the repository's root."""
    header: dict[str, str] = {}
    changed: list[str] = []
    untracked: list[str] = []
    fields = iter(raw.split(b"\0"))
    for entry in fields:
        text = os.fsdecode(entry)
        kind = text[:2]
        if kind == "# ":
            key, _, value = text[2:].partition(" ")
            header[key] = value
        elif kind == "? ":
            untracked.append(text[2:])
        elif kind in _PATH_FIELD:  # the path is the last field and may hold spaces
            parts = text.split(" ", _PATH_FIELD[kind])
            changed.append(parts[-1])
            if kind == "2 ":  # a rename or copy: its original path follows
                next(fields, None)
    return header, changed, untracked


# Fields before the path in porcelain v2 entries: ordinary, renamed or copied, unmerged.
_PATH_FIELD = {"1 ": 8, "2 ": 9, "u ": 10}


def _diff(folder: Path, dirty: bool) -> dict[str, Any]:
    if not dirty:
        return {"diff": "", "diff_truncated": False, "diff_sha256": None}
    raw = _git_bytes(folder, "diff", "HEAD", "--no-color", "--no-ext-diff", "--no-textconv")
    if raw is None:
        return {"diff": None, "diff_truncated": False, "diff_sha256": None}
    return {
        "diff": raw[:DIFF_MAX_BYTES].decode("utf-8", errors="replace"),
        "diff_truncated": len(raw) > DIFF_MAX_BYTES,
        "diff_sha256": hashlib.sha256(raw).hexdigest(),
    }


def _unpushed(folder: Path, header: dict[str, str]) -> dict[str, Any]:
    """The commits ahead of the upstream ("<short hash> <subject>"), newest first."""
    upstream = header.get("branch.upstream")
    ahead_behind = header.get("branch.ab", "").split()  # "+2 -0"; absent if the ref is gone
    if not upstream or len(ahead_behind) != 2:
        return {"upstream": upstream, "ahead": None, "unpushed": None}
    try:
        ahead = int(ahead_behind[0].lstrip("+"))
    except ValueError:
        return {"upstream": upstream, "ahead": None, "unpushed": None}
    commits: list[str] = []
    if ahead:
        log = _git(folder, "log", f"-n{UNPUSHED_MAX}", "--format=%h %s", "@{upstream}..HEAD")
        commits = (log or "").splitlines()
    return {"upstream": upstream, "ahead": ahead, "unpushed": commits}


def _looks_like_source(path: Path) -> bool:
    if path.suffix.lower() in SOURCE_SUFFIXES or path.name in SOURCE_NAMES:
        return True
    if path.suffix:  # also a nested repository ("sub/"): opening it fails below
        return False
    try:
        with path.open("rb") as handle:
            return handle.read(2) == b"#!"
    except OSError:
        return False


def _hash_untracked(root: Path, paths: list[str]) -> list[dict[str, Any]]:
    """{path, size, sha256} of each file; sha256 is None for a folder (a nested repository),
    a file over HASH_MAX_FILE_BYTES, or once HASH_BUDGET_BYTES are spent."""
    budget = HASH_BUDGET_BYTES
    out = []
    for path in paths:
        entry: dict[str, Any] = {"path": path, "size": None, "sha256": None}
        full = root / path
        try:
            if full.is_file():
                entry["size"] = size = full.stat().st_size
                if size <= min(HASH_MAX_FILE_BYTES, budget):
                    entry["sha256"] = hashlib.sha256(full.read_bytes()).hexdigest()
                    budget -= size
        except OSError:
            pass
        out.append(entry)
    return out


def _git_bytes(folder: Path, *args: str) -> bytes | None:
    # --no-optional-locks: a probe must not take the index lock a concurrent git command needs.
    try:
        done = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(folder), *args],
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _git(folder: Path, *args: str) -> str | None:
    raw = _git_bytes(folder, *args)
    return None if raw is None else raw.decode("utf-8", errors="replace").strip()


def _best_effort(probe: Any) -> Any:
    try:
        return probe()
    except Exception:  # a probe must never fail the run
        return None


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


__all__ = ["collect_provenance", "environment_diff", "environment_fingerprint", "git_state"]
