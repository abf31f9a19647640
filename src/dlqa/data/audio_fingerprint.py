"""Spectrogram fingerprints of audio clips: what the audio probe stores for each clip.

This module computes a clip's per-frame keys and spectral peaks (:func:`audio_fingerprint`,
read back by :func:`fingerprint_frames`); the near-duplicate search over them is in
:mod:`dlqa.data.audio_near_search`.

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
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

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
_PEAK_CODE = 1 << 11
_STRONG_BITS = np.uint64(sum(1 << (16 * slot + 15) for slot in range(PEAKS)))
# The first word of a fingerprint with peaks; no key has bits 60-63 set.
_FORMAT_TAG = np.uint64(0xF0F0_0000_0000_0002)


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
