"""MinHash of word bigrams and the LSH search for near-duplicate texts."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from dlqa.data.chunk_probe import probe_chunk
from dlqa.data.context import DataProfile
from dlqa.data.probes.text import normalise_text
from dlqa.data.text_minhash import (
    NUM_PERM,
    TEXT_NEAR_PARAMS,
    band_rows,
    candidate_pairs,
    find_text_near_pairs,
    minhash_signatures,
)
from dlqa.sources.base import Sample

PARAGRAPH = (
    "The committee met on a cold morning in early spring to review the proposals that had "
    "arrived over the winter, and after a long discussion about budgets, staffing and the "
    "needs of the smaller villages it agreed to fund the new library before the bridge"
)
OTHER = (
    "Rivers carry sediment from the mountains to the sea, building deltas where the current "
    "slows; over thousands of years these plains become fertile farmland that feeds cities "
    "and draws settlers who rarely think about the water that made their fields"
)
DEFAULTS = {name: param.default for name, param in TEXT_NEAR_PARAMS.items()}


def bigrams(text: str) -> set[tuple[str, ...]]:
    words = normalise_text(text).split()
    if len(words) < 2:
        return {tuple(words)}
    return set(zip(words, words[1:], strict=False))


def true_jaccard(a: str, b: str) -> float:
    x, y = bigrams(a), bigrams(b)
    return len(x & y) / len(x | y)


def estimate(a: str, b: str) -> float:
    signatures, known = minhash_signatures([normalise_text(a), normalise_text(b)])
    assert known.all()
    return float((signatures[0] == signatures[1]).mean())


def text_profile(texts: list[str]) -> DataProfile:
    samples = [Sample(sample_id=f"t{k}", index=k, text=t) for k, t in enumerate(texts)]
    return DataProfile(pa.Table.from_batches([probe_chunk((samples, [], "text"))]))


def test_the_estimate_is_close_to_the_true_jaccard() -> None:
    rng = random.Random(0)
    vocabulary = (PARAGRAPH + " " + OTHER).split()
    errors = []
    for changed in range(0, 40, 2):
        base = [rng.choice(vocabulary) + str(rng.randrange(50)) for _ in range(80)]
        variant = list(base)
        for position in rng.sample(range(80), changed):
            variant[position] = "new" + str(position)
        a, b = " ".join(base), " ".join(variant)
        errors.append(estimate(a, b) - true_jaccard(a, b))
    errors = np.array(errors)
    # 64 permutations: a standard deviation of at most 0.0625; 4 of them is a bug.
    assert np.abs(errors).max() < 0.25
    assert abs(errors.mean()) < 0.05


def test_identical_texts_have_identical_signatures_whatever_else_is_in_the_chunk() -> None:
    first, _ = minhash_signatures(["alpha beta gamma", "delta epsilon"])
    second, _ = minhash_signatures(["zeta eta theta iota", "one", "alpha beta gamma"])
    assert first.shape == (2, NUM_PERM) and first.dtype == np.uint16
    np.testing.assert_array_equal(first[0], second[2])
    assert not np.array_equal(first[0], first[1])


def test_signatures_are_stable_across_runs_and_versions() -> None:
    # Fixed constants (splitmix64 in pure Python): a profile's signatures can be compared
    # with an older snapshot's. Changing the hashing must change this on purpose.
    signatures, _ = minhash_signatures(["hello world"])
    assert signatures[0, :4].tolist() == GOLDEN_HELLO_WORLD


GOLDEN_HELLO_WORLD = [61584, 14871, 28297, 28541]


def test_texts_without_words_have_no_signature() -> None:
    _, known = minhash_signatures(["", "word", "two words"])
    assert known.tolist() == [False, True, True]
    signatures, known = minhash_signatures([])
    assert signatures.shape == (0, NUM_PERM) and not known.size


def test_a_long_text_spans_several_hashing_blocks() -> None:
    long_text = " ".join(f"w{k}" for k in range(20_000))
    alone, _ = minhash_signatures([long_text])
    together, _ = minhash_signatures(["short text", long_text, "another one"])
    np.testing.assert_array_equal(alone[0], together[1])


def test_lsh_finds_a_one_word_edit_and_not_a_different_paragraph() -> None:
    edited = PARAGRAPH.replace("library", "museum")
    assert len(PARAGRAPH.split()) == 45  # a paragraph of some 40 words
    profile = text_profile([PARAGRAPH, OTHER, edited, "short unrelated note"])
    pairs, distances = find_text_near_pairs(profile, DEFAULTS)
    assert pairs.tolist() == [[0, 2]]
    assert 0.0 < distances[0] < 1 - DEFAULTS["text_min_similarity"]
    assert true_jaccard(PARAGRAPH, edited) == pytest.approx(42 / 46)  # 2 bigrams of 44 changed


def test_the_threshold_decides_and_the_candidates_are_cached() -> None:
    edits = PARAGRAPH.replace("library", "museum").replace("winter", "summer")
    profile = text_profile([PARAGRAPH, edits])
    similarity = 1 - find_text_near_pairs(profile, DEFAULTS)[1][0]
    loose = find_text_near_pairs(profile, {"text_min_similarity": similarity})
    strict = find_text_near_pairs(profile, {"text_min_similarity": similarity + 0.02})
    assert len(loose[0]) == 1 and len(strict[0]) == 0
    keys = [key for key in profile._cache if key[0] == "text_near_candidates"]
    assert len(keys) <= 2  # one per band layout, not one per call


def test_empty_and_broken_texts_are_never_paired() -> None:
    samples = [
        Sample(sample_id="a", index=0, text=""),
        Sample(sample_id="b", index=1, text=""),
        Sample(sample_id="c", index=2, text=3.5),  # type: ignore[arg-type]
        Sample(sample_id="d", index=3, text=PARAGRAPH),
    ]
    profile = DataProfile(pa.Table.from_batches([probe_chunk((samples, [], "text"))]))
    pairs, _ = find_text_near_pairs(profile, DEFAULTS)
    assert len(pairs) == 0


@pytest.mark.parametrize("threshold", [0.2, 0.3, 0.5, 0.6, 0.8, 0.95, 1.0])
def test_bands_keep_a_pair_at_the_threshold_a_candidate(threshold: float) -> None:
    rows = band_rows(threshold)
    bands = NUM_PERM // rows
    assert 1 - (1 - threshold**rows) ** bands >= 0.98


def test_a_huge_bucket_pairs_with_its_first_member_only() -> None:
    signatures = np.zeros((300, NUM_PERM), dtype=np.uint16)
    signatures[:, 0] = np.arange(300)  # distinct on one permutation, equal on all others
    pairs = candidate_pairs(signatures, band_rows(0.6))
    assert len(pairs) == 299  # a star, not 44,850 pairs
    assert set(pairs[:, 0].tolist()) == {0}
    assert (pairs[:, 0] < pairs[:, 1]).all()


def test_small_buckets_pair_every_member() -> None:
    signatures = np.random.default_rng(1).integers(0, 65536, (10, NUM_PERM), dtype=np.uint16)
    signatures[[2, 5, 7]] = signatures[2]
    assert candidate_pairs(signatures, band_rows(0.6)).tolist() == [[2, 5], [2, 7], [5, 7]]
