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
import itertools
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import scipy.fft
import soundfile as sf
from _audio_clips import (
    DATA_ROOT,
    FORMATS,
    LOOK_ALIKES,
    build_dataset,
    copies,
    make_clip,
    make_look_alike,
)
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import threadpool_limits

from dlqa.data.audio_near_search import (
    DEFAULT_MIN_OVERLAP,
    DEFAULT_MIN_SIMILARITY,
    find_audio_near_pairs,
)
from dlqa.data.chunk_probe import probe_chunk
from dlqa.data.context import DataProfile
from dlqa.sources.base import Sample

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
