"""Audio probe: decode a clip once with soundfile and measure it with vectorised numpy.

Levels are in dBFS relative to full scale for a square wave (20 log10 of the RMS or peak, the
convention of most audio software; a full-scale sine measures -3 dBFS RMS, 0 dBFS peak).
Digital silence measures ``LEVEL_FLOOR_DBFS``, not minus infinity, so that every level is a
number that statistics and reports can use.

Decoding problems are findings, never exceptions: a file that libsndfile cannot open
(unknown format, an unsupported codec, not audio at all) is "corrupt", one with no frames
"empty", one cut off or whose header misstates its length "truncated" or "corrupt", each
with a one-line reason. What could be decoded of a cut file is still measured.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import numpy as np
import pyarrow as pa
import soundfile as sf

from dlqa.core.errors import UsageError
from dlqa.data.audio_fingerprint import audio_fingerprint
from dlqa.data.probes import wav_header
from dlqa.sources.base import Sample

LEVEL_FLOOR_DBFS = -150.0  # below 24-bit's quantisation noise (-144 dBFS): digital silence
FRAME_SECONDS = 0.01  # frames of the silence and loudness measures
SILENCE_DBFS = -60.0  # a 10 ms frame quieter than this (RMS) is silent
LOUDEST_WINDOW_SECONDS = 1.0
# Clipping: runs of at least CLIP_MIN_RUN consecutive samples at full scale (|x| at or above
# the largest 16-bit codes, 32767/32768). A peak that touches full scale once is not clipping;
# a waveform flattened against the rails is (Audacity's "Find Clipping" counts runs of 3 too).
CLIP_LEVEL = 1.0 - 1.5 / 32768
CLIP_MIN_RUN = 3
# Truncation: the first or last 5 ms of a clip still within 20 dB of its active level (the
# 95th percentile of its 10 ms frame levels) and above the silence level. A fade-out
# of at least ~30 ms ends below -20 dB (a linear fade of L ms measures 20 log10(5 / (L
# sqrt 3)) dB over its last 5 ms: 30 ms -20.3, 50 ms -24.8); sound cut mid-word or
# mid-cycle is still at its level (a cut sine measures -3 to +2 dB at any frequency).
EDGE_SECONDS = 0.005
TRUNCATION_EDGE_DB = -20.0
ACTIVE_PERCENTILE = 95.0
# A compressed clip whose decoder yields fewer frames than its header declares is cut off;
# MP3 headers estimate, so a shortfall of up to 1 % or two MPEG frames is tolerated.
_FRAME_SHORTFALL = (0.01, 2304)

# The audio columns of the per-sample table (after the common ones of ``data/columns.py``).
AUDIO_FIELDS: tuple[pa.Field, ...] = (
    pa.field("sample_rate", pa.int32()),  # Hz
    pa.field("channels", pa.int8()),
    pa.field("frames", pa.int64()),  # decoded frames (samples per channel)
    pa.field("duration", pa.float32()),  # seconds: frames / sample_rate
    pa.field("subtype", pa.string()),  # encoding: PCM_16, PCM_24, FLOAT, VORBIS, MPEG_LAYER_III
    pa.field("rms_dbfs", pa.float32()),  # RMS level of the whole clip, all channels
    pa.field("peak_dbfs", pa.float32()),  # largest |sample|
    pa.field("clipped_fraction", pa.float32()),  # of all samples, inside clipped runs
    pa.field("clipped_runs", pa.int32()),  # runs of >= CLIP_MIN_RUN samples at full scale
    pa.field("silent_fraction", pa.float32()),  # of 10 ms frames below SILENCE_DBFS
    pa.field("loudest_window_dbfs", pa.float32()),  # RMS of the loudest 1 s (the clip if shorter)
    pa.field("loudest_window_start", pa.float32()),  # where that second starts, seconds
    pa.field("dc_offset", pa.float32()),  # mean sample value, of the channel where |mean| peaks
    # First and last 5 ms relative to the clip's active level, dB (null for a silent clip).
    pa.field("start_edge_db", pa.float32()),
    pa.field("end_edge_db", pa.float32()),
    pa.field("truncated", pa.string()),  # "start", "end", "both", or null: sound cut at an edge
    # Spectrogram fingerprint (dlqa.data.audio_fingerprint): a format tag, then per 16 ms
    # frame a uint64 key and a uint64 of spectral peaks.
    pa.field("fingerprint", pa.binary()),
)
_AUDIO_COLUMNS = tuple(field.name for field in AUDIO_FIELDS)

# Numeric properties that outlier checks, diffs and reports summarise.
AUDIO_NUMERIC_PROPERTIES = (
    "duration",
    "sample_rate",
    "channels",
    "rms_dbfs",
    "peak_dbfs",
    "loudest_window_dbfs",
    "silent_fraction",
    "clipped_fraction",
    "dc_offset",
    "file_size",
)
AUDIO_HISTOGRAM_PROPERTIES = ("duration", "rms_dbfs", "peak_dbfs", "silent_fraction")

_ARRAY_SUBTYPES = {
    "int16": "PCM_16",
    "int32": "PCM_32",
    "uint8": "PCM_U8",
    "float32": "FLOAT",
    "float64": "DOUBLE",
}


def empty_audio_columns() -> dict[str, Any]:
    """The audio probe's columns, all unknown, and no error."""
    return dict.fromkeys(_AUDIO_COLUMNS) | {"error": None, "error_detail": None}


