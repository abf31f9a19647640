"""Near-duplicate texts: MinHash signatures of word bigrams, LSH banding for candidates, the
signatures' agreement (the estimated Jaccard similarity) to confirm them.

A worker computes the signatures of a whole chunk of normalised texts at once in numpy
(``minhash_signatures``); the check stage bands them (never n x n) and keeps the candidate
pairs whose estimated similarity reaches ``text_min_similarity``. The candidates of one band
layout are cached on the profile: the near-duplicate, conflicting-label and leakage checks
share them.

Choices, measured on 125,156 distinct paragraphs (8-120 words, median 20) of the docs this
machine ships (/usr/share/doc, /usr/share/common-licenses, the docstrings of Python's standard
library), with planted edits (a word substituted, inserted or deleted at random):

- Shingles are word bigrams of the normalised text. Against word trigrams and character
  5-grams, at thresholds where flagged natural pairs differ alike (about 3 in 4 pairs at the
  threshold differ in at most a quarter of their words: trigrams at 0.5, bigrams at 0.6,
  5-grams at 0.7), bigrams keep more of the planted edits of short texts (one edit in 8-15
  words: 10th percentile of the similarity 0.62 against 0.44 for trigrams), and cost the same
  (character 5-grams cost 3x: 70 against 21 us a text).
- ``text_min_similarity`` defaults to 0.6. Planted edits against it (median similarity, 10th
  percentile): one edit in 8-15 words 0.77 / 0.62, in 16-30 words 0.88 / 0.78; two edits in
  16-30 words 0.77 / 0.64; three edits in 31-60 words 0.81 / 0.70; three edits in 8-15 words
  (0.48) are not near-duplicates any more. Natural pairs just above it (0.6 to 0.7) differ
  in a median 18 % of their words (90th percentile 33 %, 1 % differ in more than half): they
  are template variants ("This function is also available under the `readUintLE` alias."
  against "... `writeUint32LE` alias.").
- 64 permutations: the estimate is unbiased (mean error -0.002 against the true Jaccard) with
  a standard deviation of 0.06 at a similarity of 0.5, so a pair at the threshold is a coin
  toss either way. Each minimum keeps its low 16 bits (b-bit MinHash: unrelated texts agree
  by chance on 1 in 65,536), so a signature is 128 bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from dlqa.core.params import Param
from dlqa.data.context import DataProfile, fixed_binary_rows, release_arrow_memory
from dlqa.data.hash_index import pairs_within_runs

NUM_PERM = 64
SIGNATURE_BYTES = 2 * NUM_PERM  # one uint16 (the low bits of the minimum) per permutation
SHINGLE_WORDS = 2
DEFAULT_MIN_SIMILARITY = 0.6
# The smallest threshold the banding supports: below it a candidate needs one agreeing
# minimum, and every pair of texts that shares a common word bigram becomes one.
MIN_SUPPORTED_SIMILARITY = 0.2
# LSH bands: as many rows per band as keep a pair at the threshold a candidate with at least
# this probability (more rows, fewer chance candidates).
_BAND_RECALL = 0.98
# A bucket with more members than this (boilerplate shared by thousands of texts) pairs each
# with its first member only: its cliques would be millions of candidates.
_MAX_BUCKET = 64
_SHINGLES_PER_BLOCK = 2048  # rows of the (shingles x permutations) block hashed at a time
_PAIRS_PER_BLOCK = 1 << 18  # candidate pairs compared at a time

TEXT_NEAR_PARAMS: dict[str, Param] = {
    "text_min_similarity": Param(
        DEFAULT_MIN_SIMILARITY,
        doc=(
            "texts: smallest estimated Jaccard similarity of the two texts' word bigrams "
            "(normalised: NFKC, case, punctuation, whitespace; MinHash of 64 permutations, "
            "+-0.06) that makes them near-duplicates; 0.2 to 1 (0.6: one word replaced in ten, "
            "six in fifty)"
        ),
        ge=MIN_SUPPORTED_SIMILARITY,
        le=1.0,
    ),
}


def _constants(count: int, seed: int) -> np.ndarray:
    """``count`` odd 64-bit constants from splitmix64 in pure Python: the same in every
    process, numpy version and run, so signatures of two profiles can be compared."""
    out, state = [], seed
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        out.append((z ^ (z >> 31)) | 1)
    return np.array(out, dtype=np.uint64)


_PERM_MULTIPLIERS = _constants(NUM_PERM, 1)
_PERM_OFFSETS = _constants(NUM_PERM, 2)
_CHAR_WEIGHTS = _constants(256, 3)  # a word's hash: sum of code point x weight of its offset
_WORD_WEIGHTS = _constants(SHINGLE_WORDS, 4)  # a shingle's: sum of word hash x its weight
_SPACE = 32


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place: linear sums become well spread 64-bit hashes."""
    values ^= values >> np.uint64(30)
    values *= np.uint64(0xBF58476D1CE4E5B9)
    values ^= values >> np.uint64(27)
    values *= np.uint64(0x94D049BB133111EB)
    values ^= values >> np.uint64(31)
    return values


