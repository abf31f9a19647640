"""64-bit perceptual hash (DCT hash): robust to resizing, re-encoding and small crops."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.fft import dctn

HASH_SIZE = 8  # 8 x 8 low-frequency DCT coefficients -> 64 bits
_SMALL = HASH_SIZE * 4  # the image is reduced to 32 x 32 before the DCT
_BIT_WEIGHTS = (1 << np.arange(63, -1, -1, dtype=np.uint64)).astype(np.uint64)


def perceptual_hash(image: Image.Image) -> int:
    """pHash of a Pillow image: bit set where a low-frequency DCT coefficient exceeds the median.

    Any mode is accepted; the hash is computed on luma.
    """
    gray = image if image.mode == "L" else image.convert("L")
    small = np.asarray(gray.resize((_SMALL, _SMALL), Image.Resampling.BILINEAR), dtype=np.float32)
    coeffs = dctn(small, type=2, norm="ortho")[:HASH_SIZE, :HASH_SIZE]
    bits = (coeffs > np.median(coeffs)).ravel()
    return int(np.sum(_BIT_WEIGHTS[bits], dtype=np.uint64))


# A border crop rescales the content about its centre, which moves a DCT hash as far as an
# unrelated image; the hash of an image's own central 95 % lands next to the hash of a copy
# cropped by 2.5 % on each side (see dlqa.data.crop_hashes).
CENTER_FRACTION = 0.95


def center_hash(image: Image.Image, fraction: float = CENTER_FRACTION) -> int:
    """pHash of the central ``fraction`` of the image (both sides scaled by it)."""
    width, height = image.size
    dx, dy = round(width * (1 - fraction) / 2), round(height * (1 - fraction) / 2)
    return perceptual_hash(image.crop((dx, dy, width - dx, height - dy)))
