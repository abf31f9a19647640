"""Image probe: decode once at a small fixed working size and measure the pixels.

Luma statistics are computed on a working image whose long side is ``WORKING_LONG_SIDE``
(images already smaller are kept as they are); colorfulness on a ~128 x 128 grid of decoded
pixels. JPEGs are decoded straight at a reduced scale with Pillow's ``draft()`` (libjpeg's DCT
scaling), which is what makes profiling faster than a plain full-size decode; other formats are
decoded in full and reduced. Sharpness depends on scale, so fixing the working size keeps it
comparable across images of different resolutions.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image

from dlqa.core.errors import UsageError

# The statistics live in image_stats; GRAYSCALE_TOLERANCE stays importable from here.
from dlqa.data.probes.image_stats import (
    GRAYSCALE_TOLERANCE,  # noqa: F401
    pixel_statistics_many,
)

# Long side of the working image, chosen by measurement (benchmarks/image_profile.py, 600-1200
# px photo-like JPEGs at quality 85-95, 2 cores). Entropy decoding, which no draft scale can
# skip, is ~70 % of a full decode, so every pixel the statistics touch after it counts:
#   long side         128    160    192    224    256
#   probe / decode   1.22   1.12   1.07   1.04   0.97   (single process, interleaved)
#   sharpness kept after a sigma-1.5 full-size blur (median ratio, lower = better seen):
#                    0.81   0.73   0.64   0.56   0.48
# 192 keeps profiling faster than a bare full decode while a mild blur still shows; against a
# full decode brightness stays within 1, contrast 0.4, entropy 0.2 and pHash 4 bits.
WORKING_LONG_SIDE = 192

# Colorfulness is a mean over pixels: a regular grid of about 128 x 128 decoded pixels
# estimates it to a fraction of a unit at a fraction of the cost of resizing the colour image.
COLOUR_GRID_SIDE = 128

_OBJECT_REPR = re.compile(r"<[^<>]* object at 0x[0-9a-fA-F]+>")
# The image columns of the per-sample table (after the common ones of ``data/columns.py``).
IMAGE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("width", pa.int32()),
    pa.field("height", pa.int32()),
    pa.field("aspect_ratio", pa.float32()),  # width / height
    pa.field("mode", pa.string()),  # Pillow mode: "RGB", "L", "RGBA", "P", "CMYK", "I;16", ...
    pa.field("channels", pa.int8()),
    pa.field("colorfulness", pa.float32()),  # mean per-pixel max-min over RGB, 0..255
    pa.field("chroma_p99", pa.float32()),  # 99th percentile of the same: nearly all pixels
    pa.field("is_grayscale", pa.bool_()),  # colour image whose pixels are nearly all achromatic
    pa.field("brightness", pa.float32()),  # mean luma, 0..255
    pa.field("luma_p01", pa.float32()),  # 1st percentile of luma: the deepest shadows
    pa.field("luma_p99", pa.float32()),  # 99th percentile of luma: the brightest highlights
    pa.field("contrast", pa.float32()),  # standard deviation of luma, 0..255
    pa.field("sharpness", pa.float32()),  # variance of the Laplacian at the working size
    # sharpness over that of the half-size image (null: too small or no structure to judge)
    pa.field("relative_sharpness", pa.float32()),
    pa.field("entropy", pa.float32()),  # Shannon entropy of the luma histogram, bits (0..8)
    pa.field("dominant_share", pa.float32()),  # share of pixels in the densest 17-level band
    pa.field("phash", pa.uint64()),  # 64-bit perceptual hash
    pa.field("phash_center", pa.uint64()),  # perceptual hash of the central 95 % (border crops)
    pa.field("grid", pa.binary(256)),  # 16 x 16 luma grid that confirms near-duplicate candidates
    pa.field("grid_center", pa.binary(256)),  # the same of the central 95 %
    pa.field("grid_inner", pa.binary(256)),  # the same of the central 88 % (deeper crops)
    pa.field("colour", pa.binary(32)),  # 4 x 4 opponent-colour layout, confirms candidates too
    pa.field("colour_center", pa.binary(32)),  # the same of the central 95 %
)
_IMAGE_COLUMNS = tuple(field.name for field in IMAGE_FIELDS)

# Numeric properties that outlier checks, diffs and reports summarise.
IMAGE_NUMERIC_PROPERTIES = (
    "width",
    "height",
    "aspect_ratio",
    "brightness",
    "contrast",
    "sharpness",
    "entropy",
    "colorfulness",
    "file_size",
)
IMAGE_HISTOGRAM_PROPERTIES = ("brightness", "contrast", "sharpness", "entropy", "width", "height")


def empty_image_columns() -> dict[str, Any]:
    """The image probe's columns, all unknown."""
    return dict.fromkeys(_IMAGE_COLUMNS)


