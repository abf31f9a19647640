"""`dlqa data review sample|import` on real image files, then the profile that reads the
verdicts back (data.review_error_rate, data.confirmed_label_errors)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from dlqa.store import open_store
from tests.e2e.conftest import noise_pngs, run_cli
from tests.e2e.test_cli_data import by_id

DARK = "c1/dark.png"


@pytest.fixture(autouse=True)
def _project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)


@pytest.fixture
def profiled(tmp_path: Path) -> Path:
    """40 noise PNGs in 4 class folders and one black frame (flagged by data.dark), profiled."""
    root = tmp_path / "data"
    noise_pngs(root, 40, classes=4)
    Image.new("RGB", (32, 32), (2, 2, 3)).save(root / DARK)
    code, _, err = run_cli("data", "profile", "data", "-q", "--json", "p1.json")
    assert code in (0, 1), err
    assert DARK in flagged_ids(json.loads(Path("p1.json").read_text()))
    return root


def flagged_ids(document) -> set[str]:
    ids = set()
    for result in document["results"]:
        if result["status"] in ("fail", "warn", "error"):
            for evidence in result["evidence"]:
                ids.update(item["id"] for item in evidence["items"] if "id" in item)
    return ids


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["id", "label", "verdict", "correct_label", "note"]
        )
        writer.writeheader()
        writer.writerows(rows)


def stored_verdicts() -> int:
    with open_store(project_dir=Path.cwd()) as store:
        return sum(len(store.verdict_history(s.source)) for s in store.list_review_samples())


def test_sample_review_import_then_profile_reports_the_error_rate(profiled, tmp_path):
    code, out, err = run_cli(
        "data", "review", "sample", "--seed", "3", "--size", "10", "--out", "rv"
    )
    assert code == 0, err
    assert "seed 3" in out and "10 drawn at random" in out
    rows = read_rows(Path("rv/review.csv"))
    assert list(rows[0]) == ["id", "label", "verdict", "correct_label", "note"]
    ids = [row["id"] for row in rows]
    assert DARK in ids and len(ids) == 11  # 10 at random, the flagged black frame on top
    assert json.loads(Path("rv/review.json").read_text())["seed"] == 3

    page = Path("rv/review.html").read_text(encoding="utf-8")
    assert page.count("data:image/jpeg;base64,") == 11 and "data.dark" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page

    # Reproducible from the seed: the same ids again, another seed other ones.
    assert (
        run_cli("data", "review", "sample", "--seed", "3", "--size", "10", "--out", "again")[0] == 0
    )
    assert [row["id"] for row in read_rows(Path("again/review.csv"))] == ids
    assert (
        run_cli("data", "review", "sample", "--seed", "4", "--size", "10", "--out", "other")[0] == 0
    )
    assert [row["id"] for row in read_rows(Path("other/review.csv"))] != ids

    wrong = next(row for row in rows if row["id"] != DARK)
    right = "c3" if wrong["label"] != "c3" else "c0"
    for row in rows:
        row["verdict"] = "ok"
        if row is wrong:
            row.update(verdict="wrong_label", correct_label=right, note="clearly " + right)
        elif row["id"] == DARK:
            row.update(verdict="bad_sample", note="black frame")
    write_rows(Path("rv/review.csv"), rows)

    code, out, err = run_cli("data", "review", "import", "rv/review.csv", "--reviewer", "ann")
    assert code == 0, err
    assert "stored 11 verdicts (1 bad_sample, 9 ok, 1 wrong_label)" in out
    # One error among the draws of its class, weighted by the class's share of the 41 samples.
    with open_store(project_dir=Path.cwd()) as store:
        allocation = store.get_review_sample(1).allocation[wrong["label"]]
    expected = allocation["size"] / 41 / allocation["drawn"]
    assert f"error rate: {expected:.1%}" in out and "n = 10 random draws" in out
    # Importing the same file again adds nothing.
    code, out, _ = run_cli("data", "review", "import", "rv/review.csv", "--reviewer", "ann")
    assert code == 0 and "stored 0 verdicts; 11 unchanged" in out

    code, _, err = run_cli("data", "profile", "data", "-q", "--json", "p2.json")
    assert code == 1, err  # the confirmed errors fail their gate
    results = by_id(json.loads(Path("p2.json").read_text()))
    rate = results["data.review_error_rate"]
    assert rate["n"] == 10 and rate["value"] == pytest.approx(expected)
    assert rate["interval"]["low"] < expected < rate["interval"]["high"]
    assert rate["status"] == "inconclusive"  # 10 reviews cannot show a rate below 5 %
    assert rate["details"]["flagged"]["n"] == 1 and rate["details"]["flagged"]["errors"] == 1
    confirmed = results["data.confirmed_label_errors"]
    assert confirmed["status"] == "fail"
    items = {item["id"]: item for item in confirmed["evidence"][0]["items"]}
    assert (
        items[wrong["id"]]["suggested"] == right and items[wrong["id"]]["label"] == wrong["label"]
    )
    assert "black frame" in items[DARK]["reason"]


def test_a_review_file_with_verdicts_is_never_overwritten(profiled):
    assert run_cli("data", "review", "sample", "--seed", "1", "--size", "4", "--out", "rv")[0] == 0
    rows = read_rows(Path("rv/review.csv"))
    rows[0]["verdict"] = "ok"
    write_rows(Path("rv/review.csv"), rows)
    code, out, err = run_cli("data", "review", "sample", "--seed", "2", "--out", "rv")
    assert code == 2 and "already holds verdicts" in err
    assert read_rows(Path("rv/review.csv"))[0]["verdict"] == "ok"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"id": "c9/none.png"}, "ids not in this review sample: row 2 'c9/none.png'"),
        ({"verdict": "maybe"}, "unknown verdicts: row 2 'maybe'"),
        ({"verdict": "wrong_label"}, "wrong_label without correct_label: row 2"),
        ({"verdict": "wrong_label", "correct_label": "cat"}, "not a class of the dataset"),
    ],
)
def test_bad_review_files_exit_2_with_one_message_and_store_nothing(profiled, edit, message):
    assert run_cli("data", "review", "sample", "--seed", "5", "--size", "8", "--out", "rv")[0] == 0
    rows = read_rows(Path("rv/review.csv"))
    for row in rows:
        row["verdict"] = "ok"
    rows[0].update(edit)
    write_rows(Path("rv/review.csv"), rows)
    code, out, err = run_cli("data", "review", "import", "rv/review.csv")
    assert code == 2
    assert err.count("dlqa: error:") == 1 and message in err
    assert "nothing stored" in err and stored_verdicts() == 0


def test_without_the_sidecar_the_review_is_found_by_its_ids(profiled):
    assert run_cli("data", "review", "sample", "--seed", "5", "--size", "6", "--out", "rv")[0] == 0
    rows = read_rows(Path("rv/review.csv"))
    for row in rows:
        row["verdict"] = "ok"
    write_rows(Path("elsewhere.csv"), rows)
    code, out, err = run_cli("data", "review", "import", "elsewhere.csv")
    assert code == 0, err
    assert f"stored {len(rows)} verdicts" in out
    code, _, err = run_cli("data", "review", "import", "elsewhere.csv", "--review", "99")
    assert code == 2 and "no review sample 99" in err


def test_relabelled_samples_of_a_manifest_are_fixed(tmp_path):
    noise_pngs(tmp_path / "img", 12, classes=2)
    manifest = tmp_path / "labels.csv"
    files = sorted((tmp_path / "img").rglob("*.png"))
    lines = ["path,label"] + [
        f"{p.relative_to(tmp_path).as_posix()},{p.parent.name}" for p in files
    ]
    manifest.write_text("\n".join(lines) + "\n")
    assert run_cli("data", "profile", "labels.csv", "-q")[0] in (0, 1)
    assert run_cli("data", "review", "sample", "--seed", "0", "--size", "12", "--out", "rv")[0] == 0
    rows = read_rows(Path("rv/review.csv"))
    for row in rows:
        row["verdict"] = "ok"
    rows[0].update(verdict="wrong_label", correct_label="c1" if rows[0]["label"] == "c0" else "c0")
    write_rows(Path("rv/review.csv"), rows)
    assert run_cli("data", "review", "import", "rv/review.csv")[0] == 0

    fixed = manifest.read_text().replace(
        f"{rows[0]['id']},{rows[0]['label']}", f"{rows[0]['id']},{rows[0]['correct_label']}"
    )
    manifest.write_text(fixed)
    code, _, err = run_cli("data", "profile", "labels.csv", "-q", "--json", "p.json")
    results = by_id(json.loads(Path("p.json").read_text()))
    confirmed = results["data.confirmed_label_errors"]
    assert confirmed["status"] == "pass", err
    assert [row["id"] for row in confirmed["details"]["fixed"]] == [rows[0]["id"]]
    assert confirmed["details"]["fixed"][0]["as_suggested"]