def decode_audio(sample: Sample, data: bytes | None) -> tuple[dict[str, Any], None]:
    """The audio columns of one sample: from the file's bytes, or from ``sample.array`` at
    ``sample.sample_rate`` when ``data`` is None. Nothing is left for a chunk to finish."""
    if data is None:
        return probe_audio_array(sample.array, sample.sample_rate), None
    return probe_audio_bytes(data), None


def probe_audio_bytes(data: bytes) -> dict[str, Any]:
    """The audio columns of an encoded clip, with ``error``/``error_detail`` for a bad one."""
    row = empty_audio_columns()
    opened = False
    try:
        with sf.SoundFile(io.BytesIO(data)) as clip:
            opened = True
            rate, declared, subtype = clip.samplerate, clip.frames, clip.subtype
            # 16-bit PCM is read as it is stored: exact for the content hash, and 5x faster
            # than libsndfile's conversion to float.
            samples = clip.read(dtype="int16" if subtype == "PCM_16" else "float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, MemoryError) as exc:
        row["error"] = "corrupt"
        if opened:
            row["error_detail"] = f"decoding failed after a valid header: {_message(exc)}"
        else:
            unsupported = wav_header.is_wav(data) and wav_header.unsupported_encoding(data)
            row["error_detail"] = unsupported or f"not decodable as audio: {_message(exc)}"
        return row
    row.update(subtype=subtype)
    problem = _length_problem(data, declared, len(samples))
    row.update(measure(samples, rate))
    if problem is not None:
        row["error"], row["error_detail"] = problem
    return row


def probe_audio_array(array: Any, sample_rate: int | None) -> dict[str, Any]:
    """The audio columns of an in-memory waveform (frames,) or (frames, channels): floats in
    -1..1, or integer PCM. ``sha256`` hashes its dtype, shape, rate and bytes. A value that is
    not a waveform raises UsageError (a programming error, not a finding about data)."""
    if not isinstance(array, np.ndarray) or array.ndim not in (1, 2):
        shape = getattr(array, "shape", type(array).__name__)
        raise UsageError(
            f"audio arrays must be numpy arrays (frames,) or (frames, channels), got {shape}"
        )
    if array.dtype.name not in _ARRAY_SUBTYPES:
        raise UsageError(
            f"audio arrays must be int16, int32, uint8, float32 or float64, got {array.dtype}"
        )
    if not sample_rate or int(sample_rate) <= 0:
        raise UsageError(
            "an in-memory audio sample needs its sample_rate", hint="Sample(sample_rate=16000)"
        )
    samples = array[:, None] if array.ndim == 1 else array
    digest = hashlib.sha256(f"{samples.shape}|{samples.dtype}|{int(sample_rate)}|".encode())
    digest.update(np.ascontiguousarray(samples).tobytes())
    row = empty_audio_columns()
    row.update(subtype=_ARRAY_SUBTYPES[array.dtype.name], sha256=digest.hexdigest())
    row.update(measure(samples, int(sample_rate)))
    if not len(samples):
        row["error"], row["error_detail"] = "empty", "the waveform has no frames"
    return row


def _message(exc: BaseException) -> str:
    # LibsndfileError's str() names the BytesIO object; its error_string is the reason.
    return str(getattr(exc, "error_string", None) or exc).strip() or type(exc).__name__


def _length_problem(data: bytes, declared: int, decoded: int) -> tuple[str, str] | None:
    if decoded == 0:
        return "empty", "the clip has no audio frames"
    if wav_header.is_wav(data):
        return wav_header.length_problem(data)
    shortfall = declared - decoded
    if declared > 0 and shortfall > max(_FRAME_SHORTFALL[0] * declared, _FRAME_SHORTFALL[1]):
        return (
            "truncated",
            f"decoding stopped after {decoded} of the {declared} frames the header declares",
        )
    return None


def _dbfs(power: float | np.ndarray) -> Any:
    """10 log10 of a mean square (or 20 log10 of an amplitude squared), floored."""
    with np.errstate(divide="ignore"):
        return np.maximum(10.0 * np.log10(power), LEVEL_FLOOR_DBFS)


def _as_float(samples: np.ndarray) -> np.ndarray:
    """Integer PCM to float32 in -1..1 (how libsndfile scales it)."""
    if samples.dtype == np.float32:
        return samples
    if samples.dtype == np.uint8:
        return (samples.astype(np.float32) - 128.0) / 128.0
    converted = samples.astype(np.float32)
    if samples.dtype.kind == "i":
        converted *= np.float32(1.0 / 2 ** (8 * samples.dtype.itemsize - 1))
    return converted


def content_hash(samples: np.ndarray, sample_rate: int) -> str:
    """Hash of the decoded audio at 16-bit resolution, with its rate and channel count: the
    same clip in WAV or FLAC, at 16 or 24 bits or as floats, hashes alike (the channels are
    kept: a stereo clip and its mono mix are different content)."""
    if samples.dtype == np.int16:
        pcm = samples
    else:
        scaled = np.rint(_as_float(samples) * np.float32(32768.0))
        pcm = np.clip(scaled, -32768, 32767).astype(np.int16)
    digest = hashlib.sha256(f"pcm16|{sample_rate}|{pcm.shape[1]}|".encode())
    digest.update(np.ascontiguousarray(pcm).data)
    return digest.hexdigest()


def measure(samples: np.ndarray, sample_rate: int) -> dict[str, Any]:
    """Every measured column of a decoded clip (frames, channels), integer PCM or float."""
    frames, channels = samples.shape
    row: dict[str, Any] = {
        "sample_rate": sample_rate,
        "channels": channels,
        "frames": frames,
        "duration": frames / sample_rate,
    }
    if frames == 0:
        return row
    row["content_hash"] = content_hash(samples, sample_rate)
    x = _as_float(samples)
    flat = x.reshape(-1)
    peak = float(max(flat.max(), -flat.min()))
    means = x.mean(axis=0, dtype=np.float64)
    row.update(
        rms_dbfs=float(_dbfs(float(np.dot(flat, flat)) / flat.size)),
        peak_dbfs=float(_dbfs(peak * peak)),
        dc_offset=float(means[np.argmax(np.abs(means))]),
    )
    row.update(_clipping(x, peak))
    row.update(_loudness(x, sample_rate))
    mono = x[:, 0] if channels == 1 else x.mean(axis=1, dtype=np.float32)
    row["fingerprint"] = audio_fingerprint(mono, sample_rate)
    return row


def _clipping(x: np.ndarray, peak: float) -> dict[str, Any]:
    """Runs of ``CLIP_MIN_RUN`` or more consecutive samples at the same rail (all at +full
    scale or all at -full scale: a square wave's jumps between them are not flat), per
    channel."""
    if peak < CLIP_LEVEL:
        return {"clipped_fraction": 0.0, "clipped_runs": 0}
    frames, channels = x.shape
    rail = np.zeros((channels, frames + 1), dtype=np.int8)  # a 0 after each channel
    rail[:, :-1] = (x >= CLIP_LEVEL).T
    rail[:, :-1] -= (x <= -CLIP_LEVEL).T
    flat = rail.reshape(-1)
    bounds = np.flatnonzero(np.diff(flat, prepend=np.int8(0), append=np.int8(0)))
    lengths, at_rail = np.diff(bounds), flat[bounds[:-1]] != 0
    runs = lengths[at_rail & (lengths >= CLIP_MIN_RUN)]
    return {"clipped_fraction": float(runs.sum()) / x.size, "clipped_runs": len(runs)}


def _frame_powers(x: np.ndarray, length: int) -> np.ndarray:
    """Mean square of each whole frame of ``length`` samples, over all channels."""
    count = len(x) // length
    blocks = x[: count * length].reshape(count, -1)
    return np.einsum("ij,ij->i", blocks, blocks).astype(np.float64) / blocks.shape[1]


def _loudness(x: np.ndarray, sample_rate: int) -> dict[str, Any]:
    """Silent fraction, the loudest second, and the edge levels that tell a cut clip."""
    frame = max(1, round(FRAME_SECONDS * sample_rate))
    powers = _frame_powers(x, frame)
    if not len(powers):  # shorter than one frame: the clip is its only frame
        powers = _frame_powers(x, len(x))
    silence = 10.0 ** (SILENCE_DBFS / 10.0)
    window = round(LOUDEST_WINDOW_SECONDS / FRAME_SECONDS)
    if len(powers) <= window:
        loudest, start = float(np.dot(x.reshape(-1), x.reshape(-1))) / x.size, 0
    else:
        sums = np.cumsum(np.r_[0.0, powers])
        totals = sums[window:] - sums[:-window]
        start = int(np.argmax(totals))
        loudest = float(totals[start]) / window
    row: dict[str, Any] = {
        "silent_fraction": float(np.mean(powers < silence)),
        "loudest_window_dbfs": float(_dbfs(loudest)),
        "loudest_window_start": start * frame / sample_rate,
    }
    row.update(_edges(x, sample_rate, float(np.percentile(powers, ACTIVE_PERCENTILE))))
    return row


def _edges(x: np.ndarray, sample_rate: int, active: float) -> dict[str, Any]:
    """Levels of the first and last 5 ms relative to the active level, and which edge cuts
    into sound; nothing is judged in a clip whose active level is silence."""
    silence = 10.0 ** (SILENCE_DBFS / 10.0)
    if active <= silence:
        return {"start_edge_db": None, "end_edge_db": None, "truncated": None}
    edge = max(1, round(EDGE_SECONDS * sample_rate))
    head, tail = x[:edge].reshape(-1), x[-edge:].reshape(-1)
    levels = []
    for part in (head, tail):
        power = float(np.dot(part, part)) / part.size
        levels.append((float(_dbfs(power / active)), power > silence))
    cut = [level > TRUNCATION_EDGE_DB and loud for level, loud in levels]
    truncated = {(True, True): "both", (True, False): "start", (False, True): "end"}.get(
        (cut[0], cut[1])
    )
    return {"start_edge_db": levels[0][0], "end_edge_db": levels[1][0], "truncated": truncated}