def working_size(width: int, height: int) -> tuple[int, int]:
    """Size of the working image: long side ``WORKING_LONG_SIDE``, aspect kept, never enlarged."""
    long_side = max(width, height)
    if long_side <= WORKING_LONG_SIDE:
        return width, height
    scale = WORKING_LONG_SIDE / long_side
    return max(1, round(width * scale)), max(1, round(height * scale))


def _high_bit_depth_to_luma(image: Image.Image) -> Image.Image:
    """Map a 16-bit, 32-bit integer or float image onto 0..255 luma.

    ``convert("L")`` would clip (a 16-bit image would turn almost white), so values are scaled
    by the range they were stored in: 16-bit by 257, 0..1 floats by 255, values already within
    0..255 as they are, anything else stretched from its own minimum to maximum.
    """
    low, high = image.getextrema()
    pixels = np.asarray(image.convert("F"), dtype=np.float32)
    if image.mode.startswith("I;16") or (image.mode == "I" and low >= 0 and 255 < high <= 65535):
        pixels = pixels / 257.0
    elif image.mode == "F" and low >= 0 and high <= 1.0:
        pixels = pixels * 255.0
    elif low < 0 or high > 255:
        span = float(high - low) or 1.0
        pixels = (pixels - float(low)) * (255.0 / span)
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="L")


def _to_luma_or_colour(image: Image.Image) -> Image.Image:
    """Convert a decoded image to "L" (single-channel modes), or "RGB"/"YCbCr" (colour)."""
    mode = image.mode
    if mode in ("L", "RGB", "YCbCr"):
        return image
    if mode in ("1", "LA", "La"):
        return image.convert("L")
    if mode in ("I", "F") or mode.startswith("I;16"):
        return _high_bit_depth_to_luma(image)
    if mode == "P" and "transparency" in image.info:
        # Going through RGBA avoids Pillow's warning about byte transparency in palettes.
        return image.convert("RGBA").convert("RGB")
    # RGBA/RGBX/RGBa/PA drop alpha; P, CMYK, LAB and HSV map to RGB.
    return image.convert("RGB")