def _word_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The hash of every word (a run of characters other than " ") of the texts, in order,
    and the text each belongs to: all texts as one array of code points, no Python loop."""
    lengths = np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer(" ".join(texts).encode("utf-32-le"), dtype=np.uint32)
    in_word = codes != _SPACE
    starts = in_word.copy()
    starts[1:] &= ~in_word[:-1]
    start_positions = np.flatnonzero(starts)
    if not start_positions.size:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    chars = np.flatnonzero(in_word)
    word_of_char = np.cumsum(starts[chars]) - 1
    offsets = chars - start_positions[word_of_char]
    weighted = codes[chars].astype(np.uint64) * _CHAR_WEIGHTS[offsets % _CHAR_WEIGHTS.size]
    hashes = np.add.reduceat(weighted, np.flatnonzero(starts[chars]))
    text_ends = np.cumsum(lengths + 1)  # each text's end, plus the joining space
    return _mix(hashes), np.searchsorted(text_ends, start_positions, side="right")


def _shingle_hashes(words: np.ndarray, texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of each text's word n-grams (``SHINGLE_WORDS``), and their texts, in order; a
    text with fewer words has one shingle of all of them."""
    n = len(words)
    size = SHINGLE_WORDS
    sums = words * _WORD_WEIGHTS[0]
    for k in range(1, size):
        same_text = texts[k:] == texts[: n - k]
        sums[: n - k] += np.where(same_text, words[k:] * _WORD_WEIGHTS[k], np.uint64(0))
    full = np.zeros(n, dtype=bool)
    full[: n - size + 1] = texts[size - 1 :] == texts[: n - size + 1]
    first = np.ones(n, dtype=bool)
    first[1:] = texts[1:] != texts[:-1]
    counts = np.bincount(texts)
    keep = full | (first & (counts[texts] < size))
    return _mix(sums[keep]), texts[keep]


