"""Two real `dlqa data profile` processes on one SQLite file both complete."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow
DLQA = [sys.executable, "-c", "import sys; from dlqa.cli import main; sys.exit(main())"]


def test_two_profiles_on_one_sqlite_file_both_complete(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for label in ("a", "b", "c"):
        (tmp_path / "data" / label).mkdir(parents=True)
        for i in range(150):
            pixels = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "data" / label / f"{i}.png")
    url = f"sqlite:///{(tmp_path / 'shared.db').as_posix()}"
    processes = [
        subprocess.Popen(
            [*DLQA, "data", "profile", str(tmp_path / "data"), "--db", url, "-q", "-w", "1"],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if k != "DLQA_DATABASE_URL"},
        )
        for folder in (tmp_path, tmp_path / "data")
    ]
    outcomes = [(p.wait(timeout=300), p.stderr.read()) for p in processes]
    for code, err in outcomes:
        assert code == 0, err
        assert "locked" not in err
    with sqlite3.connect(tmp_path / "shared.db") as connection:
        runs = connection.execute("SELECT status, exit_code FROM runs").fetchall()
        per_run = connection.execute(
            "SELECT run_id, COUNT(*), COUNT(DISTINCT position) FROM results GROUP BY run_id"
        ).fetchall()
        snapshots = connection.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
    assert sorted(runs) == [("finished", 0), ("finished", 0)]
    assert [(count, distinct) for _, count, distinct in per_run] == [(16, 16), (16, 16)]
    assert snapshots == 2
