"""The demo's audio part: clips synthesised at build time, in split and class folders.

Three classes of 16 kHz mono clips, 1 to 3 s long: harmonic tones with a little vibrato,
frequency sweeps (chirps), and trains of band-limited noise bursts. Every clip fades in and out
over a faint noise floor, as a recording does, so ordinary clips end quietly (nothing looks
truncated); pitch, timbre, length and timing vary from clip to clip so that no two ordinary
clips sound alike. Problems planted on top: a near-silent clip, one cut off mid-sound, one
hard-clipped at full scale, an exact duplicate stored as FLAC and a copy 6 dB quieter.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import soundfile as sf

from dlqa.data.audio_fingerprint import audio_fingerprint
from dlqa.data.audio_near_search import DEFAULT_MIN_OVERLAP, find_audio_near_pairs
from dlqa.data.context import DataProfile
from dlqa.demo.naming import NameDealer

SAMPLE_RATE = 16_000
AUDIO_CLASSES = ("tone", "chirp", "noise_burst")
AUDIO_PLANTED_PROBLEMS = (
    "near_silent",
    "truncated",
    "clipped",
    "exact_duplicates",
    "near_duplicate",
    "label_error",
)
TRAIN_FRACTION = 0.8
DURATION_S = (1.0, 3.0)
PEAK = (0.3, 0.7)  # ordinary clips peak well below full scale
ATTACK_S, RELEASE_S = (0.03, 0.1), (0.1, 0.3)
NOISE_FLOOR_DBFS = -66.0  # RMS of the background hiss every clip has
NEAR_SILENT_DBFS = -75.0  # RMS of the planted near-silent clip: hiss only
CLIP_PEAK = 2.0  # the clipped clip would peak at twice full scale (6 dB too hot), cut there
TRUNCATE_KEEP = 0.55  # the truncated clip keeps this share of its length, mid-sound
GAIN_CHANGE_DB = -6.0  # the near-duplicate is the original this much quieter
MIN_PER_CLASS, MAX_PER_CLASS = 5, 100
# Ordinary clips share less than this fraction of fingerprint bits (the near-duplicate check
# flags DEFAULT_MIN_SIMILARITY, 0.75, and up; unrelated clips score about 0.5).
DISTINCT_SIMILARITY = 0.65
MIN_OVERLAP_S = DEFAULT_MIN_OVERLAP
_MAX_REDRAWS = 50
_INT16_MAX = 32767

Synth = Callable[[np.random.Generator, float], np.ndarray]


@dataclass(frozen=True)
class AudioPart:
    folder: Path  # root / "audio", holds <split>/<class>/*.wav (and the planted .flac)
    # problem name -> sample ids (relative to folder, POSIX) that a check must flag; for copies
    # the first id is the copy and the second the clip it was copied from.
    planted: dict[str, list[str]]


def build_audio_part(root: Path, *, seed: int = 0, n_per_class: int = 25) -> AudioPart:
    """Write ``root/audio/<split>/<class>/clip_*.wav``: ``n_per_class`` ordinary clips per class
    (80 % train) and the problems of :data:`AUDIO_PLANTED_PROBLEMS`. Same seed, same bytes."""
    if not MIN_PER_CLASS <= n_per_class <= MAX_PER_CLASS:
        raise ValueError(f"n_per_class must be between {MIN_PER_CLASS} and {MAX_PER_CLASS}")
    rng = np.random.default_rng(seed)
    names = NameDealer(rng, capacity=len(AUDIO_CLASSES) * n_per_class + 16, prefix="clip_")
    clips: dict[str, np.ndarray] = {}  # sample id -> int16 samples, in a deterministic order
    n_train = round(n_per_class * TRAIN_FRACTION)
    for class_name in AUDIO_CLASSES:
        for position in range(n_per_class):
            split = "train" if position < n_train else "test"
            clips[f"{split}/{class_name}/{names.next('.wav')}"] = _synthesise(rng, class_name)
    _redraw_similar_clips(rng, clips)
    files = {sample_id: encode(samples, "WAV") for sample_id, samples in clips.items()}
    train_clips = {i: samples for i, samples in clips.items() if i.startswith("train/")}
    planted = _plant_problems(rng, names, files, train_clips)

    folder = Path(root) / "audio"
    for sample_id, content in files.items():
        path = folder / sample_id
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return AudioPart(folder=folder, planted=planted)


def _synthesise(rng: np.random.Generator, class_name: str) -> np.ndarray:
    return to_int16(_SYNTHS[class_name](rng, _duration(rng)))


def _redraw_similar_clips(rng: np.random.Generator, clips: dict[str, np.ndarray]) -> None:
    """Redraw clips until no two are similar under the near-duplicate check's own fingerprint
    search, with a margin below its threshold: every near-duplicate it reports in the demo is
    then one planted on purpose. (Steady tones have almost no fingerprint: they never match.)"""
    ids = list(clips)
    fingerprints = [_fingerprint(clips[i]) for i in ids]
    params = {"audio_min_similarity": DISTINCT_SIMILARITY, "audio_min_overlap": MIN_OVERLAP_S}
    for _ in range(_MAX_REDRAWS):
        profile = DataProfile(
            pa.table(
                {
                    "fingerprint": pa.array(fingerprints, pa.binary()),
                    "error": pa.nulls(len(ids), pa.string()),
                }
            )
        )
        pairs, _ = find_audio_near_pairs(profile, params)
        if not len(pairs):
            return
        for index in sorted({int(b) for _, b in pairs.tolist()}):  # the later clip of each
            class_name = ids[index].split("/")[1]
            clips[ids[index]] = _synthesise(rng, class_name)
            fingerprints[index] = _fingerprint(clips[ids[index]])
    raise RuntimeError(f"demo clips still similar after {_MAX_REDRAWS} redraws")


def _fingerprint(samples: np.ndarray) -> bytes:
    return audio_fingerprint(samples.astype(np.float32) / 32768, SAMPLE_RATE)  # as decoded


def to_int16(signal: np.ndarray) -> np.ndarray:
    """Float samples (full scale 1.0) as 16-bit PCM, saturating beyond full scale."""
    return np.clip(np.rint(signal * _INT16_MAX), -_INT16_MAX, _INT16_MAX).astype(np.int16)


def encode(samples: np.ndarray, container: str) -> bytes:
    """16-bit PCM samples as a WAV or FLAC file."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, SAMPLE_RATE, format=container, subtype="PCM_16")
    return buffer.getvalue()


