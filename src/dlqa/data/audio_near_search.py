"""The near-duplicate search over the audio fingerprints of :mod:`dlqa.data.audio_fingerprint`.

This module holds the search's parameters (``AUDIO_NEAR_PARAMS``, their defaults) and
:func:`find_audio_near_pairs`, which does not compare every pair: a bit-subset index, offset
voting, and verification of the candidates (:func:`verify`, :func:`peak_agreement`).

Near-duplicates (:func:`find_audio_near_pairs`) are found without comparing every pair:
random subsets of a key's bits index the frames (locality-sensitive hashing by bit
sampling), frames of two clips that share a subset vote for the time offset between the
clips, and a pair with at least two votes at one offset (+-1 frame) is verified on every
frame the two clips share at that offset, over at least half the shorter clip. Its
similarity is the lower of two agreements: the fraction of key bits that agree (0.5 for
unrelated clips, 1 for identical ones), and, on the frames where both clips have strong
peaks, the fraction of strong peaks that the other clip has too, within 3/8 semitone (1 for
a copy; 0 for notes a semitone apart; with ``PEAK_PRIOR`` peaks counted as agreeing, so
that clips with few peaks, noise, are judged by their keys).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from dlqa.core.params import Param
from dlqa.data.audio_fingerprint import (
    _FORMAT_TAG,
    _PEAK_CODE,
    _STRONG_BITS,
    HOP_SECONDS,
    KEY_BITS,
    MAX_SECONDS,
    PEAK_TOLERANCE,
    PEAKS,
    SILENT,
    STEADY,
    STRONG_SLOTS,
)
from dlqa.data.context import DataProfile, release_arrow_memory

PEAK_PRIOR = 8  # strong peaks counted as agreeing: a few peaks alone do not decide a pair

# Default similarity, measured with `benchmarks/audio_profile.py --threshold` (160 clips of
# tones, sweeps, noise bursts and speech-like syllables, and 80 look-alikes: 1 s notes under
# one Hann envelope on consecutive semitones, sines and harmonic, and syllables at one rhythm
# one and two semitones apart; at 16 and 44.1 kHz; 9 copies of each):
#   copies of speech-like clips and noise bursts (gain 0.3x; white noise at 30 / 20 dB SNR;
#   0.1-0.5 s of silence prepended / trimmed; 44.1 <-> 16 kHz; all at once; MP3 / Ogg):
#   lowest similarity 1.00 / 0.87 / 0.78 / 0.88 / 0.88 / 0.96 / 0.83 / 0.85 / 0.85, every
#   copy found at 0.75 (the peaks lower none by more than 0.015: resampled); of the rhythm
#   syllables the same but for 3 of 40 noised at 20 dB (0.73: their keys);
#   different clips: at most 0.69 speech/speech (the keys alone: 0.77, 2 pairs above 0.75),
#   0.63 rhythm/rhythm (the keys alone: 0.95, 4,410 pairs), 0.54 note/note (the keys alone:
#   0.99, 275 pairs), 0.55 noise/noise, 0.66 across kinds but one: 0.77 rhythm/speech (2 of
#   2,878,800 pairs above 0.75: a syllable that two generators happened to make alike, with
#   too few strong peaks where both have them to tell: 4 of 7 agree). Pairs of different
#   sweeps reach 0.825 (80 pairs; the keys alone: 0.90, 237): a linear sweep is tangent to a
#   logarithmic one at one frequency, and over a short clip the two are the same sound.
#   Steady tones, slow sweeps and most of a Hann note have no keys (of the notes' copies at
#   most 55 % are found, as before the peaks).
# 0.75 keeps every measured copy and all but those look-alikes.
DEFAULT_MIN_SIMILARITY = 0.75
_LEAST_SIMILARITY = 0.5  # what unrelated clips score: the smallest audio_min_similarity
# Two clips must have keys in common on at least half the frames with sound of the shorter
# one: a trimmed or padded copy shares all of it, while a single syllable that happens to look
# alike in two different words shares a quarter (measured: the chance pairs of different
# clips that scored above 0.75 overlapped on 16-24 frames of 76), and two steady tones share
# only the few keyed frames of their fades.
DEFAULT_MIN_OVERLAP = 0.5
MIN_SHARED_FRAMES = 16  # and never fewer than 16 frames (0.26 s, 960 bits) however short

AUDIO_NEAR_PARAMS: dict[str, Param] = {
    "audio_min_similarity": Param(
        DEFAULT_MIN_SIMILARITY,
        doc=(
            "audio: smallest similarity of two clips at their best alignment for a "
            "near-duplicate: the lower of the share of fingerprint bits that agree and the "
            "share of strong spectral peaks they share (0.5: unrelated clips; 1: identical)"
        ),
        ge=_LEAST_SIMILARITY,
        le=1.0,
    ),
    "audio_min_overlap": Param(
        DEFAULT_MIN_OVERLAP,
        doc=(
            "audio: smallest share of the shorter clip's frames with sound on which both "
            "clips have fingerprint keys at their best alignment (1: all of them)"
        ),
        ge=0.05,
        le=1.0,
    ),
}

_TABLES = 4  # bit-sampling hash tables
# Bits per table: enough that chance collisions stay about one frame in four (2 more than
# log2 of the frames indexed), and at least 20, which still gives the hardest copies of the
# threshold measurement (trimmed, resampled, halved, noised at 25 dB) 5 or more votes.
_MIN_WIDTH, _EXTRA_BITS = 20, 2
_MIN_VOTES = 2  # frame matches at one offset (+-1) that make a pair a candidate
_GROUP_CAP = 32  # a key shared by more frames than this is too common to tell clips apart
_MAX_ENTRIES = 20_000_000  # frames indexed per table; above, a key-chosen 1/k of them
_MAX_OFFSET = math.ceil(MAX_SECONDS / HOP_SECONDS) + 2
_VERIFY_BATCH = 1_000_000  # frame comparisons at a time while verifying


def find_audio_near_pairs(
    profile: DataProfile, params: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of decoded clips whose fingerprints agree on at least
    ``audio_min_similarity`` of their key bits and of their strong spectral peaks at the best
    time offset, over at least ``audio_min_overlap`` of the shorter clip; with their
    distances, 1 - similarity."""
    share = float(params["audio_min_overlap"])
    pairs, similarities = profile.cached(
        ("audio_near_candidates", share), lambda: _near_candidates(profile, share)
    )
    keep = similarities >= float(params["audio_min_similarity"])
    return pairs[keep], 1.0 - similarities[keep]


