"""64-bit perceptual hashes (DCT hash): robust to resizing, re-encoding and brightness.

The hash keeps the signs, relative to their median, of the 8 x 8 lowest-frequency DCT
coefficients of the image reduced to 32 x 32. Two hashes come from one pass: the whole image,
and its central 95 %. A border crop rescales the content about its centre, which flips many
bits of the full hash (a 2.5 % crop on each side moves it as far as an unrelated image), but
the full hash of a cropped copy lands next to the *centre* hash of its original (see
dlqa.data.crop_hashes).

Hashes only propose candidates. Images with little structure (a gradient and a few small
shapes) share hashes without being copies, so each sample also keeps two 16 x 16 luma grids
(whole and centre) that confirm a candidate pair by correlation (dlqa.data.crop_hashes).

Both hashes are computed as matrix products on a 64 x 64 box-reduced luma image: the area
resampling to 32 x 32 (of the whole or of the central region, with fractional edge weights)
and the DCT rows are folded into one 8 x 64 projection per axis, so a crop costs no decode and
no second resize.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

HASH_SIZE = 8  # 8 x 8 low-frequency DCT coefficients -> 64 bits
_DCT_SIZE = HASH_SIZE * 4  # the DCT of the image reduced to 32 x 32
_GRID = 64  # luma is first box-reduced to 64 x 64
CENTER_FRACTION = 0.95  # the centre hash covers the central 95 % (2.5 % crop on each side)
# A third grid (no hash) covers the central 88 %: a copy cropped 6 % a side is found through the
# centre hash, and confirmed cell by cell against this grid, which is aligned with it.
INNER_FRACTION = 0.88


def _area_resampling(n_out: int, start: float, stop: float, n_in: int) -> np.ndarray:
    """(n_out, n_in) weights that average [start, stop) of n_in unit cells into n_out cells."""
    edges = np.linspace(start, stop, n_out + 1)
    cells = np.arange(n_in)
    overlap = np.clip(
        np.minimum(edges[1:, None], cells[None, :] + 1) - np.maximum(edges[:-1, None], cells),
        0,
        None,
    )
    return overlap / overlap.sum(axis=1, keepdims=True)


def _dct_rows(n: int, k: int) -> np.ndarray:
    """First k rows of the orthonormal DCT-II matrix of size n."""
    frequencies = np.arange(k)[:, None]
    positions = np.arange(n)[None, :]
    rows = np.cos(np.pi * (2 * positions + 1) * frequencies / (2 * n)) * np.sqrt(2 / n)
    rows[0] /= np.sqrt(2)
    return rows


@lru_cache(maxsize=4)
def _projection(fraction: float) -> np.ndarray:
    """(8, 64) matrix: area-resample the central ``fraction`` of 64 cells to 32, then DCT."""
    margin = _GRID * (1 - fraction) / 2
    resample = _area_resampling(_DCT_SIZE, margin, _GRID - margin, _GRID)
    return (_dct_rows(_DCT_SIZE, HASH_SIZE) @ resample).astype(np.float32)


def _bits_to_int(coefficients: np.ndarray) -> int:
    return _bits_to_ints(coefficients[None])[0]


def _bits_to_ints(coefficients: np.ndarray) -> list[int]:
    """One 64-bit hash per (8, 8) block of coefficients: the bits above the block's median."""
    flat = coefficients.reshape(len(coefficients), -1)
    ordered = np.sort(flat, axis=1)
    median = (ordered[:, 31] + ordered[:, 32]) / 2
    packed = np.packbits(flat > median[:, None], axis=1)  # 8 bytes per hash, first bit highest
    return packed.view(">u8").ravel().tolist()


def _luma_grid(image: Image.Image) -> np.ndarray:
    gray = image if image.mode == "L" else image.convert("L")
    return np.asarray(gray.resize((_GRID, _GRID), Image.Resampling.BOX), dtype=np.float32)


GRID_SIDE = 16  # side of the structure grids that confirm candidate pairs


@lru_cache(maxsize=4)
def _grid_resampling(fraction: float) -> np.ndarray:
    """(16, 64) area resampling of the central ``fraction`` of the 64 x 64 grid."""
    margin = _GRID * (1 - fraction) / 2
    return _area_resampling(GRID_SIDE, margin, _GRID - margin, _GRID).astype(np.float32)


def _grid_rows(resample: np.ndarray, grids: np.ndarray) -> list[bytes]:
    small = resample @ grids @ resample.T
    values = np.clip(np.rint(small), 0, 255).astype(np.uint8)
    return [row.tobytes() for row in values]


def image_signature(image: Image.Image) -> dict[str, int | bytes]:
    """Full and centre pHashes plus full, centre and inner 16 x 16 structure grids (uint8
    bytes)."""
    return image_signatures([image])[0]


