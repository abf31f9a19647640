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

Blind to the mean spectrum, and with bands a quarter to half an octave wide (a semitone is
a twelfth), the keys cannot tell two notes of one envelope a semitone apart, or the same
syllables spoken at another pitch: their keys agree on 80-100 % of their bits. So beside
each keyed frame's key the fingerprint keeps its spectral peaks (:func:`spectral_peaks`):
the frequencies, to 1/16 semitone, of the 4 loudest peaks of the FFT spectrum between
100 Hz and 5 kHz, the 3 loudest flagged strong where they stand 15 dB above their
surroundings and last 32 ms either side (a partial, a harmonic: what has a pitch; noise and
a codec's quantisation have none). Gain and resampling keep them (frequencies in Hz), and
added noise or a lossy codec does not move a strong one.

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
from functools import lru_cache
from typing import Any, NamedTuple

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
MAX_SECONDS = 30.0  # the fingerprint covers a clip's first 30 s (16 bytes a frame: 30 KB)
# Frames without a key: SILENT where the whole patch is at the floor (no sound), STEADY where
# there is sound whose spectrum hardly changes. Real keys of 0 or 1 are stored as 2.
SILENT, STEADY = 0, 1
_SILENT_DB = 3.0  # a patch whose loudest level is within 3 dB of the floor is silent

# Spectral peaks, one uint64 a frame beside the key: what the keys cannot see (they are blind
# to a patch's mean spectrum, so two notes of one envelope a semitone apart share them).
PEAKS = 4  # the loudest peaks of a frame, 16 bits each
STRONG_SLOTS = 3  # only the loudest 3 may be strong: a 4th is often 5th in a copy
# A strong peak lasts: 2 frames (32 ms) before and after, a bin within 2 of it is at most
# 6 dB quieter.
LASTING_FRAMES, LASTING_BINS, LASTING_DB = 2, 2, 6.0
PEAK_HIGH_HZ = 5000.0  # peaks from LOW_HZ to here (above, low-rate MP3 leaves stray lines)
PEAK_STEPS = 192  # peak frequencies in steps of 1/16 semitone above LOW_HZ (11 bits)
PEAK_TOLERANCE = 6  # two peaks within 6/16 semitone (2.2 %) are one; a semitone is 16
PEAK_RANGE_DB = 30.0  # a peak more than 30 dB below its frame's loudest bin is not kept
PROMINENCE_BINS = 8  # a peak's prominence: its level above the mean of 8 bins either side
PEAK_MIN_DB = 6.0  # prominence of a peak kept (that a strong peak of the other clip may meet)
STRONG_PEAK_DB = 15.0  # and of a strong peak (that must be met): noise has about none
PEAK_PRIOR = 8  # strong peaks counted as agreeing: a few peaks alone do not decide a pair
_PEAK_CODE = 1 << 11
_STRONG_BITS = np.uint64(sum(1 << (16 * slot + 15) for slot in range(PEAKS)))
# The first word of a fingerprint with peaks; no key has bits 60-63 set.
_FORMAT_TAG = np.uint64(0xF0F0_0000_0000_0002)

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


class _Analysis(NamedTuple):
    length: int  # window length = FFT size
    hop: int
    window: np.ndarray
    bands: np.ndarray  # (bins, bands): the FFT bins the spectrogram keeps, to mel bands
    bin_hz: float
    first_peak_bin: int  # bins where spectral peaks are looked for: LOW_HZ..PEAK_HIGH_HZ
    peak_bins: int


@lru_cache(maxsize=16)
def _analysis(sample_rate: int) -> _Analysis:
    """The spectrogram's settings for one rate.

    The bands are triangles of unit area on the FFT bins, so a band's value is a power
    density and white noise is flat whatever the band's width."""
    n_fft = length = _fast_length(sample_rate * WINDOW_SECONDS)
    hop = max(1, round(sample_rate * HOP_SECONDS))
    bin_hz = sample_rate / n_fft
    freqs = np.arange(n_fft // 2 + 1) * bin_hz
    edges = _hz(np.linspace(_mel(np.array(LOW_HZ)), _mel(np.array(HIGH_HZ)), N_BANDS + 2))
    bands = np.zeros((len(freqs), N_BANDS), dtype=np.float32)
    for b in range(N_BANDS):
        low, centre, high = edges[b : b + 3]
        rising, falling = (freqs - low) / (centre - low), (high - freqs) / (high - centre)
        weights = np.clip(np.minimum(rising, falling), 0.0, None)
        if weights.sum() > 0:  # a band above the Nyquist frequency stays empty
            bands[:, b] = weights / weights.sum()
    margin = PROMINENCE_BINS + 1
    first = math.ceil(LOW_HZ / bin_hz)
    last = min(math.floor(PEAK_HIGH_HZ / bin_hz), len(freqs) - 1 - margin)
    top = int(np.flatnonzero(bands.any(axis=1))[-1]) + 1 if bands.any() else 1
    top = max(top, last + margin + 1)
    window = np.hanning(length).astype(np.float32)
    return _Analysis(
        length,
        hop,
        window,
        np.ascontiguousarray(bands[:top]),
        bin_hz,
        first,
        last - first + 1,
    )


def _power_spectrogram(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """Power of the FFT bins the fingerprint uses, (frames, bins) float32; (0, bins) when
    the clip is shorter than one window."""
    length, hop, window, bands, *_ = _analysis(int(sample_rate))
    samples = np.asarray(mono[: int(MAX_SECONDS * sample_rate)], dtype=np.float32)
    if len(samples) < length:
        return np.zeros((0, len(bands)), dtype=np.float32)
    frames = sliding_window_view(samples, length)[::hop]
    spectrum = scipy.fft.rfft(frames * window, axis=1, overwrite_x=True)[:, : len(bands)]
    return np.square(spectrum.real) + np.square(spectrum.imag)


def _levels(power: np.ndarray, sample_rate: int) -> np.ndarray:
    levels = 10.0 * np.log10(power @ _analysis(int(sample_rate)).bands + np.float32(1e-20))
    if not len(levels):
        return levels
    return np.maximum(levels - levels.max(), np.float32(-FLOOR_DB))


def log_bands(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """The clip's log-mel levels (frames, 16), dB relative to its loudest band, clamped at
    -60 dB; an empty (0, 16) array when the clip is shorter than one window."""
    return _levels(_power_spectrogram(mono, sample_rate), sample_rate)


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


def spectral_peaks(
    power: np.ndarray,
    sample_rate: int,
    loudest_db: float | None = None,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """One uint64 for each of the ``rows`` of ``power`` (frames, bins from
    :func:`_power_spectrogram`; by default all that have ``LASTING_FRAMES`` before and after
    them): its ``PEAKS`` loudest spectral peaks between LOW_HZ and PEAK_HIGH_HZ, loudest in
    the low 16 bits, each ``1 + round(192 log2(f / LOW_HZ))`` (f by parabolic interpolation
    of the dB levels around the peak's bin) with bit 15 set for a strong peak, 0 for none.

    A peak is a bin louder than its two neighbours, at most ``PEAK_RANGE_DB`` below the
    frame's loudest bin and ``FLOOR_DB`` below the clip's (``loudest_db``, dB), and
    ``PEAK_MIN_DB`` above the mean dB level of the ``PROMINENCE_BINS`` bins either side (a
    partial, a harmonic, a formant's loudest harmonic). A strong one is among the
    ``STRONG_SLOTS`` loudest, ``STRONG_PEAK_DB`` above that mean, and lasts: ``LASTING_FRAMES``
    frames before and after, a bin within ``LASTING_BINS`` of it is at most ``LASTING_DB``
    quieter (a partial lasts; a spike of noise or of a codec's quantisation does not)."""
    analysis = _analysis(int(sample_rate))
    first, width, margin = analysis.first_peak_bin, analysis.peak_bins, PROMINENCE_BINS + 1
    if rows is None:
        rows = np.arange(LASTING_FRAMES, len(power) - LASTING_FRAMES)
    if not len(rows) or width < 1:  # no rows, or a rate too low for a bin above LOW_HZ
        return np.zeros(len(rows), dtype=np.uint64)
    around_rows = [rows - LASTING_FRAMES, rows, rows + LASTING_FRAMES]
    needed = np.zeros(len(power), dtype=bool)
    for r in around_rows:
        needed[r] = True
    position = np.cumsum(needed) - 1
    before, at, after = (position[r] for r in around_rows)
    # The bins of the peaks and PROMINENCE_BINS + 1 either side; those below 0 Hz mirrored (a
    # real signal's spectrum is symmetric about 0 Hz).
    low = max(first - margin, 0)
    db = 10.0 * np.log10(power[needed, low : first + width + margin] + np.float32(1e-20))
    if first < margin:
        db = np.concatenate([db[:, margin - first : 0 : -1], db], axis=1)
    loudest_in_row = db[at, margin : margin + width].max(axis=1, keepdims=True)
    if loudest_db is None:
        loudest_db = float(loudest_in_row.max())
    here = db[at]
    each = np.arange(len(here))[:, None]
    left, centre, right = (here[:, margin + d : margin + d + width] for d in (-1, 0, 1))
    # The mean level around each bin, of levels clamped FLOOR_DB below the row's loudest (a
    # bin of digital silence would weigh -200 dB).
    clamped = np.maximum(here, loudest_in_row - np.float32(FLOOR_DB))
    span = 2 * PROMINENCE_BINS + 1
    prominence = centre - _window_sums(clamped[:, 1:-1], span) / np.float32(span)
    lowest = np.maximum(loudest_in_row - np.float32(PEAK_RANGE_DB), loudest_db - FLOOR_DB)
    kept = (centre > left) & (centre >= right) & (centre > lowest)
    kept &= prominence >= np.float32(PEAK_MIN_DB)
    # The PEAKS loudest of each row, loudest first (top 0 and kept False where fewer).
    found = np.flatnonzero(kept)
    row = found // width
    order = np.argsort(row * 1024.0 - centre.reshape(-1)[found])  # dB levels are within +-300
    found, row = found[order], row[order]
    rank = np.arange(len(found)) - np.searchsorted(row, row)
    found, row, rank = found[rank < PEAKS], row[rank < PEAKS], rank[rank < PEAKS]
    top = np.zeros((len(centre), PEAKS), dtype=np.int64)
    top[row, rank] = found % width
    kept = np.zeros((len(centre), PEAKS), dtype=bool)
    kept[row, rank] = True
    level, prominence = centre[each, top], prominence[each, top]
    # The loudest of a bin and LASTING_BINS either side (a sweep of up to 1.3 kHz a second)
    # in the rows before and after.
    lasting = np.full((len(top), PEAKS), np.inf, dtype=np.float32)
    for other in (before, after):
        near = db[other[:, None], margin - LASTING_BINS + top]
        for d in range(1 - LASTING_BINS, LASTING_BINS + 1):
            np.maximum(near, db[other[:, None], margin + d + top], out=near)
        np.minimum(lasting, near, out=lasting)
    strong = kept & (prominence >= STRONG_PEAK_DB) & (lasting >= level - LASTING_DB)
    strong[:, STRONG_SLOTS:] = False
    # The vertex of the parabola through the peak's level and its neighbours' (a peak's
    # curvature is negative), within half a bin of it.
    a, b, c = left[each, top], level, right[each, top]
    vertex = 0.5 * (a - c) / np.where(kept, a - 2.0 * b + c, -1.0)
    bins = np.where(kept, first + top + vertex, LOW_HZ / analysis.bin_hz)
    steps = np.rint(np.log2(bins * (analysis.bin_hz / LOW_HZ)) * PEAK_STEPS)
    codes = np.clip(steps, 0, _PEAK_CODE - 1).astype(np.uint64) + np.uint64(1)
    codes = np.where(kept, codes | (strong.astype(np.uint64) << np.uint64(15)), 0)
    return (codes << np.arange(0, 16 * PEAKS, 16, dtype=np.uint64)).sum(axis=1, dtype=np.uint64)


def _window_sums(x: np.ndarray, n: int) -> np.ndarray:
    """Sums of ``n`` consecutive columns of ``x``, starting at each column where they fit,
    by doubling: log2(n) + popcount(n) additions, a third of what a cumulative sum costs."""
    columns = x.shape[1] - n + 1
    result, start, size, block = None, 0, 1, x  # block: sums of ``size`` columns
    while n:
        if n & 1:
            part = block[:, start : start + columns]
            result = part.copy() if result is None else result + part
            start += size
        n >>= 1
        if n:
            block = block[:, :-size] + block[:, size:]
            size *= 2
    return result


def audio_fingerprint(mono: np.ndarray, sample_rate: int) -> bytes:
    """The clip's fingerprint as stored: little-endian uint64 words, ``_FORMAT_TAG`` and then,
    for each 16 ms frame, its key and the spectral peaks of its patch's middle frame; empty
    for a clip shorter than one patch. The search compares peaks only where both clips have
    keys, so they are measured only there (0 elsewhere)."""
    power = _power_spectrogram(mono, sample_rate)
    keys = fingerprint_keys(_levels(power, sample_rate))
    if not len(keys):
        return b""
    analysis = _analysis(int(sample_rate))
    first, width = analysis.first_peak_bin, max(analysis.peak_bins, 1)
    loudest = 10.0 * math.log10(float(power[:, first : first + width].max()) + 1e-20)
    keyed = np.flatnonzero(keys > STEADY)
    words = np.zeros(1 + 2 * len(keys), dtype="<u8")
    words[0], words[1::2] = _FORMAT_TAG, keys
    words[2 + 2 * keyed] = spectral_peaks(power, sample_rate, loudest, PATCH_FRAMES // 2 + keyed)
    return words.tobytes()


def fingerprint_frames(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """A stored fingerprint's keys and spectral peaks, one of each a frame (peaks all 0 for a
    fingerprint of keys alone, from before the peaks)."""
    words = np.frombuffer(data, dtype="<u8").astype(np.uint64)
    if len(words) and words[0] == _FORMAT_TAG:
        return words[1::2], words[2::2]
    return words, np.zeros_like(words)


# ----------------------------------------------------------------------- the search


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
