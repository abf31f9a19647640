"""`dlqa data profile` on real audio folders and text manifests, planted problems and all."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.e2e.conftest import run_cli
from tests.e2e.test_cli_data import by_id, flagged

SAMPLE_RATE = 16_000


@pytest.fixture(autouse=True)
def _project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)


def _tone(rng: np.random.Generator, f0: float, seconds: float) -> np.ndarray:
    """A faded, vibrato tone with a little noise: a clean clip that no check should flag."""
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    fade = np.minimum(1, np.minimum(t / 0.05, (t[-1] - t) / 0.05))
    wobble = 1 + 0.3 * np.sin(2 * np.pi * 3 * t)
    x = 0.3 * np.sin(2 * np.pi * f0 * t + rng.uniform(0, 6)) * fade * wobble
    return x + 0.01 * rng.standard_normal(len(t))


@pytest.fixture
def audio_folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "audio"
    for label, f0 in (("low", 220.0), ("high", 880.0)):
        (root / label).mkdir(parents=True)
        for i in range(12):
            clip = _tone(rng, f0 * (1 + 0.3 * i / 12), 1 + rng.random())
            sf.write(root / label / f"c{i}.wav", clip, SAMPLE_RATE)
    original, _ = sf.read(root / "low/c0.wav")
    # The same audio in another container and bit depth is an exact duplicate.
    sf.write(root / "low/c0_copy.flac", original, SAMPLE_RATE, subtype="PCM_24")
    louder, _ = sf.read(root / "low/c1.wav")
    sf.write(root / "low/c1_louder.wav", louder * 1.8, SAMPLE_RATE)  # a gain change
    quiet = 0.0003 * np.sin(np.arange(SAMPLE_RATE) / SAMPLE_RATE * 2 * np.pi * 440)
    sf.write(root / "high/silent.wav", quiet, SAMPLE_RATE)  # -73 dBFS
    loud, _ = sf.read(root / "high/c2.wav")
    sf.write(root / "high/clipped.wav", np.clip(3 * loud, -1, 1), SAMPLE_RATE)
    (root / "high/not_audio.wav").write_bytes(os.urandom(2000))
    return root


def test_audio_folder_finds_each_planted_problem_with_players(audio_folder):
    code, out, _ = run_cli("data", "profile", str(audio_folder), "--json", "r.json", "-w", "2")
    assert code == 1
    document = json.loads(Path("r.json").read_text())
    assert document["meta"]["modality"] == "audio"
    results = by_id(document)
    assert "data.blurry" not in results  # image checks do not run on audio
    assert flagged(results["data.unreadable"]) == {"high/not_audio.wav"}
    assert flagged(results["data.exact_duplicates"]) == {"low/c0.wav", "low/c0_copy.flac"}
    assert flagged(results["data.near_duplicates"]) == {"low/c1.wav", "low/c1_louder.wav"}
    assert flagged(results["data.near_silent"]) == {"high/silent.wav"}
    assert flagged(results["data.clipped"]) == {"high/clipped.wav"}
    for quiet in ("data.truncated", "data.dc_offset", "data.sample_rate_mismatch"):
        assert results[quiet]["status"] == "pass", results[quiet]["summary"]
    html = next(Path(".dlqa/reports").glob("run-*/report.html")).read_text()
    assert "<audio" in html and "data:audio/" in html and "https://" not in html


def _write_texts(path: Path, rows: list[tuple[str, str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["body", "label", "split"])
        writer.writerows(rows)


def test_text_manifest_finds_each_planted_problem_with_snippets(tmp_path):
    rng = np.random.default_rng(1)
    sentence = (
        "the river runs past old mills where bakers wake early and light ovens while "
        "children walk to school under tall trees in the cold morning air of late autumn"
    )
    words = sentence.split(" ")
    rows = []
    for i in range(40):
        chosen = rng.choice(words, size=int(rng.integers(14, 22)))
        rows.append((f"{' '.join(chosen)} note {i}", "a" if i % 2 else "b", "train"))
    original = rows[3][0]
    rows += [
        ("", "a", "train"),  # 40: empty
        ("the cafÃ© opens at nine and the bakers bring bread for the whole street", "b", "train"),
        ("bell\x07 rings twice at noon when the bakers close the ovens for a rest", "a", "train"),
        (original.upper() + "!", "a", "train"),  # 43: the same text after normalisation
        (original.replace("note", "memo"), "b", "test"),  # 44: one word changed, in test
    ]
    _write_texts(tmp_path / "texts.csv", rows)
    code, _, _ = run_cli(
        "data", "profile", "texts.csv", "--text-column", "body", "--json", "r.json", "-w", "2"
    )
    assert code == 1
    document = json.loads(Path("r.json").read_text())
    assert document["meta"]["modality"] == "text"
    results = by_id(document)
    assert flagged(results["data.empty_text"]) == {"40"}
    assert flagged(results["data.mojibake"]) == {"41"}
    assert flagged(results["data.control_characters"]) == {"42"}
    assert flagged(results["data.exact_duplicates"]) == {"3", "43"}
    assert {"3", "44"} <= flagged(results["data.split_leakage"])
    item = results["data.mojibake"]["evidence"][0]["items"][0]
    assert item["text"].startswith("the cafÃ© opens")
    html = next(Path(".dlqa/reports").glob("run-*/report.html")).read_text()
    assert "cafÃ© opens" in html and "<mark" in html


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("body,label\nfine,a\n", ["--text-column", "text"], "text column"),
        ("body,label\nfine,a\ntoo,many,fields\n", ["--text-column", "body"], "row"),
    ],
)
def test_bad_text_manifests_exit_2_with_one_message(tmp_path, content, args, message):
    (tmp_path / "bad.csv").write_text(content, encoding="utf-8")
    code, out, err = run_cli("data", "profile", "bad.csv", *args)
    assert code == 2
    assert message in (out + err)


def test_cp1252_bytes_in_a_utf8_csv_are_a_finding_not_a_crash(tmp_path):
    lines = [b"body,label"] + [f"plain row number {i} of text,a".encode() for i in range(20)]
    lines.append("caf\xe9 cr\xe8me,b".encode("cp1252"))
    (tmp_path / "mixed.csv").write_bytes(b"\n".join(lines) + b"\n")
    code, _, _ = run_cli(
        "data", "profile", "mixed.csv", "--text-column", "body", "--json", "r.json"
    )
    assert code == 1
    results = by_id(json.loads(Path("r.json").read_text()))
    assert flagged(results["data.mojibake"]) == {"20"}


def test_a_csv_of_texts_alone_needs_only_the_text_column(tmp_path):
    rng = np.random.default_rng(3)
    vocabulary = [f"word{k}" for k in range(400)]
    rows = [" ".join(rng.choice(vocabulary, size=15)) for _ in range(30)]
    (tmp_path / "plain.csv").write_text("text\n" + "\n".join(rows) + "\n", encoding="utf-8")
    code, _, _ = run_cli(
        "data", "profile", "plain.csv", "--text-column", "text", "--json", "r.json"
    )
    results = by_id(json.loads(Path("r.json").read_text()))
    assert results["data.class_balance"]["status"] == "skip"  # no labels: nothing to balance
    assert results["data.empty_text"]["status"] == "pass"
    assert code == 0, {k: r["summary"] for k, r in results.items() if r["status"] == "fail"}


def test_init_then_check_on_a_text_manifest(tmp_path):
    rng = np.random.default_rng(4)
    vocabulary = [f"word{k}" for k in range(300)]
    lines = ["body,label"] + [f"{' '.join(rng.choice(vocabulary, 12))},c{i % 2}" for i in range(24)]
    (tmp_path / "texts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, _ = run_cli("init", "texts.csv", "--text-column", "body")
    assert code == 0
    config = Path("dlqa.toml").read_text()
    assert 'text_column = "body"' in config and '"data.mojibake"' in config
    assert '"data.blurry"' not in config
    code, _, _ = run_cli("check", "--json", "r.json")
    document = json.loads(Path("r.json").read_text())
    assert document["meta"]["modality"] == "text"
    assert "data.empty_text" in by_id(document)


def test_modality_option_chooses_which_files_are_samples(tmp_path):
    root = tmp_path / "mixed"
    (root / "a").mkdir(parents=True)
    rng = np.random.default_rng(5)
    for i in range(3):
        sf.write(root / "a" / f"clip{i}.wav", _tone(rng, 300 + 100 * i, 1.0), SAMPLE_RATE)
    for i in range(5):
        (root / "a" / f"note{i}.txt").write_text(f"transcript {i} of a clip", encoding="utf-8")
    code, _, _ = run_cli("data", "profile", str(root), "--modality", "audio", "--json", "r.json")
    document = json.loads(Path("r.json").read_text())
    assert document["meta"]["modality"] == "audio" and document["meta"]["n_samples"] == 3
    assert any("text files" in note for note in document["meta"]["notes"])
    code, out, err = run_cli("data", "profile", str(root), "--modality", "video")
    assert code == 2 and "video" in out + err
