"""Claim: profiling audio with dlqa costs little more than the spectrogram any fingerprint needs.

Builds (or reuses) 2,400 16-bit WAV clips of 1-5 s, half at 16 kHz and half at 44.1 kHz
(tones, chirps, noise bursts and speech-like syllables: formant-filtered pulse trains and
amplitude-modulated noise; deterministic, cached in benchmarks/_data/audio), then, in one
process and one thread, times on the same files:

(a) bare decode: ``soundfile.read(path, dtype="float32")``;
(b) the reference: (a) plus one log-mel spectrogram in numpy (25 ms Hann windows every 10 ms,
    FFT size the next power of two, 64 mel bands up to Nyquist, log), the least work that a
    spectral fingerprint needs;
(c) dlqa: ``probe_chunk`` over the files in chunks of 128: file read, sha256 and format,
    decode, levels, clipping, silence, the loudest second, edges, the content hash, the
    fingerprint, and the Arrow batch.

Blocks of files go through all three in rotating order, so that load from other processes on
the machine falls on each alike. Targets: (c) / (a) >= 0.4 and (c) / (b) >= 0.8. Ends with
one JSON line.

``--threshold`` measures instead what sets ``audio_min_similarity``: copies of 160 clips
of the four kinds and of 80 look-alikes (Hann-enveloped notes on consecutive semitones,
sines and harmonic; syllables at one rhythm whose pitch differs by one or two semitones)
(gain 0.3x; white noise at 20 and 30 dB SNR; 0.1-0.5 s of silence prepended; 0.1-0.5 s
trimmed; 44.1 <-> 16 kHz; trimmed, resampled, halved and noised at 25 dB all at once; MP3
and Ogg Vorbis), how similar each copy is found to its original, and the most similar pairs
of different clips (per pair of kinds; a max of None: no pair scored 0.5 or more).

    python benchmarks/audio_profile.py               # 2,400 clips in benchmarks/_data/audio
    python benchmarks/audio_profile.py --format mp3  # the same clips as MP3 (or flac)
    python benchmarks/audio_profile.py --threshold   # copies vs different clips
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import scipy.fft
import soundfile as sf
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal
from threadpoolctl import threadpool_limits

from dlqa.data.audio_near_search import (
    DEFAULT_MIN_OVERLAP,
    DEFAULT_MIN_SIMILARITY,
    find_audio_near_pairs,
)
from dlqa.data.chunk_probe import probe_chunk
from dlqa.data.context import DataProfile
from dlqa.sources.base import Sample

DATA_ROOT = Path(__file__).resolve().parent / "_data" / "audio"
KINDS = ("tone", "chirp", "noise", "speech")
RATES = (16_000, 44_100)

# ---------------------------------------------------------------- clips


def _fade(x: np.ndarray, rate: int, seconds: float) -> np.ndarray:
    n = min(len(x) // 2, max(1, int(seconds * rate)))
    ramp = np.linspace(0.0, 1.0, n)
    x[:n] *= ramp
    x[-n:] *= ramp[::-1]
    return x


def tone(rng: np.random.Generator, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    f0 = rng.uniform(100, 2000)
    x = sum(rng.uniform(0.2, 1) / k * np.sin(2 * np.pi * k * f0 * t) for k in (1, 2, 3))
    return _fade(x, rate, rng.uniform(0.02, 0.1))


def chirp(rng: np.random.Generator, seconds: float, rate: int, number: int = 0) -> np.ndarray:
    """Sweep ``number`` of 40 distinct ones: up or down, logarithmic (0.3-3 octaves a second)
    or linear (300-3200 Hz a second), within 100 Hz-6 kHz; sweeps at one speed over one range
    would be the same sound, so the speeds are a grid 30 % apart, not random."""
    speed, down, linear = 1.3 ** (number % 10), (number // 10) % 2, (number // 20) % 2
    if linear:
        seconds = min(seconds, 5000 / (300 * speed))
        low = rng.uniform(100, 6000 - 300 * speed * seconds)
        high = low + 300 * speed * seconds
    else:
        seconds = min(seconds, 5.5 / (0.3 * speed))
        octaves = 0.3 * speed * seconds
        low = 100 * 2 ** rng.uniform(0, np.log2(60) - octaves)
        high = low * 2**octaves
    t = np.arange(int(seconds * rate)) / rate
    f0, f1 = (high, low) if down else (low, high)
    method = "linear" if linear else "logarithmic"
    return _fade(signal.chirp(t, f0, seconds, f1, method=method), rate, 0.02)


def noise(rng: np.random.Generator, seconds: float, rate: int) -> np.ndarray:
    n = int(seconds * rate)
    x = rng.standard_normal(n)
    if rng.random() < 0.5:  # pink-ish: a first-order low-pass
        x = signal.lfilter([1.0], [1.0, -rng.uniform(0.8, 0.98)], x)
    envelope = 1 + 0.8 * np.sin(2 * np.pi * rng.uniform(0.5, 4) * np.arange(n) / rate)
    return _fade(x * envelope, rate, 0.02)


def speech(rng: np.random.Generator, seconds: float, rate: int) -> np.ndarray:
    """Syllables: a pulse train or noise through three formant resonators, with gaps."""
    out, start = np.zeros(int(seconds * rate)), rng.uniform(0.05, 0.25)
    while start < seconds - 0.2:
        n, at = int(rng.uniform(0.08, 0.3) * rate), int(start * rate)
        if at + n > len(out):
            break
        t = np.arange(n) / rate
        pitch = rng.uniform(90, 240) * (1 + 0.05 * np.sin(2 * np.pi * rng.uniform(3, 6) * t))
        source = signal.sawtooth(2 * np.pi * np.cumsum(pitch) / rate)
        if rng.random() < 0.3:
            source = rng.standard_normal(n)  # an unvoiced syllable
        voiced = np.zeros(n)
        for centre, width in ((rng.uniform(300, 900), 80), (rng.uniform(900, 2500), 120),
                              (rng.uniform(2400, 3500), 200)):  # fmt: skip
            b, a = signal.iirpeak(centre, centre / width, rate)
            voiced += signal.lfilter(b, a, source)
        out[at : at + n] += voiced * np.sin(np.pi * np.arange(n) / n) ** 1.5
        start += n / rate + rng.uniform(0.02, 0.15)
    return out


GENERATORS: dict[str, Callable[[np.random.Generator, float, int], np.ndarray]] = {
    "tone": tone, "chirp": chirp, "noise": noise, "speech": speech,
}  # fmt: skip


def make_clip(index: int) -> tuple[str, np.ndarray, int]:
    """Clip ``index``: its kind, samples at a random level of -30..-3 dBFS peak, and rate."""
    rng = np.random.default_rng(index)
    kind, rate = KINDS[index % len(KINDS)], RATES[(index // len(KINDS)) % len(RATES)]
    duration = float(rng.uniform(1.0, 5.0))
    if kind == "chirp":
        x = chirp(rng, duration, rate, index // len(KINDS))
    else:
        x = GENERATORS[kind](rng, duration, rate)
    peak = float(np.abs(x).max()) or 1.0
    return kind, (x / peak * 10 ** (rng.uniform(-30, -3) / 20)).astype(np.float32), rate


FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "mp3": ("MP3", None)}


def build_dataset(root: Path, n: int, suffix: str = "wav") -> list[Path]:
    """The first ``n`` clips in ``root/<suffix>/<kind>/`` (written once, then reused)."""
    container, subtype = FORMATS[suffix]
    paths = []
    for index in range(n):
        path = root / suffix / KINDS[index % len(KINDS)] / f"clip_{index:05d}.{suffix}"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _, x, rate = make_clip(index)
            partial = path.with_name(path.name + ".partial")
            sf.write(partial, x, rate, subtype=subtype, format=container)
            partial.replace(path)  # never half a file in the cache
        paths.append(path)
    return paths


# ---------------------------------------------------------------- the three contenders


def bare_decode(paths: list[Path]) -> None:
    for path in paths:
        sf.read(path, dtype="float32")


_MEL_CACHE: dict[int, tuple[int, int, np.ndarray, np.ndarray]] = {}


def _mel_setup(rate: int) -> tuple[int, int, np.ndarray, np.ndarray]:
    if rate not in _MEL_CACHE:
        length, hop = round(0.025 * rate), round(0.010 * rate)
        n_fft = 1 << (length - 1).bit_length()
        freqs = np.arange(n_fft // 2 + 1) * rate / n_fft
        edges = 700 * (10 ** (np.linspace(0, 2595 * np.log10(1 + rate / 1400), 66) / 2595) - 1)
        low, centre, high = edges[:-2], edges[1:-1], edges[2:]
        rising = (freqs[:, None] - low) / (centre - low)
        falling = (high - freqs[:, None]) / (high - centre)
        weights = np.clip(np.minimum(rising, falling), 0, None).astype(np.float32)
        window = np.hanning(length).astype(np.float32)
        _MEL_CACHE[rate] = (length, hop, window, weights)
    return _MEL_CACHE[rate]


def decode_and_log_mel(paths: list[Path]) -> None:
    for path in paths:
        x, rate = sf.read(path, dtype="float32")
        length, hop, window, weights = _mel_setup(rate)
        n_fft = 2 * (len(weights) - 1)
        frames = sliding_window_view(x, length)[::hop] * window
        # scipy's FFT: numpy's own is 3-4x slower on float32 frames, which would flatter dlqa
        spectrum = scipy.fft.rfft(frames, n=n_fft, axis=1)
        np.log((np.square(spectrum.real) + np.square(spectrum.imag)) @ weights + 1e-10)


def dlqa_probe(paths: list[Path]) -> None:
    samples = [Sample(p.name, i, path=str(p), label=p.parent.name) for i, p in enumerate(paths)]
    batch = probe_chunk((samples, [], "audio"))
    failed = len(paths) - batch.column("error").null_count
    if failed:  # a probe that gave up early would look fast
        raise SystemExit(f"{failed} clips failed to probe: {batch.column('error_detail')}")


def compare(paths: list[Path], block: int) -> dict[str, float]:
    """Clips per second of each contender, the blocks run by all three in rotating order."""
    contenders = {"decode": bare_decode, "reference": decode_and_log_mel, "dlqa": dlqa_probe}
    for run in contenders.values():  # warm caches, imports and the page cache
        run(paths[: min(block, len(paths))])
    seconds = dict.fromkeys(contenders, 0.0)
    names = list(contenders)
    for number, start in enumerate(range(0, len(paths), block)):
        part = paths[start : start + block]
        for name in names[number % 3 :] + names[: number % 3]:
            began = time.perf_counter()
            contenders[name](part)
            seconds[name] += time.perf_counter() - began
    return {name: len(paths) / spent for name, spent in seconds.items()}


# ---------------------------------------------------------------- --threshold


def _resample(x: np.ndarray, rate: int, to: int) -> np.ndarray:
    g = math.gcd(rate, to)
    return signal.resample_poly(x, to // g, rate // g).astype(np.float32)


def _noised(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    power = float(np.mean(x.astype(np.float64) ** 2))
    return (x + rng.standard_normal(len(x)) * math.sqrt(power / 10 ** (snr_db / 10))).astype(
        np.float32
    )


def copies(x: np.ndarray, rate: int, rng: np.random.Generator) -> dict[str, tuple]:
    other = 16_000 if rate == 44_100 else 44_100
    pad = np.zeros(int(rng.uniform(0.1, 0.5) * rate), dtype=np.float32)
    cut = x[int(rng.uniform(0.1, 0.5) * rate) :]
    return {
        "gain": (x * 0.3, rate),
        "noise_20db": (_noised(x, 20, rng), rate),
        "noise_30db": (_noised(x, 30, rng), rate),
        "shifted": (np.concatenate([pad, x]), rate),
        "trimmed": (cut, rate),
        "resampled": (_resample(x, rate, other), other),
        "all_at_once": (_noised(_resample(cut, rate, other) * 0.5, 25, rng), other),
        "mp3": _reencoded(x, rate, "MP3"),
        "ogg": _reencoded(x, rate, "OGG"),
    }


def _reencoded(x: np.ndarray, rate: int, container: str) -> tuple[np.ndarray, int]:
    """``x`` through a lossy codec (libsndfile's defaults: LAME MP3 / Vorbis) and back."""
    buffer = io.BytesIO()
    sf.write(buffer, x, rate, format=container)
    buffer.seek(0)
    y, rate = sf.read(buffer, dtype="float32")
    return y, rate


# Look-alikes for the threshold that the speed clips lack: clips that share their envelope or
# rhythm and differ in pitch, which a fingerprint of the spectrum's changes alone cannot tell
# apart.
LOOK_ALIKES = ("note", "rhythm")
_SEMITONE = 2 ** (1 / 12)


def note(number: int, rate: int) -> np.ndarray:
    """Note ``number`` of 40, all 1 s under one Hann envelope: 0-19 sines, 20-39 four
    harmonics (1/k), each set on consecutive semitones from 200 Hz (so every note has
    neighbours one and two semitones away, and a sine and a harmonic note share each pitch)."""
    t = np.arange(rate) / rate
    f0 = 200 * _SEMITONE ** (number % 20)
    partials = 1 if number < 20 else 4
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, partials + 1))
    return x * np.hanning(len(t))


