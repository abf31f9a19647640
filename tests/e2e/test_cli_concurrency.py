"""Two real `dlqa data profile` processes on one SQLite file both complete."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import DLQA, image_check_count, noise_pngs

pytestmark = pytest.mark.slow


def test_two_profiles_on_one_sqlite_file_both_complete(tmp_path: Path) -> None:
    noise_pngs(tmp_path / "data", 450, classes=3)
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
    assert [(count, distinct) for _, count, distinct in per_run] == [
        (image_check_count(), image_check_count())
    ] * 2
    assert snapshots == 2
