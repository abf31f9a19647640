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
from dlqa.data.probes.phash import NEUTRAL_COLOUR, colour_layouts, image_signatures

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

# A colour image whose mean per-pixel channel spread (max - min, 0..255) stays below this is
# grayscale stored as colour. Measured: gray saved as RGB JPEG (quality 50-95, 4:4:4 and 4:2:0)
# decodes to a spread of 0.0; independent +-1 / +-2 noise per channel (other encoders, resizing)
# gives 1.3 / 2.4; a faint 3 % blue cut measures 4.3-6.9 and a sepia tone ~21. 3 sits between.
GRAYSCALE_TOLERANCE = 3.0

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
    pa.field("is_grayscale", pa.bool_()),  # colour image whose channels are effectively equal
    pa.field("brightness", pa.float32()),  # mean luma, 0..255
    pa.field("contrast", pa.float32()),  # standard deviation of luma, 0..255
    pa.field("sharpness", pa.float32()),  # variance of the Laplacian at the working size
    pa.field("entropy", pa.float32()),  # Shannon entropy of the luma histogram, bits (0..8)
    pa.field("phash", pa.uint64()),  # 64-bit perceptual hash
    pa.field("phash_center", pa.uint64()),  # perceptual hash of the central 95 % (border crops)
    pa.field("grid", pa.binary(256)),  # 16 x 16 luma grid that confirms near-duplicate candidates
    pa.field("grid_center", pa.binary(256)),  # the same of the central 95 %
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


def _histogram_statistics(luma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Brightness, contrast and entropy of each image of a (k, h, w) uint8 stack.

    Mean and variance come from integer sums of the 256-bin histograms (exact, so the same
    whatever the batch); entropy is summed over each image's own histogram.
    """
    k = len(luma)
    flat = luma.reshape(k, -1)
    size = flat.shape[1]
    counts = np.stack([np.bincount(row, minlength=256) for row in flat]).astype(np.int64)
    levels = np.arange(256, dtype=np.int64)
    first, second = counts @ levels, counts @ (levels * levels)
    brightness = first / size
    variance = (second * size - first * first) / float(size * size)
    contrast = np.sqrt(np.maximum(variance, 0.0))
    probabilities = counts / size
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(counts > 0, probabilities * np.log2(probabilities), 0.0)
    entropy = -terms.sum(axis=1) + 0.0  # + 0.0 turns -0.0 into 0.0
    return brightness, contrast, entropy


def _laplacian_variances(luma: np.ndarray) -> np.ndarray:
    """Variance of the 4-neighbour Laplacian over the interior pixels of each image of a
    (k, h, w) uint8 stack, from exact integer sums."""
    k, height, width = luma.shape
    if height < 3 or width < 3:
        return np.zeros(k)
    # int16 holds every value (-1020..1020) and keeps the memory traffic low.
    pixels = luma.astype(np.int16)
    laplacian = pixels[:, :-2, 1:-1] + pixels[:, 2:, 1:-1]
    laplacian += pixels[:, 1:-1, :-2]
    laplacian += pixels[:, 1:-1, 2:]
    laplacian -= 4 * pixels[:, 1:-1, 1:-1]
    values = laplacian.reshape(k, -1)
    count = values.shape[1]
    first = values.sum(axis=1, dtype=np.int64)
    wide = values.astype(np.int32)
    second = np.einsum("ij,ij->i", wide, wide, dtype=np.int64)
    return np.maximum((second * count - first * first) / float(count * count), 0.0)


def _colorfulness(rgb: np.ndarray) -> np.ndarray:
    """Mean per-pixel max(R, G, B) - min(R, G, B) of each image of a (k, H, W, 3) stack."""
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # Elementwise over the three channel planes: a reduction along the last axis of length 3
    # is 30 times slower.
    spread = np.maximum(np.maximum(red, green), blue) - np.minimum(np.minimum(red, green), blue)
    k = len(rgb)
    return spread.reshape(k, -1).sum(axis=1, dtype=np.int64) / spread[0].size


# Images of one size whose statistics are computed together: big enough that numpy's
# per-call overhead stops mattering, small enough to keep a worker's memory low.
_STATISTICS_BATCH = 64


def pixel_statistics(luma: Image.Image, colour: Image.Image) -> dict[str, Any]:
    """Brightness, contrast, entropy, sharpness and pHash of the working luma, and the
    colorfulness of the decoded colour image ("L" for single-channel images: colorfulness 0)."""
    return pixel_statistics_many([(luma, colour_pixels(colour))])[0]


def pixel_statistics_many(
    images: list[tuple[Image.Image, np.ndarray | None]],
) -> list[dict[str, Any]]:
    """``pixel_statistics`` of many images: (working luma, ``colour_pixels``) pairs.

    Images of the same working size are measured as stacks, a batch at a time: per image,
    only the decode and two small resizes stay in Python. The values do not depend on the
    batch (integer sums, and each image its own slice of every matrix product).
    """
    results: list[dict[str, Any]] = [{} for _ in images]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, (luma, rgb) in enumerate(images):
        key = (luma.size, None if rgb is None else rgb.shape)
        groups.setdefault(key, []).append(index)
    for members in groups.values():
        for start in range(0, len(members), _STATISTICS_BATCH):
            batch = members[start : start + _STATISTICS_BATCH]
            rows = _same_size_statistics([images[i] for i in batch])
            for index, row in zip(batch, rows, strict=True):
                results[index] = row
    return results


def _same_size_statistics(
    images: list[tuple[Image.Image, np.ndarray | None]],
) -> list[dict[str, Any]]:
    lumas = [luma for luma, _ in images]
    stack = np.stack([np.asarray(luma) for luma in lumas])
    brightness, contrast, entropy = _histogram_statistics(stack)
    columns: dict[str, list[Any]] = {
        "brightness": brightness.tolist(),
        "contrast": contrast.tolist(),
        "entropy": entropy.tolist(),
        "sharpness": _laplacian_variances(stack).tolist(),
    }
    if images[0][1] is not None:
        rgb = np.stack([pixels for _, pixels in images])
        colorfulness = _colorfulness(rgb)
        columns["colorfulness"] = colorfulness.tolist()
        # the column flags colour images that hold gray pixels
        columns["is_grayscale"] = (colorfulness < GRAYSCALE_TOLERANCE).tolist()
        layouts = colour_layouts(rgb)
    else:
        columns["colorfulness"] = [0.0] * len(images)
        columns["is_grayscale"] = [False] * len(images)
        layouts = [{"colour": NEUTRAL_COLOUR, "colour_center": NEUTRAL_COLOUR}] * len(images)
    signatures = image_signatures(lumas, stack)
    return [
        {
            **{name: values[k] for name, values in columns.items()},
            **signatures[k],
            **layouts[k],
        }
        for k in range(len(images))
    ]


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


def decode_image_bytes(data: bytes) -> tuple[dict[str, Any], ImageWork | None]:
    """Decode encoded image bytes once: the image probe's columns known so far (size, mode,
    ``error``/``error_detail``) and what ``pixel_statistics_many`` needs, or None when the
    data does not decode. The decoded image itself is not kept (it may be large)."""
    row = empty_image_columns()
    row["error"] = None
    row["error_detail"] = None
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            row.update(
                width=width,
                height=height,
                aspect_ratio=width / height if height else None,
                mode=image.mode,
                channels=len(image.getbands()),
            )
            luma, colour = decode_working_image(image)
            work = (luma, colour_pixels(colour))
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
