"""The preview grid: the first samples of the batches as the model receives them, made
viewable again (the declared normalisation undone), as one PNG for the report."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import numpy as np

from dlqa.data.batch_context import PreviewSample
from dlqa.data.batches import BatchDeclarations

TILE = 96  # pixels on a tile's longer side: digits are blown up, photos shrunk
COLUMNS = 8
CAPTION_HEIGHT = 12
NONFINITE_RGB = (255, 0, 255)  # NaN/inf pixels show magenta, not a plausible colour


def is_image_layout(shape: tuple[int, ...], channel_axis: int | None) -> bool:
    """Whether batches of ``shape`` hold images: (N, C, H, W) / (N, H, W, C) with 1, 3 or 4
    channels, or (N, H, W) greyscale of at least 4 x 4."""
    if len(shape) == 4 and channel_axis in (1, 3):
        spatial = [d for axis, d in enumerate(shape[1:], start=1) if axis != channel_axis]
        return shape[channel_axis] in (1, 3, 4) and min(spatial) >= 4
    return len(shape) == 3 and channel_axis is None and min(shape[1:]) >= 4


def display_pixels(
    sample: np.ndarray, channel_axis: int | None, declared: BatchDeclarations
) -> tuple[np.ndarray, np.ndarray, str]:
    """(H x W x 3 floats in [0, 1], H x W non-finite mask, how the values were mapped)."""
    hwc = sample[..., None] if channel_axis is None else np.moveaxis(sample, channel_axis - 1, -1)
    hwc = hwc.astype(np.float64)
    channels = hwc.shape[-1]
    bad = ~np.isfinite(hwc).all(axis=-1)
    fits = declared.mean is not None and len(declared.mean) in (1, channels)
    if fits and declared.mean is not None and declared.std is not None:
        mean = declared.channel_values(declared.mean, channels)
        std = declared.channel_values(declared.std, channels)
        low, high = declared.pixel_range
        pixels = ((hwc * std + mean) - low) / (high - low)
        how = f"de-normalised with {declared.describe_normalization()}"
    else:
        finite = hwc[np.isfinite(hwc)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if low >= 0 and high <= 1:
            pixels, how = hwc, "values shown as they are (0..1)"
        elif low >= 0 and high <= 255:
            pixels, how = hwc / 255.0, "values shown as 0..255"
        else:  # no declared normalisation to undo: stretch each sample to its own range
            pixels = (hwc - low) / max(high - low, 1e-12)
            how = "each sample stretched to its own range (no mean/std declared)"
    if channels == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    elif channels != 3:
        pixels = pixels[..., :3]  # RGBA: the alpha channel is not shown
    return np.clip(np.nan_to_num(pixels), 0.0, 1.0), bad, how


def preview_png(
    samples: Sequence[PreviewSample],
    channel_axis: int | None,
    declared: BatchDeclarations,
) -> tuple[bytes, str]:
    """(the PNG of a grid of ``samples`` with their labels, how values were mapped)."""
    from PIL import Image, ImageDraw

    columns = min(COLUMNS, len(samples))
    rows = math.ceil(len(samples) / columns)
    cell_w, cell_h = TILE + 4, TILE + CAPTION_HEIGHT + 4
    grid = Image.new("RGB", (columns * cell_w, rows * cell_h), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    how = ""
    for i, sample in enumerate(samples):
        pixels, bad, how = display_pixels(sample.array, channel_axis, declared)
        rgb = (pixels * 255.0 + 0.5).astype(np.uint8)
        rgb[bad] = NONFINITE_RGB
        tile = Image.fromarray(rgb, "RGB")
        factor = TILE / max(tile.size)
        size = (max(1, round(tile.width * factor)), max(1, round(tile.height * factor)))
        # Small images are blown up without smoothing, so their pixels stay visible.
        resample = Image.Resampling.NEAREST if factor >= 1 else Image.Resampling.BILINEAR
        tile = tile.resize(size, resample)
        x, y = (i % columns) * cell_w + 2, (i // columns) * cell_h + 2
        grid.paste(tile, (x, y))
        draw.text((x, y + TILE + 1), _label_text(sample.label, declared), fill=(0, 0, 0))
    buffer = io.BytesIO()
    grid.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue(), how


def _label_text(label: int | None, declared: BatchDeclarations) -> str:
    if label is None:
        return ""
    names = declared.class_names
    text = names[label] if names and 0 <= label < len(names) else str(label)
    return text[:16]


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
