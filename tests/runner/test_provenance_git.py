"""The git part of a run's provenance, on throwaway repositories: what `dlqa exp run` refuses
(a source-dirty tree) and what lets a run from a dirty tree be rebuilt (diff, untracked hashes,
unpushed commits)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from dlqa.runner import provenance
from dlqa.runner.provenance import collect_provenance, git_state

pytestmark = pytest.mark.skipif(
    subprocess.run(["git", "--version"], capture_output=True).returncode != 0,
    reason="git is not installed",
)

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}  # fmt: skip


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True,
        env={**os.environ, **GIT_ENV},
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit (train.py, .gitignore ignoring *.ckpt) on branch main."""
    folder = tmp_path / "repo"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    (folder / "train.py").write_text("print('train')\n")
    (folder / ".gitignore").write_text("*.ckpt\n")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "first")
    return folder


def test_a_clean_tree(repo: Path) -> None:
    state = git_state(repo)
    assert state is not None
    assert state["commit"] == git(repo, "rev-parse", "HEAD")
    assert state["branch"] == "main"
    assert state["tag"] is None
    assert not state["dirty"] and not state["source_dirty"]
    assert state["diff"] == "" and state["diff_sha256"] is None and state["changed"] == []
    assert state["untracked"] == [] and state["untracked_count"] == 0
    assert state["upstream"] is None and state["unpushed"] is None


def test_a_tracked_change_is_dirty_with_its_diff(repo: Path) -> None:
    (repo / "train.py").write_text("print('train harder')\n")
    (repo / "model.ckpt").write_bytes(b"ignored")
    state = git_state(repo)
    assert state["dirty"] and state["source_dirty"]
    assert state["changed"] == ["train.py"] and state["changed_count"] == 1
    assert "+print('train harder')" in state["diff"] and not state["diff_truncated"]
    full = git(repo, "diff", "HEAD", "--no-color") + "\n"
    assert state["diff_sha256"] == hashlib.sha256(full.encode()).hexdigest()
    assert state["untracked"] == []  # ignored files are not listed


def test_a_long_diff_is_capped_but_hashed_whole(repo: Path, monkeypatch) -> None:
    monkeypatch.setattr(provenance, "DIFF_MAX_BYTES", 100)
    (repo / "train.py").write_text("x = 1\n" * 100)
    state = git_state(repo)
    assert state["diff_truncated"] and len(state["diff"]) == 100
    assert state["diff_sha256"] is not None


def test_an_untracked_source_file_makes_the_tree_source_dirty(repo: Path) -> None:
    (repo / "pkg").mkdir()
    (repo / "pkg" / "new module.py").write_text("X = 1\n")
    state = git_state(repo)
    assert not state["dirty"] and state["source_dirty"]
    assert state["untracked_source"] == ["pkg/new module.py"]
    [entry] = state["untracked"]
    assert entry == {
        "path": "pkg/new module.py",
        "size": 6,
        "sha256": hashlib.sha256(b"X = 1\n").hexdigest(),
    }


def test_untracked_non_source_files_are_listed_but_do_not_count(repo: Path) -> None:
    (repo / "run.log").write_text("epoch 1\n")
    (repo / "notes").write_text("no shebang\n")
    (repo / "go").write_text("#!/bin/sh\necho hi\n")
    state = git_state(repo)
    assert sorted(u["path"] for u in state["untracked"]) == ["go", "notes", "run.log"]
    assert state["untracked_source"] == ["go"]  # a script without a suffix counts
    (repo / "go").unlink()
    state = git_state(repo)
    assert not state["source_dirty"] and state["untracked_count"] == 2


def test_untracked_listing_and_hashing_are_capped(repo: Path, monkeypatch) -> None:
    monkeypatch.setattr(provenance, "UNTRACKED_MAX", 3)
    monkeypatch.setattr(provenance, "HASH_MAX_FILE_BYTES", 10)
    for i in range(5):
        (repo / f"out{i}.csv").write_text("a,b\n" * (i + 1))
    state = git_state(repo)
    assert state["untracked_count"] == 5 and len(state["untracked"]) == 3
    hashed = {u["path"]: u["sha256"] is not None for u in state["untracked"]}
    assert hashed == {"out0.csv": True, "out1.csv": True, "out2.csv": False}  # 12 bytes > 10


def test_a_tag_at_head(repo: Path) -> None:
    git(repo, "tag", "v1.0")
    assert git_state(repo)["tag"] == "v1.0"
    (repo / "train.py").write_text("print(2)\n")
    git(repo, "commit", "-qam", "second")
    assert git_state(repo)["tag"] is None


def test_unpushed_commits_against_a_local_remote(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "-u", "origin", "main")
    state = git_state(repo)
    assert state["upstream"] == "origin/main" and state["ahead"] == 0 and state["unpushed"] == []
    for subject in ("second", "third"):
        (repo / "train.py").write_text(f"print('{subject}')\n")
        git(repo, "commit", "-qam", subject)
    state = git_state(repo)
    assert state["ahead"] == 2
    assert [line.split(" ", 1)[1] for line in state["unpushed"]] == ["third", "second"]
    assert state["unpushed"][0].split()[0] == git(repo, "rev-parse", "--short", "HEAD")


def test_a_detached_head(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    state = git_state(repo)
    assert state["branch"] == "HEAD" and state["unpushed"] is None


def test_not_a_repository_or_no_commit_yet(tmp_path: Path) -> None:
    assert git_state(tmp_path) is None
    git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("")
    assert git_state(tmp_path) is None


def test_collect_provenance_keeps_its_keys_and_adds_the_environment(repo: Path) -> None:
    record = collect_provenance("dlqa exp run x", repo, None)
    assert {"command", "cwd", "git", "versions", "os", "host", "user", "config_sha256"} <= set(
        record
    )
    env = record["environment"]
    assert env["python"]["version"] and env["distributions"]["dlqa"]
    assert len(env["sha256"]) == 64 and record["git"]["commit"]
