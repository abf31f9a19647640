"""Audio evidence for the HTML: a short playable preview and a waveform thumbnail per clip.

The data stage calls :func:`make_audio_preview` and :func:`make_waveform_thumbnail` while it
can still read the files and stores the bytes as artifacts (``report_parts["media"]`` and
``["thumbnails"]``), so that a past run re-renders after its source data is gone.

Both take a file path, or a decoded ``waveform`` ((frames,) or (frames, channels)) with its
``sample_rate``. A file is streamed in blocks, never held whole: an hour-long recording costs
decoding time, not memory. Both raise on a file that does not decode (soundfile's error, a
RuntimeError) and ValueError on a clip without a single frame; the caller skips that sample.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from dlqa.report.media_types import audio_media_type

# What make_audio_preview writes; the WAV fallback is told apart by audio_media_type(bytes).
AUDIO_PREVIEW_MEDIA_TYPE = "audio/ogg"
WAVEFORM_MEDIA_TYPE = "image/png"

# The preview of a longer clip is its loudest PREVIEW_SECONDS (by energy, in 100 ms steps):
# where the trouble (clipping, a burst of noise) usually is, and never silence at the start.
PREVIEW_SECONDS = 10.0
PREVIEW_MAX_RATE = 22_050  # Vorbis above this mostly spends bytes a preview does not need
FALLBACK_MAX_RATE = 16_000  # 16-bit WAV: 32 kB per second, so keep it low
VORBIS_COMPRESSION = 0.8  # libsndfile's 0 (best quality) .. 1 (smallest file)

WAVEFORM_WIDTH = 256
WAVEFORM_HEIGHT = 64
# A sample at or above this magnitude is full scale (8-bit PCM peaks at 127/128 = 0.992); a
# pixel column with at least CLIP_MIN_SAMPLES of them is drawn as clipped, so that a file
# normalised to 0 dBFS, whose peaks touch full scale once or twice, is not called clipped.
CLIP_LEVEL = 0.99
CLIP_MIN_SAMPLES = 3
FULL_SCALE_BAND = 4  # px at the top and the bottom that stand for full scale

_BLOCK_FRAMES = 1 << 16
_STATS = ("min", "max", "energy", "top", "bottom")
# Palette of the waveform PNG, by index.
_BACKGROUND, _BAND, _ZERO, _WAVE, _CLIPPED_WAVE, _CLIPPED_BAND = range(6)
_PALETTE = (
    (255, 255, 255),  # background
    (234, 238, 242),  # the full-scale bands, faint
    (140, 149, 159),  # the zero line
    (9, 105, 218),  # the envelope
    (207, 34, 46),  # the envelope where it clips
    (255, 129, 130),  # the full-scale bands where it clips
)


class _Clip:
    """Mono float32 blocks of a clip: a file decoded as it is read, or an array in memory."""

    def __init__(self, sample_rate: int, frames: int, sound: Any = None, mono: Any = None) -> None:
        self.sample_rate = sample_rate
        self.frames = frames  # as the header says; a broken header may be wrong
        self._sound = sound
        self._mono = mono

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        if self._mono is not None:
            data = self._mono[start:stop]
            for offset in range(0, len(data), _BLOCK_FRAMES):
                yield data[offset : offset + _BLOCK_FRAMES]
            return
        self._sound.seek(start)
        position = start
        while stop is None or position < stop:
            wanted = _BLOCK_FRAMES if stop is None else min(_BLOCK_FRAMES, stop - position)
            block = self._sound.read(wanted, dtype="float32", always_2d=True)
            if not len(block):
                return
            position += len(block)
            yield _finite(block.mean(axis=1, dtype=np.float32))


def _finite(samples: np.ndarray) -> np.ndarray:
    return np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)


def _as_float(waveform: np.ndarray) -> np.ndarray:
    """Integer PCM scaled to [-1, 1); floats taken as they are (already in [-1, 1])."""
    array = np.asarray(waveform)
    if array.dtype.kind == "i":
        return array.astype(np.float32) / float(2 ** (array.dtype.itemsize * 8 - 1))
    if array.dtype.kind == "u":  # unsigned PCM (8-bit WAV) is offset by half its range
        half = float(2 ** (array.dtype.itemsize * 8 - 1))
        return (array.astype(np.float32) - half) / half
    if array.dtype.kind in "fb":
        return array.astype(np.float32)
    raise ValueError(f"a waveform must be numbers, not {array.dtype}")


@contextmanager
def _open_clip(
    path: str | os.PathLike[str] | None, waveform: np.ndarray | None, sample_rate: int | None
) -> Iterator[_Clip]:
    if (path is None) == (waveform is None):
        raise TypeError("give either a path or a waveform")
    if waveform is not None:
        if sample_rate is None or int(sample_rate) <= 0:
            raise ValueError("a waveform needs its sample_rate (a positive integer)")
        samples = _as_float(waveform)
        if samples.ndim == 2:
            samples = samples.mean(axis=1, dtype=np.float32)
        elif samples.ndim != 1:
            raise ValueError(f"a waveform is (frames,) or (frames, channels), not {samples.shape}")
        if not len(samples):
            raise ValueError("the clip has no frames")
        yield _Clip(int(sample_rate), len(samples), mono=_finite(samples))
        return
    import soundfile

    with soundfile.SoundFile(os.fspath(path)) as sound:
        yield _Clip(int(sound.samplerate), max(int(sound.frames), 0), sound=sound)


def _hop_stats(clip: _Clip, hop: int) -> dict[str, np.ndarray]:
    """Per run of ``hop`` frames: min, max, energy (sum of squares), and how many samples are
    at full scale, positive ("top") and negative ("bottom")."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in _STATS}

    def add(chunk: np.ndarray) -> None:  # chunk: (hops, hop)
        parts["min"].append(chunk.min(axis=1))
        parts["max"].append(chunk.max(axis=1))
        parts["energy"].append(np.square(chunk, dtype=np.float64).sum(axis=1))
        parts["top"].append((chunk >= CLIP_LEVEL).sum(axis=1))
        parts["bottom"].append((chunk <= -CLIP_LEVEL).sum(axis=1))

    carry = np.zeros(0, dtype=np.float32)
    for block in clip.blocks():
        block = np.concatenate([carry, block]) if len(carry) else block
        whole = len(block) - len(block) % hop
        if whole:
            add(block[:whole].reshape(-1, hop))
        carry = block[whole:]
    if len(carry):
        add(carry.reshape(1, -1))
    if not parts["min"]:
        raise ValueError("the clip has no frames")
    return {name: np.concatenate(values) for name, values in parts.items()}


