"""Text checks: empty texts, control characters, mojibake and undecodable bytes, extreme
lengths; and the duplicate checks on a text profile."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest

from dlqa.core.registry import get_spec
from dlqa.core.results import Status
from dlqa.data.chunk_probe import probe_chunk
from dlqa.data.context import DataProfile
from dlqa.sources.base import Sample

WORDS = [
    "river",
    "stone",
    "cloud",
    "paper",
    "lamp",
    "garden",
    "window",
    "morning",
    "letter",
    "market",
    "station",
    "bridge",
    "winter",
    "orange",
    "violin",
    "harbour",
    "forest",
    "candle",
    "mirror",
    "engine",
    "valley",
    "pocket",
    "ladder",
]


def prose(seed: int, words: int = 25) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randrange(1000)) for _ in range(words))


def text_profile(texts: list[str | bytes], labels: list[str] | None = None) -> DataProfile:
    samples = [
        Sample(sample_id=f"t{k}", index=k, text=t, label=None if labels is None else labels[k])
        for k, t in enumerate(texts)
    ]
    return DataProfile(pa.Table.from_batches([probe_chunk((samples, [], "text"))]))


def run(check_id: str, profile: DataProfile, **overrides):
    spec = get_spec(check_id)
    return spec.func(profile, spec.resolve_params(overrides))


def items(result) -> list[dict]:
    return [item for evidence in result.evidence for item in evidence.items]


def ids(result) -> list[str]:
    return [item["id"] for item in items(result)]


@pytest.mark.parametrize(
    "check_id",
    ["data.empty_text", "data.control_characters", "data.mojibake", "data.extreme_length"],
)
def test_text_checks_apply_to_text_only(check_id: str) -> None:
    spec = get_spec(check_id)
    assert spec.applies_to("text") and not spec.applies_to("image")
    assert all(spec.param_docs.get(name) for name in spec.defaults if name != "level")


def test_empty_text_flags_empty_and_whitespace_only_texts_with_their_text() -> None:
    profile = text_profile(["fine text", "", "   \n", "\u200b", "more text"])
    result = run("data.empty_text", profile)
    assert result.status is Status.FAIL
    assert ids(result) == ["t1", "t2", "t3"]
    first, second, _ = items(result)
    assert first["reason"] == "empty" and first["text"] == ""
    assert "whitespace" in second["reason"] and second["text"] == "   \n"


def test_empty_text_passes_clean_data() -> None:
    result = run("data.empty_text", text_profile(["a", "b"]))
    assert result.status is Status.PASS and result.evidence == []


def test_control_characters_ranked_with_the_text_around_the_first() -> None:
    padding = "x" * 100
    profile = text_profile(
        ["clean text", padding + "\x00 nul here", "two \x07\x07 bells", "zero\u200bwidth"]
    )
    result = run("data.control_characters", profile)
    assert result.status is Status.WARN  # a warning by default
    assert ids(result) == ["t2", "t1", "t3"]  # most first
    nul = items(result)[1]
    assert nul["reason"].endswith("the first at character 100")
    assert nul["text"].startswith("x" * 40 + "\x00")  # from a little before it
    without = run("data.control_characters", profile, min_invisible=1000)
    assert ids(without) == ["t2", "t1"]
    assert ids(run("data.control_characters", profile, min_control=2)) == ["t2", "t3"]


def test_mojibake_flags_misread_text_and_not_real_accents() -> None:
    misread = "Les élèves sont arrivés".encode().decode("cp1252")
    profile = text_profile(
        ["café crème", "São Paulo", "Привет мир", misread, "cafÃ©", "lossy \ufffd text"]
    )
    result = run("data.mojibake", profile)
    assert result.status is Status.FAIL
    assert ids(result) == ["t3", "t4", "t5"]
    reasons = {item["id"]: item["reason"] for item in items(result)}
    assert "Ã© -> é" in reasons["t4"] and "100%" in reasons["t4"]
    assert "U+FFFD" in reasons["t5"]
    assert items(result)[0]["text"] == misread
    assert result.details["mojibake"] == 2 and result.details["replacement_chars"] == 1
    assert ids(run("data.mojibake", profile, min_replacement_chars=2)) == ["t3", "t4"]


def test_mojibake_reports_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("naïve café".encode("cp1252"))
    batch = probe_chunk(([Sample(sample_id="latin.txt", index=0, path=str(path))], [], "text"))
    result = run("data.mojibake", DataProfile(pa.Table.from_batches([batch])))
    [item] = items(result)
    assert item["reason"].startswith("2 bytes are not valid UTF-8 (the bytes look like cp1252")
    assert result.details["invalid_utf8"] == 1 and result.details["replacement_chars"] == 0


def test_extreme_length_is_relative_to_the_dataset() -> None:
    rng = random.Random(3)
    tweets = [prose(k, rng.randint(8, 20)) for k in range(60)]
    result = run("data.extreme_length", text_profile([*tweets, prose(99, 3000), "ok"]))
    assert ids(result) == ["t60", "t61"] or ids(result) == ["t61", "t60"]
    reasons = " ".join(item["reason"] for item in items(result))
    assert "the dataset's median" in reasons
    # The same long text among essays is not extreme.
    essays = [prose(k, rng.randint(1500, 4000)) for k in range(60)]
    assert ids(run("data.extreme_length", text_profile([*essays, prose(99, 3000)]))) == []


def test_extreme_length_needs_enough_texts_and_ignores_empty_ones() -> None:
    few = text_profile([prose(1), prose(2), prose(3, 2000)])
    assert run("data.extreme_length", few).status is Status.PASS
    texts = [prose(k) for k in range(40)] + ["", "  "]
    assert ids(run("data.extreme_length", text_profile(texts))) == []


def test_exact_duplicates_are_equal_after_normalisation() -> None:
    base = prose(1)
    profile = text_profile([base, base.upper() + "!!", "  " + base.replace(" ", "  "), prose(2)])
    result = run("data.exact_duplicates", profile)
    assert result.details["redundant_copies"] == 2
    assert items(result)[0]["ids"] == ["t0", "t1", "t2"]


def test_near_duplicates_and_conflicting_labels_on_texts() -> None:
    base = prose(7, 40)
    words = base.split()
    words[20] = "changed"
    profile = text_profile([base, " ".join(words), prose(8, 40)], labels=["pos", "neg", "pos"])
    near = run("data.near_duplicates", profile)
    assert [item["ids"] for item in items(near)] == [["t0", "t1"]]
    assert near.details["text_min_similarity"] == 0.6
    assert "Jaccard" in near.details["distance"]
    conflicts = run("data.conflicting_labels", profile)
    assert [item["labels"] for item in items(conflicts)] == [["pos", "neg"]]
    strict = run("data.near_duplicates", profile, text_min_similarity=1.0)
    assert items(strict) == []


def test_empty_texts_are_neither_duplicates_nor_outliers_of_each_other() -> None:
    texts = ["", "  ", ""] + [
        f"an ordinary sentence number {i} about the weather" for i in range(30)
    ]
    samples = [Sample(sample_id=str(i), index=i, text=t, label="x") for i, t in enumerate(texts)]
    profile = DataProfile(pa.Table.from_batches([probe_chunk((samples, [], "text"))]))
    exact = get_spec("data.exact_duplicates")
    assert exact.func(profile, exact.resolve_params()).details["groups"] == 0
    outliers = get_spec("data.property_outliers")
    flagged = outliers.func(profile, outliers.resolve_params()).flagged_ids()
    assert not flagged & {"0", "1", "2"}


def test_only_the_first_thousand_evidence_items_carry_a_snippet() -> None:
    samples = [Sample(sample_id=str(i), index=i, text="") for i in range(1_200)]
    profile = DataProfile(pa.Table.from_batches([probe_chunk((samples, [], "text"))]))
    spec = get_spec("data.empty_text")
    items = spec.func(profile, spec.resolve_params()).evidence[0].items
    assert len(items) == 1_200
    assert items[0]["text"] == "" and items[999]["text"] == ""
    assert "text" not in items[1_000]
