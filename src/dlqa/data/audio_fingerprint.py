"""Spectrogram fingerprints of audio clips, and the near-duplicate search over them.

The probe turns each clip into one 60-bit key per 16 ms frame (:func:`audio_fingerprint`):
a log-mel spectrogram (16 bands, 100 Hz to 7 kHz, band edges in Hz so every sample rate
gives the same bands) is clamped 60 dB below the clip's loudest band, cut into 256 ms patches
(16 frames, one starting at every frame), and each patch keeps the signs of its low-order 2-D
DCT coefficients (orders 1-4 along time, 1-15 along the bands). Orders 0 are left out, which
makes a key blind to the patch's mean level per band (a gain change, the long-term spectrum
that all clips of one speaker or microphone share) and per frame (loudness envelopes);
what is left is how the spectrum changes, as coarse shapes that added noise barely moves.
A patch whose spectrum hardly changes has no key: it is ``STEADY`` (a steady tone, hum, a
sweep slower than about half an octave a second) or ``SILENT``; such frames say nothing
about which clip they came from, so copies of steady sounds are found only as exact
duplicates. A time shift moves the keys along the frames; resampling keeps them (bands in
Hz).

Near-duplicates (:func:`find_audio_near_pairs`) are found without comparing every pair:
random subsets of a key's bits index the frames (locality-sensitive hashing by bit
sampling), frames of two clips that share a subset vote for the time offset between the
clips, and a pair with at least two votes at one offset (+-1 frame) is verified on every
frame the two clips share at that offset: the similarity is the fraction of key bits that
agree (0.5 for unrelated clips, 1 for identical ones), over at least half the shorter clip.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from dlqa.core.params import Param
from dlqa.data.context import DataProfile, release_arrow_memory

HOP_SECONDS = 0.016  # one key per 16 ms: a shifted copy is misaligned by at most 8 ms
WINDOW_SECONDS = 0.048  # Hann window; 3 frames overlap, so an 8 ms misalignment moves little
N_BANDS = 16
LOW_HZ, HIGH_HZ = 100.0, 7000.0  # below what a 16 kHz copy keeps (its filter starts ~7.2 kHz)
FLOOR_DB = 60.0  # levels more than this below the clip's loudest band are all one "quiet"
PATCH_FRAMES = 16  # 256 ms of frames (plus one window) behind each key
TIME_ORDERS, BAND_ORDERS = 4, 15  # DCT orders kept: 1-4 along time, 1-15 along the bands
KEY_BITS = TIME_ORDERS * BAND_ORDERS  # 60
# RMS (dB) of a patch with its band and frame means removed, below which it has no key:
# a steady tone measures < 0.1, noise bursts and speech 3-10.
MIN_PATCH_DB = 1.0
MAX_SECONDS = 30.0  # the fingerprint covers a clip's first 30 s (8 bytes a frame: 15 KB)
# Frames without a key: SILENT where the whole patch is at the floor (no sound), STEADY where
# there is sound whose spectrum hardly changes. Real keys of 0 or 1 are stored as 2.
SILENT, STEADY = 0, 1
_SILENT_DB = 3.0  # a patch whose loudest level is within 3 dB of the floor is silent

# Default similarity, measured with `benchmarks/audio_profile.py --threshold` (160 clips of
# tones, sweeps, noise bursts and speech-like syllables at 16 and 44.1 kHz, 7 copies of each):
#   copies of speech-like clips and noise bursts (gain 0.3x; white noise at 30 / 20 dB SNR;
#   0.1-0.5 s of silence prepended or trimmed; 44.1 <-> 16 kHz; all at once): lowest
#   similarity 1.00 / 0.87 / 0.78 / 0.88 / 0.88 / 0.98 / 0.83, every copy found at 0.75;
#   different clips: at most 0.67 across kinds, 0.55 noise/noise, 0.77 speech/speech (2 of
#   49,920 pairs above 0.75, from one generator of look-alike syllables). Pairs of different
#   sweeps reach 0.90: a linear sweep is tangent to a logarithmic one at one frequency, and
#   over a short clip the two are the same sound. Steady tones and slow sweeps have no keys.
# 0.75 keeps every measured copy and all but those look-alikes.
DEFAULT_MIN_SIMILARITY = 0.75
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
            "audio: smallest fraction of spectrogram-fingerprint bits that two clips share "
            "at their best alignment for a near-duplicate (0.5: unrelated clips; 1: identical)"
        ),
        ge=0.5,
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


# ----------------------------------------------------------------------- the probe side


def _mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def _dct_basis(n: int, orders: int) -> np.ndarray:
    """Orthonormal DCT-II rows 1..orders over n points, as an (n, orders) float32 matrix."""
    k = np.arange(1, orders + 1)[None, :]
    t = np.arange(n)[:, None]
    return (np.sqrt(2.0 / n) * np.cos(np.pi * (t + 0.5) * k / n)).astype(np.float32)


_BAND_BASIS = _dct_basis(N_BANDS, BAND_ORDERS)  # (16, 15)
_TIME_BASIS = _dct_basis(PATCH_FRAMES, PATCH_FRAMES - 1)  # (16, 15): every order, for energy


def _fast_length(samples: float) -> int:
    """The FFT size 2^a 3^b nearest ``samples``: the window is a whole fast FFT (44.1 kHz:
    2048 samples, 46 ms; 16 and 48 kHz: 768 and 2304, 48 ms), which costs 20 % less than
    zero-padding 2117 samples to a fast size and changes the fingerprint by nothing measurable."""
    sizes = [2**a * 3**b for a in range(4, 16) for b in range(2)]
    return min(sizes, key=lambda size: abs(size - samples))


@lru_cache(maxsize=16)
def _analysis(sample_rate: int) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(window length = FFT size, hop, Hann window, mel band matrix (bins, bands)) for a rate.

    The bands are triangles of unit area on the FFT bins, so a band's value is a power
    density and white noise is flat whatever the band's width."""
    n_fft = length = _fast_length(sample_rate * WINDOW_SECONDS)
    hop = max(1, round(sample_rate * HOP_SECONDS))
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    edges = _hz(np.linspace(_mel(np.array(LOW_HZ)), _mel(np.array(HIGH_HZ)), N_BANDS + 2))
    bands = np.zeros((len(freqs), N_BANDS), dtype=np.float32)
    for b in range(N_BANDS):
        low, centre, high = edges[b : b + 3]
        rising, falling = (freqs - low) / (centre - low), (high - freqs) / (high - centre)
        weights = np.clip(np.minimum(rising, falling), 0.0, None)
        if weights.sum() > 0:  # a band above the Nyquist frequency stays empty
            bands[:, b] = weights / weights.sum()
    top = int(np.flatnonzero(bands.any(axis=1))[-1]) + 1 if bands.any() else 1
    window = np.hanning(length).astype(np.float32)
    return length, hop, window, np.ascontiguousarray(bands[:top])