def dbfs(samples: np.ndarray) -> float:
    """RMS level relative to full scale (int16 or float samples)."""
    scale = _INT16_MAX if samples.dtype == np.int16 else 1.0
    rms = float(np.sqrt(np.mean((samples.astype(np.float64) / scale) ** 2)))
    return 20 * np.log10(max(rms, 1e-12))


def _plant_problems(
    rng: np.random.Generator,
    names: NameDealer,
    files: dict[str, bytes],
    clips: dict[str, np.ndarray],
) -> dict[str, list[str]]:
    def add(class_name: str, extension: str, content: bytes) -> str:
        sample_id = f"train/{class_name}/{names.next(extension)}"
        files[sample_id] = content
        return sample_id

    def random_class() -> str:
        return AUDIO_CLASSES[int(rng.integers(len(AUDIO_CLASSES)))]

    planted: dict[str, list[str]] = {}
    # A recording that captured only the room: hiss far below any signal.
    silent = _hiss(rng, int(_duration(rng) * SAMPLE_RATE), NEAR_SILENT_DBFS)
    planted["near_silent"] = [add(random_class(), ".wav", encode(to_int16(silent), "WAV"))]

    # Cut off mid-sound: a tone whose last samples are still loud (a chirp or burst clip
    # could be cut in a pause between its calls and end quietly).
    whole = _tone(rng, DURATION_S[1])
    cut = whole[: int(len(whole) * TRUNCATE_KEEP)]
    planted["truncated"] = [add("tone", ".wav", encode(to_int16(cut), "WAV"))]

    # Recorded too hot: the waveform flattens at full scale.
    tone = _tone(rng, _duration(rng))
    loud = tone * (CLIP_PEAK / np.max(np.abs(tone)))
    planted["clipped"] = [add("tone", ".wav", encode(to_int16(loud), "WAV"))]

    # The same audio in another container: decoded, sample for sample the original. Of a
    # chirp or burst clip, so that the copy is also a near-duplicate (a steady tone has next
    # to no fingerprint; data.exact_duplicates finds its copies all the same).
    changing = [i for i in sorted(clips) if "/tone/" not in i]
    original = str(rng.choice(changing))
    class_name = original.split("/")[1]
    copy = add(class_name, ".flac", encode(clips[original], "FLAC"))
    planted["exact_duplicates"] = [copy, original]

    # The same audio 6 dB quieter: a near-duplicate, not an exact one. Of a chirp or burst
    # clip too.
    original = str(rng.choice([i for i in changing if i != original]))
    class_name = original.split("/")[1]
    quieter = clips[original].astype(np.float64) / _INT16_MAX * 10 ** (GAIN_CHANGE_DB / 20)
    copy = add(class_name, ".wav", encode(to_int16(quieter), "WAV"))
    planted["near_duplicate"] = [copy, original]

    # Filed under the wrong class: new clips (copies of nothing) of one kind in another
    # kind's folder; only a model of what each class sounds like can find them.
    planted["label_error"] = [
        add("noise_burst", ".wav", encode(_synthesise(rng, "chirp"), "WAV")),
        add("tone", ".wav", encode(_synthesise(rng, "noise_burst"), "WAV")),
    ]
    return planted


def _duration(rng: np.random.Generator) -> float:
    return float(rng.uniform(*DURATION_S))