def decode_working_image(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    """Decode an opened image once; return its working luma and its colour image.

    Colour JPEGs are decoded as YCbCr: Y is the luma the statistics need (the same BT.601
    weights as Pillow's RGB -> L), so libjpeg's colour conversion is skipped; only the small
    colorfulness grid is converted to RGB.
    """
    target = working_size(*image.size)
    if image.format == "JPEG":
        # libjpeg picks the largest 1/1, 1/2, 1/4 or 1/8 scale that stays >= target, so the
        # final resize below always reduces, as it does after a full decode.
        size = target if target != image.size else None
        image.draft("YCbCr" if image.mode == "RGB" else None, size)
    image.load()
    return to_working_image(image, target)


def to_working_image(
    image: Image.Image, target: tuple[int, int] | None = None
) -> tuple[Image.Image, Image.Image]:
    """A loaded image as (luma at ``target`` size, "L", "RGB" or "YCbCr" image for colour).

    After ``draft()`` the image is already smaller than its header size, so the caller passes
    the target computed from the header: a draft and a full decode then end at the same size.
    Only luma is resized (a third of the work of resizing RGB): colorfulness is a per-pixel
    mean, which a regular grid of the decoded pixels estimates without resizing anything.
    """
    decoded = _to_luma_or_colour(image)
    target = target or working_size(*decoded.size)
    if decoded.mode == "L":
        luma = decoded
    elif decoded.mode == "YCbCr":
        luma = decoded.getchannel(0)
    else:
        luma = decoded.convert("L")
    if luma.size != target:
        luma = luma.resize(target, Image.Resampling.BOX, reducing_gap=2.0)
    return luma, decoded


def _colour_sample(colour: Image.Image) -> np.ndarray:
    """RGB pixels on a grid of about COLOUR_GRID_SIDE^2 (a sample, not a resize)."""
    width, height = colour.size
    stride = max(1, math.ceil(max(width, height) / COLOUR_GRID_SIDE))
    if stride > 1:
        # NEAREST picks one pixel per grid cell: a sample of the pixels, not an average.
        grid_size = (math.ceil(width / stride), math.ceil(height / stride))
        colour = colour.resize(grid_size, Image.Resampling.NEAREST)
    return np.asarray(colour if colour.mode == "RGB" else colour.convert("RGB"))


def colour_pixels(colour: Image.Image) -> np.ndarray | None:
    """What the statistics need of the colour image: the RGB sample, or None for "L"."""
    return None if colour.mode == "L" else _colour_sample(colour)


def pixel_statistics(luma: Image.Image, colour: Image.Image) -> dict[str, Any]:
    """Brightness, contrast, entropy, sharpness and pHash of the working luma, and the
    colorfulness of the decoded colour image ("L" for single-channel images: colorfulness 0)."""
    return pixel_statistics_many([(luma, colour_pixels(colour))])[0]


def _declares_more_bytes(data: bytes) -> bool:
    """True when a RIFF (WebP) header promises more bytes than there are.

    libwebp reports a cut-off file only as "could not create decoder object"; the container's
    own length field tells truncation apart from garbage.
    """
    if data[:4] != b"RIFF" or len(data) < 8:
        return False
    return int.from_bytes(data[4:8], "little") + 8 > len(data)


def _decode_error(exc: BaseException, data: bytes) -> tuple[str, str]:
    """Classify a decoding failure as "truncated" or "corrupt", with a readable detail."""
    # Pillow names the in-memory buffer ("<_io.BytesIO object at 0x7f...>"): noise that would
    # also make identical runs differ.
    detail = _OBJECT_REPR.sub("", f"{type(exc).__name__}: {exc}").strip()
    message = detail.lower()
    if isinstance(exc, EOFError) or "truncated" in message or _declares_more_bytes(data):
        return "truncated", detail
    return "corrupt", detail


# What the statistics need of one decoded image: its working luma and ``colour_pixels``.
ImageWork = tuple[Image.Image, "np.ndarray | None"]

# EXIF Orientation (tag 0x0112) -> the transpose that shows the picture upright, as viewers
# and ImageOps.exif_transpose apply it; 5 to 8 swap width and height.
_ORIENTATION_TAG = 0x0112
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def exif_orientation(image: Image.Image) -> int:
    """The image's EXIF Orientation (1 = upright; 1 when absent or unreadable)."""
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # a malformed EXIF block is not a reason to reject the pixels
        return 1
    return value if value in _UPRIGHT else 1


def _upright(work: ImageWork, orientation: int) -> ImageWork:
    """The working luma and colour sample turned upright: cheap, both are small."""
    method = _UPRIGHT.get(orientation)
    if method is None:
        return work
    luma, rgb = work
    if rgb is not None:
        rgb = np.asarray(Image.fromarray(rgb).transpose(method))
    return luma.transpose(method), rgb


def decode_image_bytes(data: bytes) -> tuple[dict[str, Any], ImageWork | None]:
    """Decode encoded image bytes once: the image probe's columns known so far (size, mode,
    ``error``/``error_detail``) and what ``pixel_statistics_many`` needs, or None when the
    data does not decode. The decoded image itself is not kept (it may be large)."""
    row = empty_image_columns()
    row["error"] = None
    row["error_detail"] = None
    try:
        with Image.open(io.BytesIO(data)) as image:
            # What a viewer (and ImageOps.exif_transpose in a loader) shows: a portrait phone
            # photo stored landscape with Orientation 6 measures, and hashes, as portrait.
            orientation = exif_orientation(image)
            width, height = image.size
            if orientation >= 5:
                width, height = height, width
            row.update(
                width=width,
                height=height,
                aspect_ratio=width / height if height else None,
                mode=image.mode,
                channels=len(image.getbands()),
            )
            luma, colour = decode_working_image(image)
            work = _upright((luma, colour_pixels(colour)), orientation)
    except Image.DecompressionBombError as exc:
        row["error"], row["error_detail"] = "corrupt", f"DecompressionBombError: {exc}"
        return row, None
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error...
        row["error"], row["error_detail"] = _decode_error(exc, data)
        return row, None
    return row, work


def probe_image_bytes(data: bytes) -> dict[str, Any]:
    """The image probe's columns for encoded image bytes, plus ``error``/``error_detail``.

    Undecodable data is a finding: ``error`` is "truncated" when the data stops early and
    "corrupt" otherwise (including decompression bombs); the exception never escapes.
    """
    row, work = decode_image_bytes(data)
    if work is not None:
        row.update(pixel_statistics_many([work])[0])
    return row


def probe_array(arr: np.ndarray) -> dict[str, Any]:
    """Image properties of an in-memory uint8 array (H, W), (H, W, 3) or (H, W, 4).

    ``sha256`` hashes the shape, dtype and pixel bytes; file columns are absent. A wrong shape
    or dtype raises UsageError.
    """
    if not isinstance(arr, np.ndarray):
        raise UsageError(f"expected a numpy array, got {type(arr).__name__}")
    if arr.dtype != np.uint8:
        raise UsageError(
            f"image arrays must be uint8, got {arr.dtype}",
            hint="scale to 0..255 and convert with arr.astype(np.uint8)",
        )
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3, 4))):
        raise UsageError(
            f"image arrays must have shape (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}",
            hint="move the channel axis last, e.g. arr.transpose(1, 2, 0) for (C, H, W)",
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise UsageError(f"image array has no pixels: shape {arr.shape}")
    pixels = np.ascontiguousarray(arr[..., 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr)
    digest = hashlib.sha256(f"{pixels.shape}|{pixels.dtype}|".encode())
    digest.update(pixels.tobytes())

    image = Image.fromarray(pixels)
    height, width = pixels.shape[:2]
    row = empty_image_columns()
    row.update(
        width=width,
        height=height,
        aspect_ratio=width / height,
        mode=image.mode,
        channels=len(image.getbands()),
        sha256=digest.hexdigest(),
        error=None,
        error_detail=None,
    )
    row.update(pixel_statistics(*to_working_image(image)))
    return row
