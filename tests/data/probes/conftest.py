"""Images with known answers, built in memory for the probe tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageDraw


def draw_structured_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like RGB image: colour gradient, filled shapes, thin lines and mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (x / width + y / height)[..., None] / 2
    start, end = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    image = Image.fromarray((start * (1 - t) + end * t).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        box = [
            x0,
            y0,
            x0 + int(rng.integers(20, width // 2)),
            y0 + int(rng.integers(20, height // 2)),
        ]
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        draw.ellipse(box, fill=colour) if rng.random() < 0.5 else draw.rectangle(box, fill=colour)
        draw.line(box, fill=(255, 255, 255), width=2)
    pixels = np.asarray(image).astype(np.int16) + rng.normal(0, 3, (height, width, 1)).astype(
        np.int16
    )
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


@pytest.fixture
def structured_image() -> Callable[..., Image.Image]:
    return draw_structured_image