def _loudest_start(clip: _Clip, window: int) -> int:
    """The first frame of the ``window`` frames with the most energy, in 100 ms steps."""
    hop = max(1, clip.sample_rate // 10)
    energy = _hop_stats(clip, hop)["energy"]
    span = max(1, window // hop)
    if len(energy) <= span:
        return 0
    cumulative = np.concatenate([[0.0], np.cumsum(energy)])
    return int(np.argmax(cumulative[span:] - cumulative[:-span])) * hop


def _resample(samples: np.ndarray, rate: int, most: int) -> tuple[np.ndarray, int]:
    """``samples`` at no more than ``most`` Hz: a band-limited (FFT) resampling, which on ten
    seconds of audio costs a few milliseconds and needs no filter design."""
    if rate <= most:
        return samples, rate
    length = max(1, round(len(samples) * most / rate))
    spectrum = np.fft.rfft(samples.astype(np.float64))[: length // 2 + 1]
    resampled = np.fft.irfft(spectrum, length) * (length / len(samples))
    return resampled.astype(np.float32), most


def _encode(samples: np.ndarray, rate: int) -> bytes:
    """Ogg Vorbis; 16-bit WAV when this libsndfile cannot write Vorbis at this rate."""
    import soundfile

    ogg, ogg_rate = _resample(samples, rate, PREVIEW_MAX_RATE)
    buffer = io.BytesIO()
    try:
        soundfile.write(
            buffer,
            np.clip(ogg, -1.0, 1.0),
            ogg_rate,
            format="OGG",
            subtype="VORBIS",
            compression_level=VORBIS_COMPRESSION,
        )
    except (RuntimeError, ValueError, TypeError):  # no Vorbis in this libsndfile, odd rate
        pass
    else:
        if audio_media_type(buffer.getvalue()) == "audio/ogg":
            return buffer.getvalue()
    wav, wav_rate = _resample(samples, rate, FALLBACK_MAX_RATE)
    buffer = io.BytesIO()
    # Clipped first: libsndfile wraps floats beyond full scale when it converts to integers.
    soundfile.write(buffer, np.clip(wav, -1.0, 1.0), wav_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def make_audio_preview(
    path: str | os.PathLike[str] | None = None,
    *,
    waveform: np.ndarray | None = None,
    sample_rate: int | None = None,
) -> bytes:
    """A small playable mono clip for the HTML player: Ogg Vorbis at most 22.05 kHz (16-bit
    WAV at most 16 kHz where Vorbis cannot be written), at most ``PREVIEW_SECONDS`` long.

    A longer clip is previewed by its loudest ``PREVIEW_SECONDS``, which costs one more pass
    over the file. Channels are averaged.
    """
    with _open_clip(path, waveform, sample_rate) as clip:
        window = int(PREVIEW_SECONDS * clip.sample_rate)
        start = _loudest_start(clip, window) if clip.frames > window else 0
        blocks = list(clip.blocks(start, start + window))
        rate = clip.sample_rate
    if not blocks:
        raise ValueError("the clip has no frames")
    return _encode(np.concatenate(blocks), rate)


def _columns(values: np.ndarray, width: int, reduce: Any) -> np.ndarray:
    """``values`` (one per hop) reduced to ``width`` pixel columns."""
    if len(values) >= width:
        return reduce.reduceat(values, np.arange(width) * len(values) // width)
    # Fewer hops than columns (a clip of a few hundred frames): each hop spans columns.
    return values[np.arange(width) * len(values) // width]


def _row_of(amplitude: np.ndarray, height: int) -> np.ndarray:
    """Pixel row of an amplitude: +1 at the top row, -1 at the bottom one."""
    return np.rint((1.0 - np.clip(amplitude, -1.0, 1.0)) * (height - 1) / 2).astype(np.int64)


def make_waveform_thumbnail(
    path: str | os.PathLike[str] | None = None,
    *,
    waveform: np.ndarray | None = None,
    sample_rate: int | None = None,
) -> bytes:
    """A ``WAVEFORM_WIDTH`` x ``WAVEFORM_HEIGHT`` PNG of the whole clip: per pixel column the
    min..max envelope (blue), the zero line (grey) and faint full-scale bands at the top and
    bottom that turn red in every column where the clip clips on that side (and the envelope
    with them).

    The clip is not normalised: a quiet recording looks quiet.
    """
    width, height = WAVEFORM_WIDTH, WAVEFORM_HEIGHT
    with _open_clip(path, waveform, sample_rate) as clip:
        # About four hops per column when the header knows the length.
        hop = max(1, clip.frames // (width * 4)) if clip.frames else clip.sample_rate // 100
        stats = _hop_stats(clip, max(1, hop))
    low = _columns(stats["min"], width, np.minimum)
    high = _columns(stats["max"], width, np.maximum)
    top = _columns(stats["top"], width, np.add) >= CLIP_MIN_SAMPLES
    bottom = _columns(stats["bottom"], width, np.add) >= CLIP_MIN_SAMPLES
    clipped = top | bottom

    rows = np.arange(height)[:, None]
    top_band, bottom_band = rows < FULL_SCALE_BAND, rows >= height - FULL_SCALE_BAND
    pixels = np.full((height, width), _BACKGROUND, dtype=np.uint8)
    pixels[(top_band | bottom_band)[:, 0]] = _BAND
    pixels[top_band & top] = _CLIPPED_BAND
    pixels[bottom_band & bottom] = _CLIPPED_BAND
    pixels[_row_of(np.zeros(1), height)[0], :] = _ZERO
    # Every column draws at least one pixel, so that silence still shows where the clip is.
    envelope = (rows >= _row_of(high, height)) & (rows <= _row_of(low, height))
    pixels[envelope & ~clipped] = _WAVE
    pixels[envelope & clipped] = _CLIPPED_WAVE

    from PIL import Image

    image = Image.fromarray(pixels)
    image.putpalette([channel for colour in _PALETTE for channel in colour])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
