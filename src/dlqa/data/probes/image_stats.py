"""Pixel statistics of working images, measured a batch of same-size images at a time.

Brightness, contrast, entropy, luma percentiles and the dominant share come from each image's
256-bin luma histogram; sharpness and relative sharpness from Laplacians at the working size
and at half of it; colorfulness and chroma_p99 from the per-pixel channel spread of the colour
sample; the hashes, grids and colour layouts from ``phash``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from dlqa.data.probes.phash import NEUTRAL_COLOUR, colour_layouts, image_signatures

# A colour image is grayscale stored as colour when nearly all of its pixels are achromatic: the
# CHROMA_PERCENTILE-th percentile of the per-pixel channel spread (max - min, 0..255) stays below
# GRAYSCALE_TOLERANCE. A percentile, not the mean: a red ball on a gray background is colour
# (its mean spread is small, its 99th percentile is not). Measured: gray saved as RGB JPEG
# (quality 30-95, 4:4:4 and 4:2:0) decodes to a spread of 0; independent +-1 / +-2 noise per
# channel (other encoders, resizing) reaches 2 / 4 at the 99th percentile; a faint 3 % blue cut
# measures 7-8 there and a sepia tone ~40. 6 sits between.
GRAYSCALE_TOLERANCE = 6.0
CHROMA_PERCENTILE = 99

# dominant_share counts the pixels within this many levels of the densest band of the luma
# histogram: a blank frame with JPEG or sensor noise (+-3 levels) stays inside the band.
DOMINANT_BAND = 8

# relative_sharpness needs a working image whose short side is at least this (its half-size
# copy then has 16 pixels a side): below, a Laplacian says more about the pixel grid than focus.
MIN_SHARPNESS_SIDE = 32
# Half-size Laplacian variance (gray levels^2, rounding noise removed) below which an image has
# no structure whose focus could be judged (a flat frame, a smooth gradient): relative_sharpness
# is then unknown. Measured on blurred crops of the tune half of the natural set: below ~2, the
# rounding of smooth shading to 0..255 (not the picture) decides the ratio.
STRUCTURE_FLOOR = 2.0
# Laplacian variance of rounding to whole levels (uniform error, variance 1/12; the Laplacian's
# weights square-sum to 20), at the working size and at half size (means of 4: 1/48).
_ROUNDING_NOISE = 20 / 12
_HALF_ROUNDING_NOISE = 20 / 48


def _histogram_statistics(luma: np.ndarray) -> dict[str, np.ndarray]:
    """Brightness, contrast, entropy, luma percentiles and dominant share of each image of a
    (k, h, w) uint8 stack, all from its 256-bin histogram.

    Mean and variance come from integer sums of the histograms (exact, so the same whatever
    the batch); entropy is summed over each image's own histogram.
    """
    k = len(luma)
    flat = luma.reshape(k, -1)
    size = flat.shape[1]
    counts = np.stack([np.bincount(row, minlength=256) for row in flat]).astype(np.int64)
    levels = np.arange(256, dtype=np.int64)
    first, second = counts @ levels, counts @ (levels * levels)
    variance = (second * size - first * first) / float(size * size)
    probabilities = counts / size
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(counts > 0, probabilities * np.log2(probabilities), 0.0)
    cumulative = np.cumsum(counts, axis=1)
    # the densest band of 2 * DOMINANT_BAND + 1 levels, from the cumulative histogram
    padded = np.concatenate([np.zeros((k, 1), np.int64), cumulative], axis=1)
    width = 2 * DOMINANT_BAND + 1
    bands = padded[:, width:] - padded[:, :-width]
    return {
        "brightness": first / size,
        "contrast": np.sqrt(np.maximum(variance, 0.0)),
        "entropy": -terms.sum(axis=1) + 0.0,  # + 0.0 turns -0.0 into 0.0
        "luma_p01": (cumulative < 0.01 * size).sum(axis=1).astype(np.float64),
        "luma_p99": (cumulative < 0.99 * size).sum(axis=1).astype(np.float64),
        "dominant_share": bands.max(axis=1) / size,
    }


def _laplacian_variances(luma: np.ndarray) -> np.ndarray:
    """Variance of the 4-neighbour Laplacian over the interior pixels of each image of a
    (k, h, w) integer stack (uint8 pixels, or sums of 2 x 2 of them), from exact integer sums."""
    k, height, width = luma.shape
    if height < 3 or width < 3:
        return np.zeros(k)
    # int16 holds every value (-8160..8160 for 2 x 2 sums) and keeps the memory traffic low.
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


def _relative_sharpness(luma: np.ndarray, sharpness: np.ndarray) -> np.ndarray:
    """Laplacian variance at the working size over that of the image halved (2 x 2 means).

    Focus, not contrast: both variances scale with contrast squared, so the ratio does not
    change when an image is darker, fainter or mostly smooth (a sky with a sharp bird). A
    step edge gives ~0.5, fine texture or noise up to 4; blur removes the finest scale first,
    so a blurred image falls towards 1/16 (a smooth signal's Laplacian grows 4 x when halved).
    NaN where it cannot be judged: a working short side below MIN_SHARPNESS_SIDE, or no
    structure at the half size (STRUCTURE_FLOOR)."""
    k, height, width = luma.shape
    if min(height, width) < MIN_SHARPNESS_SIDE:
        return np.full(k, np.nan)
    even = luma[:, : height // 2 * 2, : width // 2 * 2].astype(np.int16)
    sums = even[:, 0::2, 0::2] + even[:, 1::2, 0::2] + even[:, 0::2, 1::2] + even[:, 1::2, 1::2]
    # sums are 4 x the means: variance 16 x
    coarse = np.maximum(_laplacian_variances(sums) / 16.0 - _HALF_ROUNDING_NOISE, 0.0)
    fine = np.maximum(sharpness - _ROUNDING_NOISE, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(coarse >= STRUCTURE_FLOOR, fine / coarse, np.nan)


def _colorfulness(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and CHROMA_PERCENTILE-th percentile of the per-pixel max(R, G, B) - min(R, G, B)
    of each image of a (k, H, W, 3) stack."""
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # Elementwise over the three channel planes: a reduction along the last axis of length 3
    # is 30 times slower.
    spread = np.maximum(np.maximum(red, green), blue) - np.minimum(np.minimum(red, green), blue)
    k = len(rgb)
    mean = spread.reshape(k, -1).sum(axis=1, dtype=np.int64) / spread[0].size
    # The percentile from every other pixel of every other row (~4,000 of them, 40 above the
    # 99th percentile): one bincount of (image, spread) codes gives each image's histogram.
    sample = spread[:, ::2, ::2].reshape(k, -1)
    codes = sample.astype(np.int32) + (np.arange(k, dtype=np.int32) * 256)[:, None]
    counts = np.bincount(codes.ravel(), minlength=k * 256).reshape(k, 256)
    below = np.cumsum(counts, axis=1) < sample.shape[1] * CHROMA_PERCENTILE / 100
    percentile = below.sum(axis=1)
    return mean, percentile.astype(np.float64)


# Images of one size whose statistics are computed together: big enough that numpy's
# per-call overhead stops mattering, small enough to keep a worker's memory low.
_STATISTICS_BATCH = 64


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
    sharpness = _laplacian_variances(stack)
    relative = _relative_sharpness(stack, sharpness)
    columns: dict[str, list[Any]] = {
        name: values.tolist() for name, values in _histogram_statistics(stack).items()
    }
    columns["sharpness"] = sharpness.tolist()
    columns["relative_sharpness"] = [None if np.isnan(v) else float(v) for v in relative]
    if images[0][1] is not None:
        rgb = np.stack([pixels for _, pixels in images])
        colorfulness, chroma = _colorfulness(rgb)
        columns["colorfulness"] = colorfulness.tolist()
        columns["chroma_p99"] = chroma.tolist()
        # the column flags colour images whose pixels are (nearly) all gray
        columns["is_grayscale"] = (chroma < GRAYSCALE_TOLERANCE).tolist()
        layouts = colour_layouts(rgb)
    else:
        columns["colorfulness"] = [0.0] * len(images)
        columns["chroma_p99"] = [0.0] * len(images)
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