def _time(duration: float) -> np.ndarray:
    return np.arange(int(duration * SAMPLE_RATE)) / SAMPLE_RATE


def _envelope(rng: np.random.Generator, n: int) -> np.ndarray:
    """Raised-cosine fade in and out: clips start and end at the noise floor."""
    attack = int(rng.uniform(*ATTACK_S) * SAMPLE_RATE)
    release = int(rng.uniform(*RELEASE_S) * SAMPLE_RATE)
    envelope = np.ones(n)
    envelope[:attack] = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, attack))
    envelope[n - release :] = 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, release))
    return envelope


def _hiss(rng: np.random.Generator, n: int, level_dbfs: float) -> np.ndarray:
    return rng.standard_normal(n) * 10 ** (level_dbfs / 20)


def _finish(rng: np.random.Generator, sound: np.ndarray) -> np.ndarray:
    """Scale to a random peak, fade, and lay over the noise floor."""
    sound = sound * _envelope(rng, len(sound))
    sound *= rng.uniform(*PEAK) / np.max(np.abs(sound))
    return sound + _hiss(rng, len(sound), NOISE_FLOOR_DBFS)


def _timbre(rng: np.random.Generator) -> np.ndarray:
    """Weights of up to five harmonics, decaying at a random rate; the fundamental's is 1."""
    count = int(rng.integers(1, 6))
    weights = rng.uniform(0.2, 1.0, count) / np.arange(1, count + 1) ** rng.uniform(0.5, 2.0)
    weights[0] = 1.0
    return weights


def _harmonics(weights: np.ndarray, phase: np.ndarray) -> np.ndarray:
    return sum(w * np.sin(k * phase) for k, w in enumerate(weights, start=1))


def _tone(rng: np.random.Generator, duration: float) -> np.ndarray:
    t = _time(duration)
    f0 = np.exp(rng.uniform(np.log(110.0), np.log(1000.0)))
    vibrato = 1 + rng.uniform(0.002, 0.01) * np.sin(2 * np.pi * rng.uniform(3, 7) * t)
    phase = 2 * np.pi * np.cumsum(f0 * vibrato) / SAMPLE_RATE
    return _finish(rng, _harmonics(_timbre(rng), phase))


def _chirp(rng: np.random.Generator, duration: float) -> np.ndarray:
    """Two to six short frequency sweeps, up or down, like bird calls, one per time slot."""
    n = int(duration * SAMPLE_RATE)
    sound = np.zeros(n)
    weights = _timbre(rng)  # one voice for the whole clip
    for offset, length in _slots(rng, n, int(rng.integers(2, 7))):
        start, end = np.exp(rng.uniform(np.log(300.0), np.log(5000.0), 2))
        while max(start, end) / min(start, end) < 1.5:  # a clear sweep
            start, end = np.exp(rng.uniform(np.log(300.0), np.log(5000.0), 2))
        frequency = start * (end / start) ** (np.arange(length) / length)  # even pace in pitch
        phase = 2 * np.pi * np.cumsum(frequency) / SAMPLE_RATE
        call = _harmonics(weights, phase) * np.hanning(length) * rng.uniform(0.5, 1.0)
        sound[offset : offset + length] += call
    return _finish(rng, sound)


def _slots(rng: np.random.Generator, n: int, count: int) -> list[tuple[int, int]]:
    """(offset, length) of ``count`` events, one in each of ``count`` equal slots (so they
    never overlap), each filling 50-90 % of its slot at a random place in it."""
    bounds = np.linspace(0, n, count + 1).astype(int)
    events = []
    for begin, stop in zip(bounds[:-1], bounds[1:], strict=True):
        length = int((stop - begin) * rng.uniform(0.5, 0.9))
        events.append((begin + int(rng.integers(0, stop - begin - length + 1)), length))
    return events


def _noise_burst(rng: np.random.Generator, duration: float) -> np.ndarray:
    """Three to six bursts of band-limited noise, each with its own band and soft edges."""
    n = int(duration * SAMPLE_RATE)
    sound = np.zeros(n)
    for offset, length in _slots(rng, n, int(rng.integers(3, 7))):
        centre = np.exp(rng.uniform(np.log(300.0), np.log(5000.0)))
        burst = _band_noise(rng, length, centre, octaves=rng.uniform(0.3, 1.0))
        sound[offset : offset + length] += burst * np.hanning(length) * rng.uniform(0.4, 1.0)
    return _finish(rng, sound)


def _band_noise(rng: np.random.Generator, n: int, centre: float, octaves: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    frequencies = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    low, high = centre * 2 ** (-octaves / 2), centre * 2 ** (octaves / 2)
    spectrum[(frequencies < low) | (frequencies > high)] = 0
    band = np.fft.irfft(spectrum, n)
    return band / np.max(np.abs(band))


_SYNTHS: dict[str, Synth] = {"tone": _tone, "chirp": _chirp, "noise_burst": _noise_burst}
