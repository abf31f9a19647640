"""Decoding what a serving path receives, with a clear error for what it cannot take.

Each kind of unusual input gets a documented handling or an :class:`InputError` naming it,
never a crash and never silent garbage:

* empty or corrupt image file: InputError ("not an image": Pillow's reason);
* image modes: L, P, LA, RGBA, CMYK, I;16 and I and F are all converted to the spec's colour
  mode. Transparency is composited over white (a transparent background reads as paper, not
  as black ink). 16-bit and 32-bit integer images are scaled to 8 bits by their type's range
  (``I;16`` by 257), not clipped, so a 16-bit PNG looks as it does in a viewer; float images
  ("F") are taken as 0..1 when their maximum is at most 1, else as 0..255; a float image with
  NaN or infinite pixels: InputError;
* a side under :data:`MIN_SIDE` pixels: InputError (a 1x1 image resized to the model's input
  is a flat colour, an answer about nothing);
* more than :data:`MAX_PIXELS` pixels: InputError before decoding (Pillow's decompression
  bomb limit; a real photograph is far smaller);
* audio at another sample rate: resampled to the model's (documented in the spec); an empty
  or silent-length file: InputError;
* empty or whitespace-only text: InputError;
* arrays with NaN or infinite values, or of the wrong shape: InputError.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

MIN_SIDE = 8
MAX_PIXELS = 64_000_000
_OBJECT_REPR = re.compile(r" ?<[^<>]* object at 0x[0-9a-fA-F]+>")


class InputError(ValueError):
    """One input the serving path refuses, with why; the caller's other inputs are fine."""


def _open(source: bytes | Path | str) -> Any:
    from PIL import Image

    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if not data:
        raise InputError("empty file: 0 bytes")
    # The size is checked here, from the header, not through Pillow's global
    # MAX_IMAGE_PIXELS and a warnings filter: a server decodes in threads, and another
    # thread restoring either would let a bomb through. Pillow's own warning is noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))  # reads the header only
            if image.width * image.height > MAX_PIXELS:
                raise Image.DecompressionBombError(f"{image.width}x{image.height}")
            image.load()
        except Image.DecompressionBombError:
            raise InputError(f"image over {MAX_PIXELS:,} pixels: refused before decoding") from None
        except Exception as exc:  # Pillow raises many types for a bad file
            reason = _OBJECT_REPR.sub("", str(exc))  # no "<_io.BytesIO object at 0x...>"
            raise InputError(f"not a readable image: {type(exc).__name__}: {reason}") from None
    return image


def decode_image(source: bytes | Path | str) -> Any:
    """A PIL image in mode RGB or L from file bytes or a path (see the module docstring)."""
    image = _open(source)
    if min(image.size) < MIN_SIDE:
        raise InputError(
            f"image {image.width}x{image.height} has a side under {MIN_SIDE} pixels: "
            "too small to classify"
        )
    return to_standard_mode(image)


def to_standard_mode(image: Any) -> Any:
    """``image`` as mode RGB or L, by the handling the module docstring documents."""
    from PIL import Image

    mode = image.mode
    if mode in ("RGB", "L"):
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        if not np.isfinite(pixels).all():  # a float TIFF can hold NaN: no grey level for it
            raise InputError(f"image (mode {mode}) holds NaN or infinite pixel values")
        if mode.startswith("I;16"):
            pixels = pixels / 257.0
        elif mode == "I":
            pixels = pixels / 257.0 if pixels.max(initial=0) > 255 else pixels
        elif pixels.max(initial=0) <= 1.0:
            pixels = pixels * 255.0
        return Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8), "L")
    if mode in ("P", "PA") or "A" in mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode == "1":
        return image.convert("L")
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV


def finite_batch(batch: Any, shape: tuple[Any, ...], name: str = "input") -> np.ndarray:
    """``batch`` as a float32 array checked against the model's input ``shape`` (named axes
    are free) and for NaN and infinite values."""
    array = np.asarray(batch)
    if array.dtype.kind not in "fiu":
        raise InputError(f"{name} has dtype {array.dtype}; the model takes numbers")
    if array.ndim != len(shape) or any(
        isinstance(want, int) and want != got for want, got in zip(shape, array.shape, strict=False)
    ):
        raise InputError(f"{name} has shape {tuple(array.shape)}; the model takes {list(shape)}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).reshape(len(array), -1).any(axis=1).sum())
        raise InputError(f"{name}: {bad} of {len(array)} row(s) hold NaN or infinite values")
    return array


def read_audio(source: bytes | Path | str) -> tuple[np.ndarray, int]:
    """(samples, channels) float32 and the file's sample rate; InputError for an empty or
    unreadable file."""
    import soundfile

    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if not data:
        raise InputError("empty file: 0 bytes")
    try:
        audio, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError
        raise InputError(f"not a readable audio file: {_OBJECT_REPR.sub('', str(exc))}") from None
    if len(audio) == 0:
        raise InputError("audio file holds no samples")
    return audio, int(rate)


def check_text(text: Any) -> str:
    if not isinstance(text, str):
        raise InputError(f"expected a text, got {type(text).__name__}")
    if not text.strip():
        raise InputError("empty text")
    return text


__all__ = [
    "MAX_PIXELS",
    "MIN_SIDE",
    "InputError",
    "check_text",
    "decode_image",
    "finite_batch",
    "read_audio",
    "to_standard_mode",
]
