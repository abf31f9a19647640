"""The run lifecycle through the real CLI: reports re-rendered from the store alone, a usage
error in a later stage, a database found from any folder. (Ctrl-C on a real process group:
test_worker_death.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import image_check_count, run_cli

pytestmark = pytest.mark.slow


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
    assert f"run 1 stopped: {image_check_count()} results stored" in err
    report = json.loads((tmp_path / ".dlqa/reports/run-1/report.json").read_text())
    assert report["status"] == "failed" and len(report["results"]) == image_check_count()


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
