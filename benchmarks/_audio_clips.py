"""The clips of benchmarks/audio_profile.py: tones, chirps, noise bursts and speech-like
syllables (deterministic, cached in benchmarks/_data/audio), their copies (gain, noise, shifts,
resampling, re-encoding) and the look-alikes that must not be paired (notes a semitone apart,
syllables at one rhythm and other pitches)."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

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
