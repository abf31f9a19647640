"""The demo's text part: the corpus, the planted rows and determinism."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from dlqa.data.context import DataProfile
from dlqa.data.probes.text import normalise_text
from dlqa.data.text_minhash import (
    SIGNATURE_BYTES,
    TEXT_NEAR_PARAMS,
    find_text_near_pairs,
    signature_bytes,
)
from dlqa.demo.text_part import (
    MAX_WORDS,
    MIN_WORDS,
    TEXT_CLASSES,
    TEXT_COLUMNS,
    TEXT_PLANTED_PROBLEMS,
    TextPart,
    build_text_part,
    corpus_sentences,
)

COPY_PROBLEMS = ("exact_duplicates", "near_duplicate", "split_leakage")
# Problems of more than one row planted on its own (copies of nothing); any other has one.
OWN_ROWS = {"empty_text": 3, "label_error": 2}


@pytest.fixture(scope="module")
def part(tmp_path_factory: pytest.TempPathFactory) -> TextPart:
    return build_text_part(tmp_path_factory.mktemp("text"), seed=0)


def read_rows(part: TextPart) -> dict[str, dict[str, str]]:
    with part.manifest.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == TEXT_COLUMNS
        return {row["id"]: row for row in reader}


def planted_rows(part: TextPart) -> set[str]:
    """Every row a plant added: the copy of a pair, or each id of any other problem."""
    return {
        row_id
        for problem, ids in part.planted.items()
        for row_id in (ids[:1] if problem in COPY_PROBLEMS else ids)
    }


def test_manifest_holds_balanced_labelled_rows_split_80_20(part: TextPart) -> None:
    rows = read_rows(part)
    ordinary = [row for row_id, row in rows.items() if row_id not in planted_rows(part)]

    assert part.manifest.name == "texts.csv" and part.manifest.parent.name == "text"
    assert Counter(row["label"] for row in ordinary) == {label: 60 for label in TEXT_CLASSES}
    assert Counter(row["split"] for row in ordinary) == {"train": 4 * 48, "test": 4 * 12}
    # blanks, control, mojibake, three copies, two label errors
    assert len(rows) == 4 * 60 + 3 + 1 + 1 + 3 + 2


def test_ordinary_rows_are_clean_distinct_sentences(part: TextPart) -> None:
    rows = read_rows(part)
    originals = {ids[1] for problem, ids in part.planted.items() if problem in COPY_PROBLEMS}
    # The label errors are ordinary sentences too: only their label is wrong.
    clean = (set(rows) - planted_rows(part)) | set(part.planted["label_error"])
    texts = [row["text"] for row_id, row in rows.items() if row_id in clean]

    for text in texts:
        assert text.isprintable() and text == text.strip()
        assert "â€" not in text and "\x1b" not in text
        assert MIN_WORDS <= len(text.split()) <= MAX_WORDS
    assert len({normalise_text(t) for t in texts}) == len(texts)
    assert originals <= set(rows)


def test_corpus_comes_from_the_python_reference() -> None:
    corpus = corpus_sentences()

    assert set(corpus) == set(TEXT_CLASSES)
    assert all(len(sentences) >= 150 for sentences in corpus.values())
    assert any('"if" statement' in s for s in corpus["statements"])


def test_planted_keys_and_ids(part: TextPart) -> None:
    rows = read_rows(part)

    assert tuple(part.planted) == TEXT_PLANTED_PROBLEMS
    for problem, ids in part.planted.items():
        assert set(ids) <= set(rows), problem
        assert len(ids) == (2 if problem in COPY_PROBLEMS else OWN_ROWS.get(problem, 1)), problem
    # Planted rows are spread through the file, not appended at its end.
    order = list(rows)
    assert min(order.index(i) for i in planted_rows(part)) < len(order) // 2


def test_empty_rows_are_empty_or_whitespace(part: TextPart) -> None:
    rows = read_rows(part)
    texts = [rows[i]["text"] for i in part.planted["empty_text"]]

    assert texts.count("") == 2
    assert sum(1 for t in texts if t and not t.strip()) == 1
    # The two empty rows share label and split: equal empty texts would otherwise also read
    # as a label conflict or a leak (see text_part.py).
    first, second = (rows[i] for i in part.planted["empty_text"][:2])
    assert (first["label"], first["split"]) == (second["label"], second["split"])


def test_control_characters_row_holds_terminal_escapes(part: TextPart) -> None:
    (row_id,) = part.planted["control_characters"]
    text = read_rows(part)[row_id]["text"]

    assert "\x1b[1m" in text and "\x1b[0m" in text
    assert text.replace("\x1b[1m", "").replace("\x1b[0m", "").isprintable()


def test_mojibake_row_is_utf8_read_as_windows_1252(part: TextPart) -> None:
    (row_id,) = part.planted["mojibake"]
    text = read_rows(part)[row_id]["text"]
    repaired = text.encode("cp1252").decode("utf-8")

    assert "â€" in text or "Ã" in text
    assert repaired != text and not repaired.isascii()


def test_exact_duplicate_is_equal_after_normalisation(part: TextPart) -> None:
    rows = read_rows(part)
    copy, original = part.planted["exact_duplicates"]

    assert rows[copy]["text"] != rows[original]["text"]
    assert normalise_text(rows[copy]["text"]) == normalise_text(rows[original]["text"])
    assert rows[copy]["label"] == rows[original]["label"]


def test_near_duplicate_changes_two_words(part: TextPart) -> None:
    rows = read_rows(part)
    copy, original = (rows[i] for i in part.planted["near_duplicate"])
    copy_words, original_words = copy["text"].split(), original["text"].split()

    assert len(copy_words) == len(original_words) >= 24
    assert sum(a != b for a, b in zip(copy_words, original_words, strict=True)) == 2
    assert (copy["label"], copy["split"]) == (original["label"], original["split"])


def test_leak_is_a_train_row_copied_into_test(part: TextPart) -> None:
    rows = read_rows(part)
    copy, original = (rows[i] for i in part.planted["split_leakage"])

    assert copy["text"] == original["text"] and copy["label"] == original["label"]
    assert (copy["split"], original["split"]) == ("test", "train")


def test_label_errors_swap_a_statements_and_a_builtin_types_sentence(part: TextPart) -> None:
    rows = read_rows(part)
    corpus = corpus_sentences()
    about_statements, about_builtin_types = (rows[i] for i in part.planted["label_error"])

    assert about_statements["text"] in corpus["statements"]
    assert about_statements["text"] not in corpus["builtin_types"]
    assert "statement" in about_statements["text"].lower()
    assert (about_statements["label"], about_statements["split"]) == ("builtin_types", "train")
    assert about_builtin_types["text"] in corpus["builtin_types"]
    assert about_builtin_types["text"] not in corpus["statements"]
    assert "dictionar" in about_builtin_types["text"].lower()
    assert (about_builtin_types["label"], about_builtin_types["split"]) == ("statements", "train")


def test_label_errors_copy_no_row(part: TextPart) -> None:
    rows = read_rows(part)
    normalised = [normalise_text(row["text"]) for row in rows.values()]

    for row_id in part.planted["label_error"]:
        assert normalised.count(normalise_text(rows[row_id]["text"])) == 1, row_id
    # Nor near any row: see test_only_the_planted_copies_are_near_duplicates.


def test_only_the_planted_copies_are_near_duplicates(part: TextPart) -> None:
    rows = read_rows(part)
    ids = list(rows)
    signatures = signature_bytes([normalise_text(rows[i]["text"]) for i in ids])
    table = pa.table(
        {
            "minhash": pa.array(signatures, pa.binary(SIGNATURE_BYTES)),
            "error": pa.nulls(len(ids), pa.string()),
        }
    )
    params = {name: param.default for name, param in TEXT_NEAR_PARAMS.items()}
    pairs, _ = find_text_near_pairs(DataProfile(table), params)
    found = {tuple(sorted((ids[a], ids[b]))) for a, b in pairs.tolist()}

    assert found == {tuple(sorted(part.planted[p])) for p in COPY_PROBLEMS}


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    first = build_text_part(tmp_path / "a", seed=3, n_per_class=10)
    second = build_text_part(tmp_path / "b", seed=3, n_per_class=10)
    other = build_text_part(tmp_path / "c", seed=4, n_per_class=10)

    assert first.planted == second.planted
    assert first.manifest.read_bytes() == second.manifest.read_bytes()
    assert first.manifest.read_bytes() != other.manifest.read_bytes()
