"""`dlqa labels agreement` on real annotation tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.conftest import run_cli
from tests.e2e.test_cli_data import by_id


@pytest.fixture(autouse=True)
def _project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)


def write_votes(path: Path, flip: float, n_items: int = 200, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "rater", "class"])
        for item in range(n_items):
            truth = rng.choice(["cat", "dog", "bird"])
            for rater in ("ann", "bob", "cy"):
                if rater == "cy" and item % 4 == 0:
                    continue  # items rated by two or by three annotators
                label = rng.choice(["cat", "dog", "bird"]) if rng.random() < flip else truth
                writer.writerow([f"img{item}", rater, label])


def test_agreement_of_careful_annotators_passes_and_lists_the_queue(tmp_path):
    write_votes(tmp_path / "votes.csv", flip=0.05)
    code, _, _ = run_cli(
        "labels", "agreement", "votes.csv", "--item-column", "image",
        "--annotator-column", "rater", "--label-column", "class", "--json", "r.json",
    )  # fmt: skip
    assert code == 0
    results = by_id(json.loads(Path("r.json").read_text()))
    agreement = results["labels.agreement"]
    assert agreement["status"] == "pass" and agreement["value"] > 0.8
    assert agreement["n"] == 200 and agreement["interval"]["low"] < agreement["value"]
    assert {"fleiss_kappa", "cohen_kappa", "agreement_with_majority"} <= set(agreement["details"])
    assert len(agreement["details"]["cohen_kappa"]) == 3  # every pair of the three
    assert results["labels.disagreements"]["status"] == "warn"  # a queue, not a failure


def test_careless_annotators_fail_the_gate(tmp_path):
    write_votes(tmp_path / "votes.csv", flip=0.7)
    code, _, _ = run_cli(
        "labels", "agreement", "votes.csv", "--item-column", "image",
        "--annotator-column", "rater", "--label-column", "class", "--json", "r.json",
    )  # fmt: skip
    assert code == 1
    assert by_id(json.loads(Path("r.json").read_text()))["labels.agreement"]["status"] == "fail"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("item,annotator,label\n1,a,x\n2,a,y\n", "at least two annotators"),
        ("item,annotator,label\n1,a,x\n", "at least two annotators"),
        ("item,rater,label\n1,a,x\n1,b,x\n", "no annotator column 'annotator'"),
    ],
)
def test_tables_without_agreement_to_measure_exit_2(tmp_path, content, message):
    (tmp_path / "bad.csv").write_text(content, encoding="utf-8")
    code, out, err = run_cli("labels", "agreement", "bad.csv")
    assert code == 2 and message in out + err


def test_dlqa_check_measures_agreement_when_the_config_names_a_table(tmp_path):
    write_votes(tmp_path / "votes.csv", flip=0.05)
    (tmp_path / "dlqa.toml").write_text(
        '[labels]\nagreement = "votes.csv"\nitem_column = "image"\n'
        'annotator_column = "rater"\nlabel_column = "class"\n',
        encoding="utf-8",
    )
    code, _, _ = run_cli("check", "--json", "r.json")
    results = by_id(json.loads(Path("r.json").read_text()))
    assert code == 0 and results["labels.agreement"]["status"] == "pass"