def rhythm(number: int, rate: int) -> np.ndarray:
    """Clip ``number``: 2 s of 0.25 s syllables every 0.35 s, in every clip at the same times
    under the same envelope; clips 3k, 3k + 1 and 3k + 2 share their formants and pitch
    contour, the last two one and two semitones higher."""
    rng = np.random.default_rng(10_000 + number // 3)
    f0s = rng.uniform(90, 220, size=5) * _SEMITONE ** (number % 3)
    formants = rng.uniform((300, 900, 2400), (900, 2500, 3500), size=(5, 3))
    out, n = np.zeros(2 * rate), int(0.25 * rate)
    for i, start in enumerate(np.arange(0.1, 1.7, 0.35)):
        source = signal.sawtooth(2 * np.pi * f0s[i] * np.arange(n) / rate)
        voiced = np.zeros(n)
        for centre, width in zip(formants[i], (80, 120, 200), strict=True):
            b, a = signal.iirpeak(centre, centre / width, rate)
            voiced += signal.lfilter(b, a, source)
        at = int(start * rate)
        out[at : at + n] += voiced * np.sin(np.pi * np.arange(n) / n) ** 1.5
    return out


def make_look_alike(index: int) -> tuple[str, np.ndarray, int]:
    """Look-alike ``index``: notes, then rhythms, 40 of each, at 16 and 44.1 kHz in turn, at
    -12 dBFS peak."""
    kind, number = LOOK_ALIKES[index // 40], index % 40
    rate = RATES[number % 2]
    x = note(number, rate) if kind == "note" else rhythm(number, rate)
    return kind, (x / np.abs(x).max() * 10 ** (-12 / 20)).astype(np.float32), rate


def measure_threshold(n_originals: int) -> dict[str, object]:
    samples, origin, change, kinds = [], [], [], []
    for index in range(n_originals + 40 * len(LOOK_ALIKES)):
        if index < n_originals:
            kind, x, rate = make_clip(100_000 + index)
        else:
            kind, x, rate = make_look_alike(index - n_originals)
        variants = {"original": (x, rate), **copies(x, rate, np.random.default_rng(index))}
        for name, (y, r) in variants.items():
            samples.append(Sample(f"{kind}{index}-{name}", len(samples), array=y, sample_rate=r))
            origin.append(index)
            change.append(name)
            kinds.append(kind)
    profile = DataProfile(pa.Table.from_batches([probe_chunk((samples, [], "audio"))]))
    pairs, distances = find_audio_near_pairs(
        profile, {"audio_min_similarity": 0.5, "audio_min_overlap": DEFAULT_MIN_OVERLAP}
    )
    similarity = {tuple(p): 1 - d for p, d in zip(pairs.tolist(), distances, strict=True)}
    origin_of = np.array(origin)
    copies_found: dict[str, list[float]] = {}
    for i, name in enumerate(change):
        if name != "original":
            first = origin.index(origin[i])  # the original comes first in each group
            copies_found.setdefault(f"{kinds[i]}/{name}", []).append(
                similarity.get((first, i), 0.0)
            )
    different: dict[str, list[float]] = {}
    for (a, b), value in similarity.items():
        if origin_of[a] != origin_of[b]:
            different.setdefault("/".join(sorted((kinds[a], kinds[b]))), []).append(value)
    n_pairs = len(samples) * (len(samples) - 1) // 2
    result: dict[str, object] = {"clips": len(samples), "pairs": n_pairs}
    result["candidates_verified"] = len(similarity)
    for pair in itertools.combinations_with_replacement(sorted(set(kinds)), 2):
        found = np.array(different.get("/".join(pair), []))
        result[f"different/{'/'.join(pair)}"] = {  # max None: no pair at 0.5 or more
            "max": round(float(found.max()), 4) if len(found) else None,
            "above_default": int((found >= DEFAULT_MIN_SIMILARITY).sum()),
        }
    for key, values in sorted(copies_found.items()):
        found = np.array(values)
        result[f"copy/{key}"] = {
            "min": round(float(found.min()), 4),
            "found_at_default": round(float((found >= DEFAULT_MIN_SIMILARITY).mean()), 3),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=2400)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--format", choices=sorted(FORMATS), default="wav")
    parser.add_argument("--threshold", action="store_true")
    args = parser.parse_args()
    with threadpool_limits(1):  # one numeric thread, as in each worker of a profile
        if args.threshold:
            result = measure_threshold(160)
            for key, value in result.items():
                print(f"{key:42s} {value}")
            print(json.dumps(result))
            return
        paths = build_dataset(DATA_ROOT, args.clips, args.format)
        audio_seconds = sum(sf.info(p).duration for p in paths)
        rates = compare(paths, args.block)
    vs_decode, vs_reference = rates["dlqa"] / rates["decode"], rates["dlqa"] / rates["reference"]
    print(f"{len(paths)} {args.format} clips, {audio_seconds / 60:.1f} min of audio, one process")
    print(f"bare soundfile.read:        {rates['decode']:8.1f} clips/s")
    print(f"decode + one log-mel:       {rates['reference']:8.1f} clips/s")
    print(f"dlqa audio probes:          {rates['dlqa']:8.1f} clips/s")
    print(f"dlqa / bare decode:         {vs_decode:8.2f}  (target >= 0.4)")
    print(f"dlqa / decode + log-mel:    {vs_reference:8.2f}  (target >= 0.8)")
    print(
        json.dumps(
            {
                "clips": len(paths),
                "format": args.format,
                "audio_minutes": round(audio_seconds / 60, 1),
                "decode_clips_per_s": round(rates["decode"], 1),
                "reference_clips_per_s": round(rates["reference"], 1),
                "dlqa_clips_per_s": round(rates["dlqa"], 1),
                "ratio_vs_decode": round(vs_decode, 3),
                "ratio_vs_reference": round(vs_reference, 3),
                "target_vs_decode": 0.4,
                "target_vs_reference": 0.8,
            }
        )
    )


if __name__ == "__main__":
    main()