def minhash_signatures(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures of normalised texts (words separated by spaces): a (len(texts),
    NUM_PERM) uint16 array, and which texts have one (a text without a word has none)."""
    minima = np.full((len(texts), NUM_PERM), np.iinfo(np.uint64).max, dtype=np.uint64)
    has_words = np.zeros(len(texts), dtype=bool)
    words, owners = _word_hashes(texts)
    if words.size:
        shingles, owners = _shingle_hashes(words, owners)
        has_words[owners] = True
        # One buffer, a block of shingles at a time: a fresh (shingles x 64) array per chunk
        # is megabytes of page faults, and this size stays in cache (measured: 6 us a text
        # against 20 for the whole chunk at once).
        hashed = np.empty((min(shingles.size, _SHINGLES_PER_BLOCK), NUM_PERM), dtype=np.uint64)
        for low in range(0, shingles.size, _SHINGLES_PER_BLOCK):
            block = shingles[low : low + _SHINGLES_PER_BLOCK]
            out = hashed[: block.size]
            # Multiply-shift hashing: permutation k of a shingle is the top bits of
            # a_k * x + b_k, a 2-universal family on the (already mixed) shingle hashes.
            np.multiply(block[:, None], _PERM_MULTIPLIERS, out=out)
            out += _PERM_OFFSETS
            block_owners = owners[low : low + _SHINGLES_PER_BLOCK]
            firsts = np.flatnonzero(np.r_[True, block_owners[1:] != block_owners[:-1]])
            rows = block_owners[firsts]
            minima[rows] = np.minimum(minima[rows], np.minimum.reduceat(out, firsts, axis=0))
    # The top 32 bits of the minimum are the minimum of the top 32 bits; of those, the low 16.
    return ((minima >> np.uint64(32)) & np.uint64(0xFFFF)).astype(np.uint16), has_words


def signature_bytes(texts: Sequence[str]) -> list[bytes | None]:
    """Each text's signature as the ``minhash`` column stores it (little-endian uint16s)."""
    signatures, known = minhash_signatures(texts)
    blob = signatures.astype("<u2", copy=False).tobytes()
    return [
        blob[k * SIGNATURE_BYTES : (k + 1) * SIGNATURE_BYTES] if known[k] else None
        for k in range(len(texts))
    ]


# ------------------------------------------------------------------ LSH


def band_rows(min_similarity: float) -> int:
    """Rows per LSH band for a threshold: the most that still make a pair at the threshold a
    candidate with probability ``_BAND_RECALL`` (NUM_PERM // rows bands)."""
    best = 1
    for rows in range(1, 9):
        bands = NUM_PERM // rows
        if 1.0 - (1.0 - min_similarity**rows) ** bands >= _BAND_RECALL:
            best = rows
    return best


def _band_keys(signatures: np.ndarray, rows: int) -> Iterator[np.ndarray]:
    """One uint64 key per signature for each band: its ``rows`` values packed (up to four
    exactly, more through a mix)."""
    for band in range(NUM_PERM // rows):
        key = np.zeros(len(signatures), dtype=np.uint64)
        for k in range(rows):
            if k and k % 4 == 0:
                key = _mix(key)
            column = signatures[:, band * rows + k].astype(np.uint64)
            key ^= column << np.uint64(16 * (k % 4))
        yield key


def _bucket_pairs(key: np.ndarray) -> np.ndarray:
    """Pairs (i < j) of rows with equal keys: every pair in a bucket of up to _MAX_BUCKET
    members, each member with the first one in a larger bucket."""
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    same_as_next = ordered[1:] == ordered[:-1]
    if not same_as_next.any():
        return np.zeros((0, 2), dtype=np.int64)
    run_start = np.flatnonzero(np.r_[True, ~same_as_next])
    run_size = np.diff(np.r_[run_start, len(key)])
    run_of = np.repeat(np.arange(run_start.size), run_size)
    big = run_size[run_of] > _MAX_BUCKET
    pieces = [
        np.stack([order[p], order[q]], axis=1)
        for p, q in pairs_within_runs(same_as_next & ~big[:-1])
    ]
    stars = np.flatnonzero(big & (np.arange(len(key)) != run_start[run_of]))
    pieces.append(np.stack([order[run_start[run_of[stars]]], order[stars]], axis=1))
    pairs = np.concatenate(pieces).astype(np.int64, copy=False)
    return np.sort(pairs, axis=1)


def candidate_pairs(signatures: np.ndarray, rows: int) -> np.ndarray:
    """Distinct pairs (i < j) of signatures that agree on every row of some band."""
    n = len(signatures)
    keyed = [
        pairs[:, 0] * np.int64(n) + pairs[:, 1]
        for pairs in map(_bucket_pairs, _band_keys(signatures, rows))
    ]
    unique = np.unique(np.concatenate(keyed)) if keyed else np.zeros(0, np.int64)
    return np.stack([unique // n, unique % n], axis=1)


def estimated_similarity(signatures: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """The share of permutations on which each pair's signatures agree: their estimated
    Jaccard similarity."""
    similarity = np.empty(len(pairs))
    for low in range(0, len(pairs), _PAIRS_PER_BLOCK):
        block = pairs[low : low + _PAIRS_PER_BLOCK]
        agree = signatures[block[:, 0]] == signatures[block[:, 1]]
        similarity[low : low + len(block)] = agree.mean(axis=1)
    return similarity


def find_text_near_pairs(
    profile: DataProfile, params: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of decoded texts whose estimated similarity reaches
    ``text_min_similarity``, with their distances, 1 - the estimated similarity."""
    threshold = float(params["text_min_similarity"])
    rows = band_rows(threshold)
    pairs, similarity = profile.cached(
        ("text_near_candidates", rows), lambda: _near_candidates(profile, rows)
    )
    keep = similarity >= threshold - 1e-9  # agreement counts are k / 64: no rounding misses
    return pairs[keep], 1.0 - similarity[keep]


def _near_candidates(profile: DataProfile, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs of the profile's decoded texts for a band layout, and their estimated
    similarities."""
    if not profile.has_column("minhash"):
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    raw, known = fixed_binary_rows(profile.column("minhash"))
    release_arrow_memory()
    members = np.flatnonzero(known & profile.decoded)
    signatures = raw.view("<u2")
    if len(members) < len(signatures):  # a copy only when some rows are left out
        signatures = signatures[members]
    del raw
    local = candidate_pairs(signatures, rows)
    similarity = estimated_similarity(signatures, local)
    return members[local].astype(np.int64).reshape(-1, 2), similarity