def log_bands(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """The clip's log-mel levels (frames, 16), dB relative to its loudest band, clamped at
    -60 dB; an empty (0, 16) array when the clip is shorter than one window."""
    length, hop, window, bands = _analysis(int(sample_rate))
    samples = np.asarray(mono[: int(MAX_SECONDS * sample_rate)], dtype=np.float32)
    if len(samples) < length:
        return np.zeros((0, N_BANDS), dtype=np.float32)
    frames = sliding_window_view(samples, length)[::hop]
    spectrum = scipy.fft.rfft(frames * window, axis=1, overwrite_x=True)[:, : len(bands)]
    power = np.square(spectrum.real) + np.square(spectrum.imag)
    levels = 10.0 * np.log10(power @ bands + np.float32(1e-20))
    return np.maximum(levels - levels.max(), np.float32(-FLOOR_DB))


def fingerprint_keys(levels: np.ndarray) -> np.ndarray:
    """One uint64 key per patch of 16 frames; ``STEADY`` where its spectrum hardly changes,
    ``SILENT`` where it is all at the floor."""
    if len(levels) < PATCH_FRAMES:
        return np.zeros(0, dtype=np.uint64)
    along_bands = levels @ _BAND_BASIS  # (frames, 15): orders 1.. along the bands
    patches = sliding_window_view(along_bands, PATCH_FRAMES, axis=0)  # (keys, 15, 16)
    coefficients = patches @ _TIME_BASIS  # (keys, 15 band orders, 15 time orders)
    # Parseval: without the order-0 rows and columns, these hold the whole energy of the
    # patch with its band and frame means removed.
    spread = np.einsum("kbt,kbt->k", coefficients, coefficients) / (N_BANDS * PATCH_FRAMES)
    # Bit 4 j + i - 1 is the sign of band order j + 1, time order i (1-4); bits 60-63 are 0.
    bits = np.zeros((len(coefficients), 64), dtype=bool)
    bits[:, :KEY_BITS] = (coefficients[:, :, :TIME_ORDERS] > 0).reshape(len(coefficients), -1)
    keys = np.packbits(bits, axis=1, bitorder="little").view("<u8")[:, 0].astype(np.uint64)
    keys[keys <= STEADY] = 2
    keys[spread < MIN_PATCH_DB**2] = STEADY
    loudest = sliding_window_view(levels.max(axis=1), PATCH_FRAMES).max(axis=1)
    keys[loudest < _SILENT_DB - FLOOR_DB] = SILENT
    return keys


def audio_fingerprint(mono: np.ndarray, sample_rate: int) -> bytes:
    """The clip's fingerprint as stored: little-endian uint64 keys, one per 16 ms frame."""
    return fingerprint_keys(log_bands(mono, sample_rate)).astype("<u8").tobytes()


# ----------------------------------------------------------------------- the search


def find_audio_near_pairs(
    profile: DataProfile, params: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of decoded clips whose fingerprints agree on at least
    ``audio_min_similarity`` of their bits at the best time offset, over at least
    ``audio_min_overlap`` of the shorter clip; with their distances, 1 - similarity."""
    share = float(params["audio_min_overlap"])
    pairs, similarities = profile.cached(
        ("audio_near_candidates", share), lambda: _near_candidates(profile, share)
    )
    keep = similarities >= float(params["audio_min_similarity"])
    return pairs[keep], 1.0 - similarities[keep]


def _near_candidates(profile: DataProfile, share: float) -> tuple[np.ndarray, np.ndarray]:
    """Every pair with enough votes, verified: (pairs, similarities above 0)."""
    keys, starts, lengths = _all_keys(profile)
    release_arrow_memory()
    candidates = _vote(keys, starts, lengths)
    similarities = verify(keys, starts, lengths, candidates, share)
    found = similarities > 0
    return candidates[found, :2].reshape(-1, 2), similarities[found]


def _all_keys(profile: DataProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every clip's keys in one flat array, with each clip's start and length in it (a clip
    that did not decode has length 0). 8 bytes a frame: 500 bytes a second of audio."""
    pieces, lengths = [], []
    for chunk in profile.column("fingerprint").chunks:
        chunk = chunk.cast(pa.large_binary())
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)
        offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
        data = chunk.buffers()[2]
        raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
        pieces.append(raw[offsets[0] : offsets[-1]].view("<u8").astype(np.uint64))
        lengths.append(np.diff(offsets) // 8)
    keys = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.uint64)
    sizes = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return keys, starts, np.where(profile.decoded, sizes, 0)


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
    starts: np.ndarray,
    lengths: np.ndarray,
    candidates: np.ndarray,
    share: float,
) -> np.ndarray:
    """The similarity of each candidate (a, b, offset): the best, over offsets +-1, fraction
    of agreeing key bits on the frames keyed in both clips (frame i of a against frame
    i - offset of b); 0 where the frames keyed in both are fewer than ``share`` of the
    shorter clip's frames with sound (keyed or steady: a steady tone's few keyed frames at
    its fade-in are no evidence of what it is)    (and at least ``MIN_SHARED_FRAMES``)."""
    clip = np.repeat(np.arange(len(lengths)), lengths)
    sounding_frames = keys[_positions(starts, lengths)] != SILENT
    sounding = np.bincount(clip, weights=sounding_frames, minlength=len(lengths))
    best = np.zeros(len(candidates))
    rows = np.repeat(np.arange(len(candidates)), 3)
    a, b = candidates[rows, 0], candidates[rows, 1]
    shift = candidates[rows, 2] + np.tile([-1, 0, 1], len(candidates))
    low, high = np.maximum(0, shift), np.minimum(lengths[a], lengths[b] + shift)
    counts = np.maximum(high - low, 0)
    needed = np.maximum(MIN_SHARED_FRAMES, np.ceil(share * np.minimum(sounding[a], sounding[b])))
    ends = np.cumsum(counts)
    first = 0
    while first < len(rows):  # a batch of alignments at a time: flat memory
        last = int(np.searchsorted(ends, ends[first] - counts[first] + _VERIFY_BATCH))
        last = max(last, first + 1)
        part = slice(first, last)
        n = counts[part]
        alignment = np.repeat(np.arange(first, last), n)
        frame = low[alignment] + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        x = keys[starts[a[alignment]] + frame]
        y = keys[starts[b[alignment]] + frame - shift[alignment]]
        both = (x > STEADY) & (y > STEADY)
        local = alignment - first
        shared = np.bincount(local, weights=both, minlength=last - first)
        differing = np.bincount(
            local, weights=np.bitwise_count(x ^ y) * both, minlength=last - first
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            similarity = 1.0 - differing / (KEY_BITS * shared)
        similarity[shared < needed[part]] = 0.0
        np.maximum.at(best, rows[part], similarity)
        first = last
    return best


def _positions(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Positions in the flat key array of every frame of every clip, clip by clip."""
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + offsets
