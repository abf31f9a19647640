"""Hostile files and stores through the real CLI: a finding or a clear message, never a crash
blamed on the user's data, never a silently wrong dataset."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from dlqa.train.checks import CHECK_ORDER
from tests.e2e.conftest import DLQA, image_check_count, run_cli, scene

pytestmark = pytest.mark.slow


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """Three classes, plus: a symlink loop, a dangling symlink (missing annexed content), a
    FIFO, a name that is not UTF-8, and an image with no class."""
    root = tmp_path / "data"
    seed = 0
    for label in ("bird", "cat", "dog"):
        (root / label).mkdir(parents=True)
        for i in range(4):
            seed += 1
            scene(seed).save(root / label / f"{i}.png")
    (root / "bird" / "loop").symlink_to("..", target_is_directory=True)
    (root / "cat" / "annexed.png").symlink_to(tmp_path / ".git" / "annex" / "objects" / "x")
    os.mkfifo(root / "dog" / "pipe.png")
    shutil.copy(root / "cat" / "0.png", os.path.join(os.fsencode(root / "cat"), b"\xff\xfe.png"))
    scene(99).save(root / "loose.png")
    return root


def test_hostile_folder_is_profiled_with_every_problem_a_finding(hostile, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("data", "profile", str(hostile), "-q", "-w", "1", "--json", "r.json")
    assert code == 1, err  # findings, not an internal error
    report = json.loads(Path("r.json").read_text())
    results = {r["check_id"]: r for r in report["results"]}
    # The loop relabels nothing: 4 images each, plus the odd entries in cat and dog.
    assert report["class_counts"]["all"] == {"bird": 4, "cat": 6, "dog": 5}
    assert report["meta"]["n_samples"] == 16
    assert [s["path"] for s in report["meta"]["skipped"]] == ["bird/loop"]
    assert any("not read as samples" in note for note in report["meta"]["notes"])
    reasons = {i["id"]: i["reason"] for i in results["data.unreadable"]["evidence"][0]["items"]}
    assert set(reasons) == {"cat/annexed.png", "dog/pipe.png"}
    assert "No such file or directory" in reasons["cat/annexed.png"]
    assert "a FIFO" in reasons["dog/pipe.png"]
    # The non-UTF-8 name is a sample like any other, shown with its bytes escaped.
    groups = results["data.exact_duplicates"]["evidence"][0]["items"]
    assert {"cat/0.png", "cat/\\xff\\xfe.png"} in [set(g["ids"]) for g in groups]
    # The loose image has no class: counted as unlabelled, not as a class.
    assert results["data.class_balance"]["details"]["unlabelled"]["count"] == 1


def test_a_read_only_database_is_exit_2_naming_it(dataset, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "r.db"
    assert run_cli("data", "profile", str(dataset), "--db", f"sqlite:///{database}", "-q")[0] == 1
    read_only = f"sqlite:///file:{database}?mode=ro&uri=true"
    code, _, err = run_cli("data", "profile", str(dataset), "--db", read_only, "-q")
    assert code == 2
    assert "is read-only" in err and str(database) in err and "Traceback" not in err
    code, out, _ = run_cli("data", "snapshots", "--db", read_only)  # reading still works
    assert code == 0 and "1 " in out and "fingerprint" in out


TRAIN_MODULE = textwrap.dedent(
    """
    import torch
    from torch import nn

    def build_model():
        return nn.Sequential(nn.Flatten(), nn.Linear(16, 4))

    def make_optimizer(params):
        return torch.optim.Adam(params, lr=1e-2)

    def one_batch():
        generator = torch.Generator().manual_seed(0)
        return torch.randn(16, 4, 4, generator=generator), torch.arange(16) % 4
    """
)


@pytest.mark.postgres
def test_two_profiles_and_a_train_check_at_once_on_postgresql(dataset, tmp_path, postgres_url):
    pytest.importorskip("torch")
    (tmp_path / "trainproj").mkdir()
    (tmp_path / "trainproj" / "toy_model.py").write_text(TRAIN_MODULE)
    (tmp_path / "trainproj" / "dlqa.toml").write_text(
        '[train]\nmodel = "toy_model:build_model"\nloss = "torch.nn:CrossEntropyLoss"\n'
        'optimizer = "toy_model:make_optimizer"\nbatch = "toy_model:one_batch"\n'
    )
    environment = {**os.environ, "DLQA_DATABASE_URL": postgres_url,
                   "DLQA_ARTIFACTS": str(tmp_path / "shared-artifacts")}  # fmt: skip
    commands = [
        ([*DLQA, "data", "profile", str(dataset), "-q", "-w", "1"], tmp_path),
        ([*DLQA, "data", "profile", str(dataset / "train"), "-q", "-w", "1"], tmp_path),
        ([*DLQA, "train", "check", "-q"], tmp_path / "trainproj"),
    ]
    processes = [
        subprocess.Popen(
            command,
            cwd=cwd,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for command, cwd in commands
    ]
    outcomes = [(p.wait(timeout=600), p.stderr.read()) for p in processes]
    assert [code for code, _ in outcomes] == [1, 1, 0], outcomes
    engine = sa.create_engine(postgres_url)
    with engine.connect() as connection:
        runs = connection.execute(sa.text("SELECT id, kind, status FROM runs ORDER BY id")).all()
        rows = connection.execute(
            sa.text(
                "SELECT run_id, COUNT(*), COUNT(DISTINCT position) FROM results GROUP BY run_id"
            )
        ).all()
        snapshots = connection.execute(sa.text("SELECT COUNT(*) FROM snapshots")).scalar()
    engine.dispose()
    assert sorted(kind for _, kind, _ in runs) == ["data.profile", "data.profile", "train.check"]
    assert all(status == "finished" for _, _, status in runs)
    counts = {run_id: (count, distinct) for run_id, count, distinct in rows}
    kinds = {run_id: kind for run_id, kind, _ in runs}
    for run_id, (count, distinct) in counts.items():
        assert count == distinct  # no duplicated positions
        battery = len(CHECK_ORDER) + 1  # every battery check and the fast loop
        assert count == (image_check_count() if kinds[run_id] == "data.profile" else battery)
    assert snapshots == 2