def _near_candidates(profile: DataProfile, share: float) -> tuple[np.ndarray, np.ndarray]:
    """Every pair with enough votes, verified: (pairs, similarities above 0)."""
    keys, peaks, starts, lengths = _all_keys(profile)
    release_arrow_memory()
    candidates = _vote(keys, starts, lengths)
    similarities = verify(keys, peaks, starts, lengths, candidates, share)
    found = similarities > 0
    return candidates[found, :2].reshape(-1, 2), similarities[found]


def _all_keys(profile: DataProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every clip's keys and spectral peaks in two flat arrays, with each clip's start and
    length in them (a clip that did not decode has length 0). A fingerprint without
    ``_FORMAT_TAG`` (keys only, from a profile written before the peaks) has no peaks: 0."""
    key_parts, peak_parts, lengths = [], [], []
    for chunk in profile.column("fingerprint").chunks:
        chunk = chunk.cast(pa.large_binary())
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)
        offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
        data = chunk.buffers()[2]
        raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
        words = raw[offsets[0] : offsets[-1]].view("<u8").astype(np.uint64)
        first, sizes = (offsets[:-1] - offsets[0]) // 8, np.diff(offsets) // 8
        tagged = sizes > 0
        tagged[tagged] = words[first[tagged]] == _FORMAT_TAG
        counts = np.where(tagged, (sizes - 1) // 2, sizes)
        at = np.repeat(first + tagged, counts) + _positions(
            np.zeros(len(counts), np.int64), counts
        ) * np.repeat(np.where(tagged, 2, 1), counts)
        with_peaks = np.repeat(tagged, counts)
        key_parts.append(words[at])
        peak_parts.append(np.where(with_peaks, words[np.where(with_peaks, at + 1, at)], 0))
        lengths.append(counts)
    keys = np.concatenate(key_parts) if key_parts else np.zeros(0, dtype=np.uint64)
    peaks = np.concatenate(peak_parts).astype(np.uint64) if peak_parts else keys.copy()
    sizes = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return keys, peaks, starts, np.where(profile.decoded, sizes, 0)


def _vote(keys: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Candidate rows (clip a, clip b, offset), a < b: frame i of a matches frame i - offset
    of b."""
    n = len(lengths)
    clip = np.repeat(np.arange(n, dtype=np.int64), lengths)
    positions = _positions(starts, lengths)
    frame = positions - starts[clip]
    entry_keys = keys[positions]
    keyed = entry_keys > STEADY
    clip, frame, entry_keys = clip[keyed], frame[keyed], entry_keys[keyed]
    if len(entry_keys) < 2:
        return np.zeros((0, 3), dtype=np.int64)
    width = int(np.clip(math.ceil(math.log2(len(entry_keys))) + _EXTRA_BITS, _MIN_WIDTH, KEY_BITS))
    thinning = math.ceil(len(entry_keys) / _MAX_ENTRIES)
    rng = np.random.default_rng(20_240_917)
    codes = []
    for _ in range(_TABLES):
        mask = np.uint64(0)
        for bit in rng.choice(KEY_BITS, size=width, replace=False).tolist():
            mask |= np.uint64(1 << bit)
        bucket = entry_keys & mask
        if thinning > 1:  # chosen by the key, so that two copies keep the same frames
            mixed = (bucket * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
            chosen = mixed % np.uint64(thinning) == 0
            codes.append(_bucket_pairs(bucket[chosen], clip[chosen], frame[chosen], n))
        else:
            codes.append(_bucket_pairs(bucket, clip, frame, n))
    return _best_offsets(np.concatenate(codes), n)


_SPAN = 2 * _MAX_OFFSET + 1  # vote code = (a * n + b) * _SPAN + offset + _MAX_OFFSET


def _bucket_pairs(bucket: np.ndarray, clip: np.ndarray, frame: np.ndarray, n: int) -> np.ndarray:
    """The vote codes of every two frames of different clips that share a bucket."""
    order = np.argsort(bucket, kind="stable")
    bucket, clip, frame = bucket[order], clip[order], frame[order]
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    sizes = np.diff(np.r_[starts, len(bucket)])
    usable = (sizes >= 2) & (sizes <= _GROUP_CAP)
    codes = []
    for step in range(1, int(sizes[usable].max(initial=1))):
        groups = usable & (sizes > step)
        counts = sizes[groups] - step
        first = np.repeat(starts[groups], counts)
        first += np.arange(len(first)) - np.repeat(np.cumsum(counts) - counts, counts)
        a, b = clip[first], clip[first + step]
        offset = frame[first] - frame[first + step]
        other = a != b
        a, b, offset = a[other], b[other], offset[other]
        swap = a > b
        low, high = np.where(swap, b, a), np.where(swap, a, b)
        codes.append((low * n + high) * _SPAN + np.where(swap, -offset, offset) + _MAX_OFFSET)
    return np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)


def _best_offsets(codes: np.ndarray, n: int) -> np.ndarray:
    """(a, b, offset) of each pair's most-voted offset, the votes at offsets +-1 counted in,
    for the pairs with at least ``_MIN_VOTES``."""
    if not len(codes):
        return np.zeros((0, 3), dtype=np.int64)
    values, counts = np.unique(codes, return_counts=True)
    smoothed = counts.copy()
    for neighbour in (-1, 1):  # never reaches another pair's codes: offsets are padded
        where = np.minimum(np.searchsorted(values, values + neighbour), len(values) - 1)
        smoothed += np.where(values[where] == values + neighbour, counts[where], 0)
    pair, offset = values // _SPAN, values % _SPAN - _MAX_OFFSET
    order = np.lexsort((-smoothed, pair))
    best = order[np.r_[True, pair[order][1:] != pair[order][:-1]]]
    best = best[smoothed[best] >= _MIN_VOTES]
    return np.stack([pair[best] // n, pair[best] % n, offset[best]], axis=1)


def verify(
    keys: np.ndarray,
    peaks: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    candidates: np.ndarray,
    share: float,
) -> np.ndarray:
    """The similarity of each candidate (a, b, offset) at its best alignment (offset, +-1:
    frame i of a against frame i - offset of b), the one whose frames keyed in both clips
    agree on most key bits: the lower of that fraction of bits and, where it is at least
    0.5 (the least ``audio_min_similarity``), of the strong spectral peaks that the other
    clip has too (:func:`peak_agreement`, with ``PEAK_PRIOR`` more counted as agreeing). 0
    where the frames keyed in both are fewer than ``share`` of the shorter clip's frames
    with sound (keyed or steady: a steady tone's few keyed frames at its fade-in are no
    evidence of what it is) (and at least ``MIN_SHARED_FRAMES``)."""
    clip = np.repeat(np.arange(len(lengths)), lengths)
    sounding_frames = keys[_positions(starts, lengths)] != SILENT
    sounding = np.bincount(clip, weights=sounding_frames, minlength=len(lengths))
    rows = np.repeat(np.arange(len(candidates)), 3)
    a, b = candidates[rows, 0], candidates[rows, 1]
    shift = candidates[rows, 2] + np.tile([-1, 0, 1], len(candidates))
    shared, differing = np.zeros(len(rows)), np.zeros(len(rows))
    for part, local, x_at, y_at in _aligned_frames(starts, lengths, a, b, shift):
        x, y = keys[x_at], keys[y_at]
        both = (x > STEADY) & (y > STEADY)
        size = part.stop - part.start
        shared[part] = np.bincount(local, weights=both, minlength=size)
        differing[part] = np.bincount(local, weights=np.bitwise_count(x ^ y) * both, minlength=size)
    needed = np.maximum(MIN_SHARED_FRAMES, np.ceil(share * np.minimum(sounding[a], sounding[b])))
    with np.errstate(invalid="ignore", divide="ignore"):
        agreeing = np.where(shared >= needed, 1.0 - differing / (KEY_BITS * shared), 0.0)
    best = np.argmax(agreeing.reshape(-1, 3), axis=1) + np.arange(0, len(rows), 3)
    similarity = agreeing[best]
    # Peaks are 0 on frames without a key: "both have a strong peak" implies both keyed.
    check = np.flatnonzero(similarity >= _LEAST_SIMILARITY)
    chosen = best[check]
    matched, strong = np.zeros(len(chosen)), np.zeros(len(chosen))
    for part, local, x_at, y_at in _aligned_frames(
        starts, lengths, a[chosen], b[chosen], shift[chosen]
    ):
        x, y = peaks[x_at], peaks[y_at]
        compared = np.flatnonzero((x & _STRONG_BITS != 0) & (y & _STRONG_BITS != 0))
        met, count = peak_agreement(x[compared], y[compared])
        size = part.stop - part.start
        matched[part] = np.bincount(local[compared], weights=met, minlength=size)
        strong[part] = np.bincount(local[compared], weights=count, minlength=size)
    similarity[check] = np.minimum(
        similarity[check], (matched + PEAK_PRIOR) / (strong + PEAK_PRIOR)
    )
    return similarity


def _aligned_frames(
    starts: np.ndarray, lengths: np.ndarray, a: np.ndarray, b: np.ndarray, shift: np.ndarray
) -> Iterator[tuple[slice, np.ndarray, np.ndarray, np.ndarray]]:
    """The frames that alignments (clip a, clip b, shift) share, a batch of alignments at a
    time (flat memory): (the batch's slice of the alignments, each frame's alignment within
    it, its position in the flat arrays in a, and in b)."""
    low, high = np.maximum(0, shift), np.minimum(lengths[a], lengths[b] + shift)
    counts = np.maximum(high - low, 0)
    ends = np.cumsum(counts)
    first = 0
    while first < len(a):
        last = int(np.searchsorted(ends, ends[first] - counts[first] + _VERIFY_BATCH))
        last = max(last, first + 1)
        n = counts[first:last]
        local = np.repeat(np.arange(last - first), n)
        frame = low[first:last][local] + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        x_at = starts[a[first:last]][local] + frame
        y_at = starts[b[first:last]][local] + frame - shift[first:last][local]
        yield slice(first, last), local, x_at, y_at
        first = last


def peak_agreement(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For aligned frames' spectral peaks (uint64 words of :func:`spectral_peaks`): how many
    strong peaks of either frame the other frame has a peak (strong or not) within
    ``PEAK_TOLERANCE`` of, and how many strong peaks the two have."""
    slots = [
        [
            (words >> np.uint64(16 * slot)).astype(np.uint16).astype(np.int32)
            for slot in range(PEAKS)
        ]
        for words in (x, y)
    ]
    matched, strong = np.zeros(len(x), dtype=np.int32), np.zeros(len(x), dtype=np.int32)
    for mine, theirs in (slots, slots[::-1]):
        codes = [code & (_PEAK_CODE - 1) for code in theirs]
        codes = [np.where(code > 0, code, -_PEAK_CODE) for code in codes]  # none meets nothing
        for slot in mine[:STRONG_SLOTS]:
            is_strong = slot >= 1 << 15
            code = slot & (_PEAK_CODE - 1)
            met = np.abs(code - codes[0]) <= PEAK_TOLERANCE
            for other in codes[1:]:
                met |= np.abs(code - other) <= PEAK_TOLERANCE
            matched += met & is_strong
            strong += is_strong
    return matched, strong


def _positions(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Positions in the flat key array of every frame of every clip, clip by clip."""
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + offsets
