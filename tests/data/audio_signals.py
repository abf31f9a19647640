"""Synthesised audio with known answers for the audio probe, fingerprint and check tests."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import soundfile as sf
from scipy import signal

from dlqa.data.chunk_probe import probe_chunk
from dlqa.data.context import DataProfile
from dlqa.sources.base import Sample

RATE = 16_000


def seconds(n: float, rate: int = RATE) -> np.ndarray:
    return np.arange(int(round(n * rate))) / rate


def fade(x: np.ndarray, rate: int = RATE, length: float = 0.05) -> np.ndarray:
    """Linear fade-in and fade-out of ``length`` seconds."""
    n = int(length * rate)
    ramp = np.linspace(0.0, 1.0, n)
    y = x.copy()
    y[:n] *= ramp
    y[-n:] *= ramp[::-1]
    return y


def tone(
    freq: float = 440.0,
    duration: float = 1.0,
    peak_dbfs: float = -6.0,
    rate: int = RATE,
    faded: float | None = 0.05,
) -> np.ndarray:
    """A sine of the given peak level; faded in and out unless ``faded`` is None."""
    x = 10 ** (peak_dbfs / 20) * np.sin(2 * np.pi * freq * seconds(duration, rate))
    return (fade(x, rate, faded) if faded else x).astype(np.float32)


def chirp(f0: float, f1: float, duration: float = 2.0, rate: int = RATE) -> np.ndarray:
    t = seconds(duration, rate)
    return fade(0.5 * signal.chirp(t, f0, duration, f1, method="logarithmic"), rate).astype(
        np.float32
    )


def noise_burst(seed: int, duration: float = 2.0, rate: int = RATE) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(int(duration * rate)) * 0.1
    return fade(x, rate, 0.02).astype(np.float32)


def word(seed: int, duration: float = 2.0, rate: int = RATE) -> np.ndarray:
    """Speech-like: syllables of a pulse train through three formant resonators, with gaps."""
    rng = np.random.default_rng(seed)
    out, start = np.zeros(int(duration * rate)), rng.uniform(0.05, 0.2)
    while start < duration - 0.15:
        n, at = int(rng.uniform(0.08, 0.3) * rate), int(start * rate)
        if at + n > len(out):
            break
        t = np.arange(n) / rate
        pitch = rng.uniform(90, 220) * (1 + 0.05 * np.sin(2 * np.pi * rng.uniform(3, 6) * t))
        source = signal.sawtooth(2 * np.pi * np.cumsum(pitch) / rate)
        voiced = np.zeros(n)
        for low, high, width in ((300, 900, 80), (900, 2500, 120), (2400, 3500, 200)):
            centre = rng.uniform(low, high)
            b, a = signal.iirpeak(centre, centre / width, rate)
            voiced += signal.lfilter(b, a, source)
        out[at : at + n] += voiced * np.sin(np.pi * np.arange(n) / n) ** 1.5
        start += n / rate + rng.uniform(0.02, 0.15)
    return (0.4 * out / max(float(np.abs(out).max()), 1e-9)).astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, seed: int = 99) -> np.ndarray:
    power = float(np.mean(np.square(x, dtype=np.float64)))
    noise = np.random.default_rng(seed).standard_normal(len(x)) * math.sqrt(
        power / 10 ** (snr_db / 10)
    )
    return (x + noise).astype(np.float32)


def resample(x: np.ndarray, rate: int, to: int) -> np.ndarray:
    g = math.gcd(rate, to)
    return signal.resample_poly(x, to // g, rate // g).astype(np.float32)


def write(path: Path, x: np.ndarray, rate: int = RATE, subtype: str | None = None) -> Path:
    """Write ``x`` in the format its suffix names (WAV, FLAC, OGG, MP3)."""
    sf.write(path, x, rate, subtype=subtype)
    return path


def file_samples(paths: list[Path], labels: list[str] | None = None) -> list[Sample]:
    return [
        Sample(p.name, i, path=str(p), label=None if labels is None else labels[i])
        for i, p in enumerate(paths)
    ]


def array_samples(
    clips: list[np.ndarray],
    rates: list[int] | int = RATE,
    labels: list[str] | None = None,
    ids: list[str] | None = None,
) -> list[Sample]:
    rates = rates if isinstance(rates, list) else [rates] * len(clips)
    return [
        Sample(
            f"clip{i}" if ids is None else ids[i],
            i,
            array=clip,
            sample_rate=rate,
            label=None if labels is None else labels[i],
        )
        for i, (clip, rate) in enumerate(zip(clips, rates, strict=True))
    ]


def audio_profile(samples: list[Sample]) -> DataProfile:
    """Probe the samples the way a profile worker does and wrap the batch as a profile."""
    return DataProfile(pa.Table.from_batches([probe_chunk((samples, [], "audio"))]))
