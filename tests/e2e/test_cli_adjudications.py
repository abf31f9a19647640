"""`dlqa labels adjudications` and what `dlqa labels agreement` says of decided items."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from dlqa.store import open_store
from tests.e2e.conftest import run_cli


@pytest.fixture(autouse=True)
def _project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)


def write_votes(path: Path) -> None:
    rows = [("a", "ann", "cat"), ("a", "bob", "dog"), ("b", "ann", "cat"), ("b", "bob", "cat"),
            ("c", "ann", "eel"), ("c", "bob", "cat")]  # fmt: skip
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("item", "annotator", "label"), *rows])


def decide(item: str, label: str) -> None:
    store = open_store(f"sqlite:///{Path('.dlqa/dlqa.db').resolve().as_posix()}",
                       project_dir=Path.cwd())  # fmt: skip
    with store:
        store.add_adjudication(str(Path("votes.csv").resolve()), item, label, adjudicator="ann")


def test_agreement_says_how_many_items_are_decided(tmp_path) -> None:
    write_votes(tmp_path / "votes.csv")
    code, out, _ = run_cli("labels", "agreement", "votes.csv", "--json", "r.json")
    assert code in (0, 1) and "items to adjudicate: 2, 0 already decided" in out
    decide("a", "cat")
    code, out, _ = run_cli("labels", "agreement", "votes.csv", "--json", "r.json")
    assert "items to adjudicate: 2, 1 already decided" in out
    meta = json.loads(Path("r.json").read_text())["meta"]
    assert meta["to_adjudicate"] == 2 and meta["adjudicated"] == 1
    # The checks keep their ids.
    checks = {r["check_id"] for r in json.loads(Path("r.json").read_text())["results"]}
    assert checks == {"labels.agreement", "labels.disagreements"}


def test_final_labels_are_listed_and_written(tmp_path) -> None:
    write_votes(tmp_path / "votes.csv")
    run_cli("labels", "agreement", "votes.csv")
    code, out, _ = run_cli("labels", "adjudications", "votes.csv")
    assert code == 0 and "0 adjudicated items of" in out and "votes.csv" in out
    decide("a", "dog")
    decide("c", "eel")
    decide("a", "cat")  # supersedes
    code, out, _ = run_cli("labels", "adjudications", "votes.csv")
    lines = [line.split("  ")[:3] for line in out.splitlines()]
    assert code == 0 and lines[:2] == [["a", "cat", "ann"], ["c", "eel", "ann"]]
    assert "dog" not in out
    code, out, _ = run_cli("labels", "adjudications", "votes.csv", "--out", "final.csv")
    assert code == 0 and "wrote 2 final labels" in out
    with Path("final.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["item"], r["label"], r["adjudicator"]) for r in rows] == [
        ("a", "cat", "ann"), ("c", "eel", "ann")
    ]  # fmt: skip
    assert rows[0]["decided_at"] and rows[0]["run_id"] == ""


def test_an_unknown_source_names_the_known_ones(tmp_path) -> None:
    write_votes(tmp_path / "votes.csv")
    run_cli("labels", "agreement", "votes.csv")
    code, _, err = run_cli("labels", "adjudications", "nope.csv")
    assert code == 2 and "nope.csv" in err and "votes.csv" in err