def _luma_grids(images: list[Image.Image], stack: np.ndarray | None) -> np.ndarray:
    """The 64 x 64 luma grids of several images, (k, 64, 64) float32.

    Images no taller than the grid, given as one (k, h, w) uint8 ``stack``, are resized as one
    tall image: each output row's box then lies inside one image, so the result is the same,
    byte for byte, as resizing them one by one (checked for every height up to 64), at a
    fraction of Pillow's per-call cost. Taller images are resized one at a time.
    """
    if stack is None or len(images) < 2 or stack.shape[1] > _GRID:
        return np.stack([_luma_grid(image) for image in images])
    count, height, width = stack.shape
    tall = Image.fromarray(np.ascontiguousarray(stack).reshape(count * height, width), "L")
    tall = tall.resize((_GRID, count * _GRID), Image.Resampling.BOX)
    return np.asarray(tall, dtype=np.float32).reshape(count, _GRID, _GRID)


def image_signatures(
    images: list[Image.Image], stack: np.ndarray | None = None
) -> list[dict[str, int | bytes]]:
    """``image_signature`` of several images, computed as one batch of matrix products (the
    same values as one at a time: each image is its own slice of every product). ``stack``
    may give the images' luma pixels as one (k, h, w) uint8 array when they share a size."""
    if not images:
        return []
    grids = _luma_grids(images, stack)
    full, center = _projection(1.0), _projection(CENTER_FRACTION)
    columns = {
        "phash": _bits_to_ints(full @ grids @ full.T),
        "phash_center": _bits_to_ints(center @ grids @ center.T),
        "grid": _grid_rows(_grid_resampling(1.0), grids),
        "grid_center": _grid_rows(_grid_resampling(CENTER_FRACTION), grids),
        "grid_inner": _grid_rows(_grid_resampling(INNER_FRACTION), grids),
    }
    return [{name: values[k] for name, values in columns.items()} for k in range(len(images))]


def perceptual_hashes(image: Image.Image) -> tuple[int, int]:
    """(full, centre) pHashes of a Pillow image in any mode (computed on luma)."""
    grid = _luma_grid(image)
    full, center = _projection(1.0), _projection(CENTER_FRACTION)
    return (
        _bits_to_int(full @ grid @ full.T),
        _bits_to_int(center @ grid @ center.T),
    )


def perceptual_hash(image: Image.Image) -> int:
    """pHash of the whole image."""
    full = _projection(1.0)
    return _bits_to_int(full @ _luma_grid(image) @ full.T)


def center_hash(image: Image.Image, fraction: float = CENTER_FRACTION) -> int:
    """pHash of the central ``fraction`` of the image (both sides scaled by it)."""
    center = _projection(fraction)
    return _bits_to_int(center @ _luma_grid(image) @ center.T)


COLOUR_SIDE = 4  # colour layout: 4 x 4 cells of two opponent channels
NEUTRAL_COLOUR = bytes([128]) * (COLOUR_SIDE * COLOUR_SIDE * 2)  # gray images


@lru_cache(maxsize=256)
def _colour_cells(n: int, fraction: float) -> np.ndarray:
    """(4, n) area weights of the central ``fraction`` of n samples into 4 cells."""
    margin = n * (1 - fraction) / 2
    return _area_resampling(COLOUR_SIDE, margin, n - margin, n).astype(np.float32)


_COLOUR_SAMPLES = 32  # per side: plenty for 4 x 4 cell means


def colour_layout(rgb: np.ndarray) -> dict[str, bytes]:
    """Mean opponent colours (R - G and (R + G) / 2 - B) over 4 x 4 cells, of the whole image
    and of its central 95 %, as uint8 bytes (value / 2 + 128). Luma hashes and grids cannot
    tell two images with the same layout in different colours apart; this can."""
    return colour_layouts(rgb[None])[0]


def colour_layouts(rgb: np.ndarray) -> list[dict[str, bytes]]:
    """``colour_layout`` of a stack of same-size RGB images (k, H, W, 3), as one batch."""
    step_y = max(1, rgb.shape[1] // _COLOUR_SAMPLES)
    step_x = max(1, rgb.shape[2] // _COLOUR_SAMPLES)
    pixels = rgb[:, ::step_y, ::step_x].astype(np.float32)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    opponents = (red - green, (red + green) / 2 - blue)
    height, width = red.shape[1:]
    columns = {}
    for key, fraction in (("colour", 1.0), ("colour_center", CENTER_FRACTION)):
        rows, cols = _colour_cells(height, fraction), _colour_cells(width, fraction)
        cells = np.stack([rows @ channel @ cols.T for channel in opponents], axis=1)
        values = np.clip(np.rint(cells / 2 + 128), 0, 255).astype(np.uint8)
        columns[key] = [layout.tobytes() for layout in values]
    return [{key: values[k] for key, values in columns.items()} for k in range(len(rgb))]
