"""The unexpected inputs :mod:`dlqa.deploy.robustness` feeds a serving path, made on the fly.

Each kind is a :class:`Probe`: the payload (file bytes, or a batch of model inputs), what a
person should read it as, whether the documented handling refuses or answers it, the words a
clear refusal names, and for a conversion the equivalent standard input it must answer as.
Images start from a natural-looking base (a lit gradient, a shape, texture), not a flat
colour, so that a conversion that shifts pixels shows in the answer. The "huge" image is a
valid, fully encoded 1-bit PNG just over :data:`~dlqa.deploy.inputs.MAX_PIXELS` (a few KB on
disk; megabytes, not gigabytes, even for a serving path that decodes it).
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from dlqa.deploy.inputs import MAX_PIXELS, MIN_SIDE

EXACT_ATOL = 1e-4  # equivalent inputs give identical model inputs: only float noise is allowed
RESAMPLED_ATOL = 0.05  # resampling changes the waveform slightly; the answer should not move
DEFAULT_TEXT = "the team won the match in the park while the cat sat on the mat"
LONG_TEXT_CHARS = 200_000
NON_ASCII_TEXT = "Café naïve façade: 日本語のテキスト, Ελληνικά, Привет, emoji 😀🚀"
Make = Callable[[], "Probe"]


@dataclass(frozen=True)
class Probe:
    """One unexpected input and its documented handling."""

    kind: str
    fed: str  # what was fed, in words
    expect: str  # "refuse", "answer" or "either"
    handling: str  # the documented handling, in words
    payload: bytes | np.ndarray
    keywords: tuple[str, ...] = ()  # a clear refusal names one of these (lower case)
    reference: bytes | np.ndarray | None = None  # the equivalent standard input
    reference_fed: str = ""
    atol: float = EXACT_ATOL
    suffix: str = ".bin"


# -- images ------------------------------------------------------------------------------------
def natural_image(seed: int = 0, size: tuple[int, int] = (48, 64)) -> Any:
    """An RGB photograph-like image: a lit gradient, a shape and texture noise."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    light = 70 + 90 * (xx / w) + 35 * np.sin(yy / 4.0)
    rgb = np.stack([light + rng.normal(0, 14, light.shape) + 25 * c for c in range(3)], axis=-1)
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    ImageDraw.Draw(image).ellipse((w // 5, h // 4, w // 5 + w // 2, h // 4 + h // 2),
                                  fill=(190, 60, 40))  # fmt: skip
    return image


def encode(image: Any, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _chunk(tag: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(tag + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)


def huge_png(side: int) -> bytes:
    """A valid 1-bit ``side`` x ``side`` PNG of a checkerboard: tiny on disk, huge decoded."""
    row_bytes = (side + 7) // 8
    rows = np.arange(side)[:, None] // 64 + np.arange(row_bytes)[None, :] // 8
    raw = np.zeros((side, row_bytes + 1), dtype=np.uint8)  # column 0: filter type "none"
    raw[:, 1:] = (rows % 2) * 255
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + _chunk(b"IEND", b""))  # fmt: skip


def _refused(kind: str, fed: str, handling: str, payload: bytes, *words: str, suffix: str) -> Probe:
    return Probe(kind, fed, "refuse", handling, payload, keywords=words, suffix=suffix)


def _converted(kind: str, fed: str, payload: bytes, reference: bytes, ref_fed: str,
               handling: str, suffix: str = ".png") -> Probe:  # fmt: skip
    return Probe(kind, fed, "answer", handling, payload, reference=reference,
                 reference_fed=ref_fed, suffix=suffix)  # fmt: skip


def image_probes() -> dict[str, Make]:
    from PIL import Image

    base = natural_image()
    gray = base.convert("L")
    levels = np.asarray(gray)
    png = encode(base)
    rgba = base.convert("RGBA")
    alpha = np.zeros(levels.shape, np.uint8)
    alpha[8:-8, 8:-8] = 255
    rgba.putalpha(Image.fromarray(alpha, "L"))
    on_white = np.where(alpha[..., None] == 255, np.asarray(base), 255).astype(np.uint8)
    float_px = levels.astype(np.float32) / 255.0
    with_nan = float_px.copy()
    with_nan[10:14, 10:14] = np.nan
    quantized = base.quantize(64)
    side = math.isqrt(MAX_PIXELS) + 1
    return {
        "corrupt_file": lambda: _refused(
            "corrupt_file", "PNG signature followed by random bytes", "InputError: not an image",
            b"\x89PNG\r\n\x1a\n" + np.random.default_rng(0).bytes(600),
            "image", "readable", "corrupt", suffix=".png"),
        "truncated_file": lambda: _refused(
            "truncated_file", "the first half of a PNG", "InputError: not an image",
            png[: len(png) // 2], "truncated", "readable", "image", suffix=".png"),
        "empty_file": lambda: _refused(
            "empty_file", "a 0-byte file", "InputError: empty file", b"", "empty", "0 bytes",
            suffix=".png"),
        "grayscale": lambda: _converted(
            "grayscale", "a mode L (grayscale) PNG", encode(gray),
            encode(Image.merge("RGB", [gray] * 3)), "the same grey levels as an RGB PNG",
            "L is converted to the model's colour mode"),
        "palette": lambda: _converted(
            "palette", "a mode P (64-colour palette) PNG", encode(quantized),
            encode(quantized.convert("RGB")), "its colours as an RGB PNG",
            "P is converted through RGBA"),
        "rgba": lambda: _converted(
            "rgba", "an RGBA PNG with an opaque alpha channel", encode(base.convert("RGBA")),
            png, "its RGB version", "alpha composited over white"),
        "transparent_background": lambda: _converted(
            "transparent_background", "an RGBA PNG with a transparent border", encode(rgba),
            encode(Image.fromarray(on_white, "RGB")), "the RGB image with a white border",
            "transparency composited over white (paper, not black ink)"),
        "cmyk": lambda: _converted(
            "cmyk", "a CMYK TIFF", encode(base.convert("CMYK"), "TIFF"), png,
            "its RGB version", "CMYK converted to RGB", suffix=".tiff"),
        "png_16bit": lambda: _converted(
            "png_16bit", "a 16-bit grayscale PNG (8-bit levels x 257)",
            encode(Image.fromarray(levels.astype(np.uint16) * 257)), encode(gray),
            "the 8-bit grayscale PNG", "16-bit scaled to 8 bits by 257, not clipped"),
        "float_tiff": lambda: _converted(
            "float_tiff", "a 32-bit float (mode F) TIFF with values in 0..1",
            encode(Image.fromarray(float_px, "F"), "TIFF"), encode(gray),
            "the 8-bit grayscale PNG", "float 0..1 taken as 0..255", suffix=".tiff"),
        "float_tiff_nan": lambda: _refused(
            "float_tiff_nan", "a float TIFF with a block of NaN pixels",
            "InputError: NaN pixels have no grey level",
            encode(Image.fromarray(with_nan, "F"), "TIFF"), "nan", "finite", suffix=".tiff"),
        "tiny_1x1": lambda: _refused(
            "tiny_1x1", "a 1x1 PNG", f"InputError: a side under {MIN_SIDE} pixels",
            encode(base.resize((1, 1))), "pixel", "small", suffix=".png"),
        "huge_image": lambda: _refused(
            "huge_image", f"a valid {side}x{side} 1-bit PNG ({side * side:,} pixels)",
            f"InputError before decoding: over {MAX_PIXELS:,} pixels",
            huge_png(side), "pixels", "large", "bomb", suffix=".png"),
    }  # fmt: skip


# -- audio -------------------------------------------------------------------------------------
def tone(rate: int, seconds: float) -> np.ndarray:
    """A voice-like float32 signal (harmonics with vibrato and a swell), all under 2 kHz."""
    t = np.arange(int(round(rate * seconds))) / rate
    pitch = 2 * np.pi * (180 * t + 3 * np.sin(2 * np.pi * 5 * t))
    voice = sum(np.sin(k * pitch) / k for k in (1, 2, 3, 5))
    envelope = 0.3 + 0.25 * np.sin(np.pi * t / max(seconds, 1e-3))
    return (envelope * voice * 0.5).astype(np.float32)


def wav(samples: np.ndarray, rate: int, subtype: str = "FLOAT") -> bytes:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def audio_probes(spec: Any) -> dict[str, Make]:
    rate = int(spec.sample_rate)
    seconds = float(spec.duration or 1.0) + float(spec.offset)
    other = 44_100 if rate != 44_100 else 16_000
    mono = tone(rate, seconds)
    stereo = np.stack([mono, 0.5 * mono], axis=1)
    mixed = stereo.mean(axis=1, dtype=np.float32)
    broken = mono.copy()
    broken[len(broken) // 3 : len(broken) // 3 + 16] = np.nan
    return {
        "corrupt_file": lambda: _refused(
            "corrupt_file", "a RIFF header followed by random bytes",
            "InputError: not a readable audio file",
            b"RIFF\x24\x10\x00\x00WAVE" + np.random.default_rng(0).bytes(600),
            "audio", "readable", suffix=".wav"),
        "empty_file": lambda: _refused(
            "empty_file", "a 0-byte file", "InputError: empty file", b"", "empty", "0 bytes",
            suffix=".wav"),
        "empty_audio": lambda: _refused(
            "empty_audio", "a valid WAV with no samples", "InputError: no samples",
            wav(np.zeros((0, 1), np.float32), rate), "no samples", "empty", suffix=".wav"),
        "stereo": lambda: _converted(
            "stereo", "a 2-channel WAV (right = half the left)", wav(stereo, rate),
            wav(mixed, rate), "the mean of its channels as mono", "channels averaged to mono",
            suffix=".wav"),
        "wrong_sample_rate": lambda: Probe(
            "wrong_sample_rate", f"the same sound at {other} Hz (the model takes {rate} Hz)",
            "answer", "resampled to the model's rate", wav(tone(other, seconds), other),
            reference=wav(mono, rate), reference_fed=f"the sound recorded at {rate} Hz",
            atol=RESAMPLED_ATOL, suffix=".wav"),
        "nan_audio_file": lambda: _refused(
            "nan_audio_file", "a float WAV with 16 NaN samples",
            "InputError: NaN or infinite values", wav(broken, rate), "nan", suffix=".wav"),
    }  # fmt: skip


# -- text --------------------------------------------------------------------------------------
def text_probes(spec: Any, base: str) -> dict[str, Make]:
    words = base.split() or DEFAULT_TEXT.split()
    prefix = " ".join(words[i % len(words)] for i in range(spec.max_length))
    tail = (" " + " ".join(words)) * (LONG_TEXT_CHARS // (len(base) + 1) + 1)
    return {
        "empty_text": lambda: _refused(
            "empty_text", "an empty text", "InputError: empty text", b"", "empty", suffix=".txt"),
        "whitespace_text": lambda: _refused(
            "whitespace_text", "a text of spaces, tabs and newlines",
            "InputError: empty text", b" \n\t  \n", "empty", suffix=".txt"),
        "very_long_text": lambda: Probe(
            "very_long_text", f"a text of {len(prefix) + len(tail):,} characters", "answer",
            f"cut to max_length={spec.max_length} tokens", (prefix + tail).encode(),
            reference=prefix.encode(), reference_fed=f"its first {spec.max_length} words",
            suffix=".txt"),
        "non_ascii_text": lambda: Probe(
            "non_ascii_text", "accented, CJK, Greek, Cyrillic text and emoji", "either",
            "answered (unknown tokens as the tokenizer's unknown token) or a clear refusal",
            NON_ASCII_TEXT.encode("utf-8"), suffix=".txt"),
        "non_utf8_file": lambda: _refused(
            "non_utf8_file", "a text file in Latin-1 (not UTF-8)",
            "InputError: not UTF-8 text", "café déjà vu".encode("latin-1") + b"\xff\xfe",
            "utf-8", "utf8", "encoding", "decode", "unicode", suffix=".txt"),
    }  # fmt: skip


# -- model inputs ------------------------------------------------------------------------------
def _with(base: np.ndarray, value: float) -> np.ndarray:
    """A batch of two: ``base``, and ``base`` with its first element set to ``value``."""
    bad = base.astype(np.float32).copy()
    bad.reshape(-1)[0] = value
    return np.stack([base.astype(np.float32), bad])


def tensor_probes(
    base: np.ndarray, shape: tuple[Any, ...], *, ids: bool = False, vocab: int | None = None
) -> dict[str, Make]:
    """Kinds fed straight to ``predict_arrays``: what a client sending arrays can get wrong."""
    probes: dict[str, Make] = {
        "nan_tensor": lambda: _refused(
            "nan_tensor", "a batch of 2 whose second row holds a NaN",
            "InputError: NaN or infinite values", _with(base, math.nan), "nan", suffix=".npy"),
        "inf_tensor": lambda: _refused(
            "inf_tensor", "a batch of 2 whose second row holds +inf",
            "InputError: NaN or infinite values", _with(base, math.inf), "inf", suffix=".npy"),
        "unbatched_tensor": lambda: _refused(
            "unbatched_tensor", f"one input of shape {base.shape} without the batch axis",
            "InputError: wrong shape", base, "shape", suffix=".npy"),
    }  # fmt: skip
    if isinstance(shape[-1], int):
        longer = np.concatenate([base, base[..., :1]], axis=-1)[None]
        probes["wrong_shape_tensor"] = lambda: _refused(
            "wrong_shape_tensor", f"a batch of shape {longer.shape} (model: {list(shape)})",
            "InputError: wrong shape", longer, "shape", suffix=".npy")  # fmt: skip
    if ids:
        top = vocab if vocab is not None else 2**31 - 1
        where = f"vocabulary: 0..{vocab - 1}" if vocab is not None else "beyond any vocabulary"
        for kind, value in (("out_of_range_ids", top), ("negative_ids", -1)):
            batch = base.copy()[None]
            batch.reshape(-1)[0] = value
            probes[kind] = partial(
                _refused, kind, f"token id {value} ({where})",
                "InputError: a token id outside the vocabulary", batch, "vocab", "range",
                "token id", suffix=".npy")  # fmt: skip
    return probes


def vocab_size(predictor: Any) -> int | None:
    try:
        from tokenizers import Tokenizer

        return int(Tokenizer.from_file(str(predictor.folder / predictor.spec.tokenizer))
                   .get_vocab_size())  # fmt: skip
    except Exception:  # no readable tokenizer: the id kinds use an id beyond any vocabulary
        return None


def probes_for(predictor: Any) -> dict[str, Make]:
    """The kinds that apply to the bundle's modality, each made when called."""
    modality = predictor.modality
    if modality == "image":
        probes, base_file = image_probes(), encode(natural_image())
    elif modality == "audio":
        spec = predictor.spec
        probes = audio_probes(spec)
        base_file = wav(tone(int(spec.sample_rate), float(spec.duration or 1.0)), spec.sample_rate)
    else:
        base = _golden_text(predictor) or DEFAULT_TEXT
        probes, base_file = text_probes(predictor.spec, base), base.encode("utf-8")
    is_ids = (predictor.manifest.get("input") or {}).get("dtype") == "int64"
    try:
        base_input = np.asarray(predictor.preprocess_file(base_file))
    except Exception as exc:  # every tensor kind needs one valid input
        message = f"the serving path does not take a plain {modality} input: {exc}"

        def fail() -> Probe:
            raise RuntimeError(message)

        return {**probes, "nan_tensor": fail}
    vocab = vocab_size(predictor) if is_ids else None
    shape = tuple(predictor.input_shape)
    return {**probes, **tensor_probes(base_input, shape, ids=is_ids, vocab=vocab)}


def _golden_text(predictor: Any) -> str | None:
    for _, path, _ in predictor.golden_pairs() if hasattr(predictor, "golden_pairs") else []:
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if len(text.split()) >= 3:
            return text
    return None


__all__ = [
    "Probe",
    "encode",
    "huge_png",
    "natural_image",
    "probes_for",
    "tone",
    "vocab_size",
    "wav",
]
