"""`dlqa data profile`, `dlqa data diff`, `dlqa init`, `dlqa check` on real files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dlqa.report.json_report import validate_report_dict
from dlqa.store import open_store
from tests.e2e.conftest import image_check_count, run_cli


@pytest.fixture(autouse=True)
def _project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)


def by_id(document):
    return {r["check_id"]: r for r in document["results"]}


def flagged(result):
    ids = set()
    for evidence in result["evidence"]:
        for item in evidence["items"]:
            ids.update(item["ids"] if "ids" in item else [item["id"]])
    return ids


def test_profile_finds_each_planted_problem(dataset, tmp_path):
    code, out, _ = run_cli(
        "data", "profile", str(dataset), "--json", "r.json", "--junit", "j.xml", "-w", "2"
    )
    assert code == 1  # unreadable, format mismatch, duplicates and leakage fail their gates
    document = json.loads(Path("r.json").read_text())
    validate_report_dict(document)
    results = by_id(document)
    assert flagged(results["data.unreadable"]) == {"train/cat/truncated.jpg"}
    assert results["data.unreadable"]["status"] == "fail"
    assert flagged(results["data.format_mismatch"]) == {"train/dog/really_png.jpg"}
    assert flagged(results["data.dark"]) == {"train/dog/dark.png"}
    assert results["data.dark"]["status"] == "warn"
    assert flagged(results["data.split_leakage"]) == {"train/cat/01.jpg", "test/cat/leaked.jpg"}
    assert flagged(results["data.exact_duplicates"]) == {"train/cat/01.jpg", "test/cat/leaked.jpg"}
    assert results["data.near_duplicates"]["status"] == "pass"
    assert results["data.conflicting_labels"]["status"] == "pass"
    assert document["meta"]["n_samples"] == 36

    suite = ET.parse("j.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert int(suite.get("tests")) == len(document["results"]) == image_check_count()
    failed = {tc.get("name") for tc in suite.iter("testcase") if tc.find("failure") is not None}
    assert {"data.unreadable", "data.split_leakage"} <= failed
    assert "data.dark" not in failed  # a warning is not a failure

    html = next(Path(".dlqa/reports").glob("run-*/report.html")).read_text()
    assert "train/dog/really_png.jpg" in html and "https://" not in html
    assert "report.html" in out


def test_snapshots_diff_shows_what_changed(dataset, tmp_path):
    assert run_cli("data", "profile", str(dataset), "-q", "-w", "1")[0] == 1
    (dataset / "train/cat/truncated.jpg").unlink()
    (dataset / "train/dog/05.jpg").rename(dataset / "train/cat/05b.jpg")  # relabelled
    assert run_cli("data", "profile", str(dataset), "-q", "-w", "1")[0] == 1
    code, out, _ = run_cli("data", "diff", "1", "2", "--json", "diff.json")
    assert code == 0
    diff = json.loads(Path("diff.json").read_text())
    assert diff["samples"]["removed"] == ["train/cat/truncated.jpg", "train/dog/05.jpg"]
    assert diff["samples"]["added"] == ["train/cat/05b.jpg"]
    counts = {row["label"]: row["delta"] for row in diff["class_counts"]}
    assert counts == {"cat": 0, "dog": -1}
    issues = {row["check_id"]: row for row in diff["issues"]}
    assert issues["data.unreadable"]["fixed"] == ["train/cat/truncated.jpg"]
    assert "removed: 2" in out
    # "latest" refs and an unknown ref
    assert run_cli("data", "diff")[0] == 0
    code, _, err = run_cli("data", "diff", "1", "99")
    assert code == 2 and "99" in err


def test_diff_defaults_to_the_two_latest_snapshots_of_one_source(dataset, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(dataset / "train", other)
    for source in (dataset, other, dataset, other):  # interleaved: 1 and 3, 2 and 4
        assert run_cli("data", "profile", str(source), "-q", "-w", "1")[0] == 1
    code, out, _ = run_cli("data", "diff", "--json", "d.json")
    assert code == 0
    document = json.loads(Path("d.json").read_text())
    assert (document["old_snapshot"], document["new_snapshot"]) == (2, 4)
    assert "different sources" not in out
    # Asked for explicitly, two sources are compared, with a note that says so.
    code, out, _ = run_cli("data", "diff", "3", "4")
    assert code == 0 and "different sources" in out
    # A source profiled once has nothing to compare with.
    third = tmp_path / "third"
    shutil.copytree(dataset / "test", third)
    assert run_cli("data", "profile", str(third), "-q", "-w", "1")[0] in (0, 1)
    code, _, err = run_cli("data", "diff")
    assert code == 2 and "the only finished snapshot" in err


@pytest.mark.parametrize(
    "name", ['say "cheese"', "back\\slash", "ünïcödé 猫", "tab\there", "a'b", "[gates]"]
)
def test_init_writes_valid_toml_for_any_folder_name(tmp_path, dataset, name, monkeypatch):
    project = tmp_path / name
    shutil.copytree(dataset, project / name)
    monkeypatch.chdir(project)
    code, _, err = run_cli("init", name)
    assert code == 0, err
    text = Path("dlqa.toml").read_text(encoding="utf-8")
    config = tomllib.loads(text)
    assert config["data"]["source"] == name and config["project"]["name"] == name
    # What init found is written as comments of the file.
    assert "#   classes: cat 18, dog 18" in text
    assert "#   splits: test 9, train 27" in text and "#   modalities: image 36" in text
    assert run_cli("check", "-q")[0] == 1  # and the project runs


def test_init_then_check_uses_the_gates(dataset, tmp_path):
    code, out, _ = run_cli("init", str(dataset))
    assert code == 0 and Path("dlqa.toml").exists()
    assert "36 samples, 2 classes, splits test, train" in out
    assert run_cli("init", str(dataset))[0] == 2  # refuses to overwrite
    config = Path("dlqa.toml").read_text()
    Path("dlqa.toml").write_text(
        config
        + '"data.unreadable" = { level = "warn" }\n'
        + '"data.format_mismatch" = { enabled = false }\n'
        + '"data.exact_duplicates" = { level = "warn" }\n'
        + '"data.split_leakage" = { max_fraction = 0.1 }\n'
    )
    code, out, _ = run_cli("check", "-q", "--json", "c.json")
    document = json.loads(Path("c.json").read_text())
    statuses = {r["check_id"]: r["status"] for r in document["results"]}
    assert statuses["data.format_mismatch"] == "skip"
    assert statuses["data.unreadable"] == "warn"
    assert code == 0, statuses
    assert list(Path(".dlqa/reports").glob("run-*/report.html"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("data", "profile", "missing-folder"), "does not exist"),
        (("data", "profile", "."), "no image files"),
        (("check",), "dlqa init"),
        (("data", "profile", ".", "--workers", "0"), "--workers"),
        (("data", "diff", "1", "2"), "snapshot"),
    ],
)
def test_bad_input_exits_2_with_one_message(tmp_path, args, message):
    code, out, err = run_cli(*args)
    assert code == 2, (out, err)
    assert message.lower() in (out + err).lower()
    assert "Traceback" not in out + err


def test_bad_config_exits_2(tmp_path, dataset):
    Path("dlqa.toml").write_text(f'[data]\nsource = "{dataset}"\nlabel_colum = "y"\n')
    code, _, err = run_cli("check")
    assert code == 2 and "data.label_colum: unknown key" in err


def test_internal_failure_exits_3_and_keeps_stored_results(dataset, monkeypatch):
    from dlqa import runner

    def broken_writer(report, path):
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(runner.WRITERS, "html", broken_writer)
    code, _, err = run_cli("data", "profile", str(dataset), "-q", "-w", "1")
    assert code == 3 and "internal error" in err
    store = open_store()
    run = store.list_runs()[0]
    assert len(store.results_for_run(run.id)) == image_check_count()
    assert store.list_snapshots()[0].run_id == run.id


def test_manifest_source_end_to_end(dataset, tmp_path):
    rows = ["path,label,split,camera"]
    for path in sorted((dataset / "train").rglob("0*.jpg")):
        rows.append(f"{path.relative_to(tmp_path)},{path.parent.name},train,A")
    Path("manifest.csv").write_text("\n".join(rows) + "\n")
    code, _, _ = run_cli("data", "profile", "manifest.csv", "-q", "--json", "m.json")
    document = json.loads(Path("m.json").read_text())
    assert document["meta"]["n_samples"] == 20  # 00..09 of each class
    assert code == 0, [r["check_id"] for r in document["results"] if r["status"] == "fail"]
    Path("bad.csv").write_text("file,label\nx.jpg,cat\n")
    code, _, err = run_cli("data", "profile", "bad.csv")
    assert code == 2 and "path" in err and "--path-column" in err


def test_installed_entry_point_reports_exit_codes(dataset, tmp_path):
    """The real console script, as CI calls it."""
    exe = Path(sys.executable).with_name("dlqa")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [str(exe), "data", "profile", str(dataset), "--quiet"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    bad = subprocess.run(
        [str(exe), "data", "profile", str(tmp_path / "nope")],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "does not exist" in bad.stderr
