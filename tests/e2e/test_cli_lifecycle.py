"""The run lifecycle through the real CLI: reports re-rendered from the store alone, Ctrl-C
on a real process, a usage error in a later stage."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import run_cli

pytestmark = pytest.mark.slow
DLQA = [sys.executable, "-c", "import sys; from dlqa.cli import main; sys.exit(main())"]


def test_report_re_renders_a_run_after_its_data_is_gone(dataset: Path, tmp_path: Path,
                                                        monkeypatch) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli("data", "profile", str(dataset), "--quiet", "--json", "first.json")
    assert code == 1
    first = json.loads((tmp_path / "first.json").read_text())
    html_before = (tmp_path / ".dlqa/reports/run-1/report.html").read_text()
    shutil.rmtree(dataset)

    code, out, err = run_cli("report", "1", "--json", "again.json", "--html", "again.html")
    assert code == 0, err
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["results"] == first["results"]
    assert again["class_counts"] == first["class_counts"]
    assert again["histograms"] == first["histograms"] and again["histograms"]
    html = (tmp_path / "again.html").read_text()
    # The thumbnails of the evidence came from stored artifacts, not the deleted files.
    assert html.count("data:image/jpeg;base64") == html_before.count("data:image/jpeg;base64")
    assert html.count("data:image/jpeg;base64") > 0
    assert "data.split_leakage" in out  # the terminal summary again

    code, _, err = run_cli("report", "99")
    assert code == 2 and "no run 99" in err


def _many_images(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    for c in range(4):
        folder = root / f"c{c}"
        folder.mkdir(parents=True)
        for i in range(n // 4):
            Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(
                folder / f"{i}.png"
            )


def test_ctrl_c_on_a_real_profile_is_exit_130_with_the_run_kept(tmp_path: Path) -> None:
    _many_images(tmp_path / "data", 4000)
    process = subprocess.Popen(
        [*DLQA, "data", "profile", "data", "--workers", "2", "--quiet"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    database = tmp_path / ".dlqa" / "dlqa.db"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the run is recorded, then interrupt
        if database.exists() and _runs(database):
            break
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted: run 1 is recorded as interrupted" in err
    assert "Traceback" not in err
    assert _runs(database) == [(1, "interrupted", 130)]
    report = json.loads((tmp_path / ".dlqa/reports/run-1/report.json").read_text())
    assert report["status"] == "interrupted"


def _runs(database: Path) -> list[tuple]:
    try:
        with sqlite3.connect(database) as connection:
            return connection.execute("SELECT id, status, exit_code FROM runs").fetchall()
    except sqlite3.Error:
        return []


def test_a_usage_error_in_a_later_stage_keeps_the_data_results(dataset: Path, tmp_path: Path,
                                                               monkeypatch) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dlqa.toml").write_text(
        f'[data]\nsource = "{dataset.as_posix()}"\n\n[train]\nfast = "nowhere_module:fast"\n',
        encoding="utf-8",
    )
    code, _, err = run_cli("check", "--quiet")
    assert code == 2
    assert "cannot import module 'nowhere_module'" in err
    assert "run 1 stopped: 16 results stored" in err
    report = json.loads((tmp_path / ".dlqa/reports/run-1/report.json").read_text())
    assert report["status"] == "failed" and len(report["results"]) == 16


def test_a_database_elsewhere_finds_its_artifacts_from_any_folder(dataset: Path, tmp_path: Path,
                                                                  monkeypatch) -> None:  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    url = f"sqlite:///{(elsewhere / 's.db').as_posix()}"
    work, other = tmp_path / "work", tmp_path / "other"
    work.mkdir()
    other.mkdir()
    monkeypatch.chdir(work)
    assert run_cli("data", "profile", str(dataset), "--db", url, "-q", "-w", "1")[0] == 1
    assert run_cli("data", "profile", str(dataset), "--db", url, "-q", "-w", "1")[0] == 1
    assert (elsewhere / "artifacts").is_dir()
    monkeypatch.chdir(other)
    code, out, err = run_cli("data", "diff", "--db", url)
    assert code == 0, err
    assert "identical datasets" in out
    assert not (other / ".dlqa").exists()  # nothing stray where the command ran
    # A shared artifact root, as a team would name it beside a PostgreSQL database.
    monkeypatch.setenv("DLQA_ARTIFACTS", str(tmp_path / "shared-artifacts"))
    assert run_cli("data", "profile", str(dataset), "--db", url, "-q", "-w", "1")[0] == 1
    assert any((tmp_path / "shared-artifacts").rglob("*"))
