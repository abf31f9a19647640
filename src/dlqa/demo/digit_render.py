"""Photo-like renderings of scikit-learn's 8x8 digits for the demo's image part.

Each digit is upscaled smoothly, given crisp ink edges, a random pose (scale, stretch,
rotation, position) and drawn on a tinted, unevenly lit background (paper, or a chalkboard
with light ink) with mild sensor noise. :class:`DistinctRenderer` keeps ordinary images far
apart under the 64-bit perceptual hash, so that every near-duplicate a check reports in the
demo is one that was planted on purpose.
"""

from __future__ import annotations

import colorsys
import io

import numpy as np
from PIL import Image
from scipy.ndimage import laplace

from dlqa.data.probes.phash import center_hash, perceptual_hash

IMAGE_SIZE = 112
# Ordinary images differ in at least this many of the 64 pHash bits: well above the near-duplicate
# threshold (10 at most), so JPEG re-encoding or a smaller decode cannot bring two of them close.
MIN_HASH_DISTANCE = 16
LUMA_WINDOW = (70.0, 180.0)  # mean luma of ordinary images, inside the brightness checks' window
MIN_LUMA_STD = 25.0  # ordinary images keep a clear contrast
MIN_SHARPNESS = 150.0  # variance of the Laplacian of luma at full size; blur checks look lower
DARK_LUMA = 8.0
JPEG_QUALITY = 92
_MAX_ATTEMPTS = 5000  # per image; a few dozen suffice even at the largest size

_GRID = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32) / (IMAGE_SIZE - 1) - 0.5
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's "L"


class DistinctRenderer:
    """Renders and encodes digits, redrawing any image that would look unusual or lie too close
    in pHash to one already drawn. The checks run on the decoded file, as a profiler sees it."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._hashes: list[int] = []
        self._centers: list[int] = []
        self._hash_array = np.zeros(0, dtype=np.uint64)
        self._center_array = np.zeros(0, dtype=np.uint64)

    def render(self, digit: np.ndarray, *, as_png: bool, darken: bool = False) -> bytes:
        for _ in range(_MAX_ATTEMPTS):
            rgb = render_digit(digit, self._rng)
            if darken:
                rgb = rgb * np.float32(DARK_LUMA / float((rgb @ _LUMA_WEIGHTS).mean()))
            image = Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), "RGB")
            content = encode_png(image) if as_png else encode_jpeg(image, JPEG_QUALITY)
            if not as_png:
                image = Image.open(io.BytesIO(content))
                image.load()
            if not darken and not _looks_ordinary(np.asarray(image.convert("L"), np.float32)):
                continue
            # The near-duplicate check compares full hashes and each full hash with the other
            # image's centre hash (border crops): keep every one of those distances large.
            image_hash, image_center = perceptual_hash(image), center_hash(image)
            if (
                self._hash_array.size
                and min(
                    _min_distance(image_hash, self._hash_array),
                    _min_distance(image_hash, self._center_array),
                    _min_distance(image_center, self._hash_array),
                )
                < MIN_HASH_DISTANCE
            ):
                continue
            self._hashes.append(image_hash)
            self._centers.append(image_center)
            self._hash_array = np.array(self._hashes, dtype=np.uint64)
            self._center_array = np.array(self._centers, dtype=np.uint64)
            return content
        raise RuntimeError(f"no distinct demo image after {_MAX_ATTEMPTS} attempts")


def _looks_ordinary(luma: np.ndarray) -> bool:
    """Brightness inside the window, clear contrast, and sharp edges."""
    return (
        LUMA_WINDOW[0] <= float(luma.mean()) <= LUMA_WINDOW[1]
        and float(luma.std()) >= MIN_LUMA_STD
        and float(laplace(luma).var()) >= MIN_SHARPNESS
    )


def _min_distance(image_hash: int, hashes: np.ndarray) -> int:
    differing = np.bitwise_xor(hashes, np.uint64(image_hash))
    return int(np.unpackbits(differing.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1).min())


def render_digit(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One photo-like RGB float image (0..255) of an 8x8 digit (values 0..16)."""
    ink_mask = _posed_ink_mask(digit, rng)
    on_chalkboard = rng.random() < 0.3
    hue = rng.uniform(0.0, 1.0)
    if on_chalkboard:
        near = _hsv(hue, rng.uniform(0.3, 0.55), rng.uniform(0.4, 0.52))
        far = _hsv(
            (hue + rng.uniform(-0.1, 0.1)) % 1.0, rng.uniform(0.3, 0.55), rng.uniform(0.3, 0.45)
        )
        ink = _hsv(rng.uniform(0.0, 1.0), rng.uniform(0.05, 0.3), rng.uniform(0.88, 0.98))
    else:
        near = _hsv(hue, rng.uniform(0.2, 0.45), rng.uniform(0.66, 0.84))
        far = _hsv(
            (hue + rng.uniform(-0.15, 0.15)) % 1.0, rng.uniform(0.2, 0.45), rng.uniform(0.56, 0.78)
        )
        ink = _hsv(rng.uniform(0.0, 1.0), rng.uniform(0.4, 0.8), rng.uniform(0.08, 0.28))
    # Colour gradient in a random direction, then uneven lighting: a coarse random field and a
    # soft light or shadow spot. This low-frequency variety is what keeps pHashes apart.
    angle = rng.uniform(0.0, 2 * np.pi)
    along = np.float32(np.cos(angle)) * _GRID[1] + np.float32(np.sin(angle)) * _GRID[0]
    blend = np.clip(0.5 + along * np.float32(rng.uniform(0.6, 1.2)), 0.0, 1.0)[..., None]
    background = near * (1.0 - blend) + far * blend
    coarse = int(rng.integers(2, 5))
    lighting = 1.0 + 0.2 * _smooth_upscale(rng.normal(0.0, 1.0, (coarse, coarse)), IMAGE_SIZE)
    centre_y, centre_x = rng.uniform(-0.5, 0.5, 2).astype(np.float32)
    spread = np.float32(rng.uniform(0.15, 0.35))
    spot = np.exp(-((_GRID[0] - centre_y) ** 2 + (_GRID[1] - centre_x) ** 2) / (2 * spread**2))
    lighting += np.float32(rng.choice([-0.4, 0.4])) * spot
    background = background * lighting[..., None]
    rgb = background * (1.0 - ink_mask[..., None]) + ink * ink_mask[..., None]
    noise = rng.standard_normal(rgb.shape, dtype=np.float32) * np.float32(3.5)
    return rgb * np.float32(255.0) + noise


def _posed_ink_mask(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage 0..1 on the full canvas: the digit scaled, stretched, rotated and placed."""
    height = round(IMAGE_SIZE * rng.uniform(0.5, 0.8))
    width = round(height * rng.uniform(0.75, 1.05))
    padded = np.pad(digit.astype(np.float32) / 16.0, 1)  # strokes end inside the frame
    upscaled = Image.fromarray(padded, "F").resize((width, height), Image.Resampling.BICUBIC)
    rotated = upscaled.rotate(rng.uniform(-10.0, 10.0), Image.Resampling.BICUBIC, expand=True)
    # A steep ramp turns the blurry upscale into ink with crisp edges and a random stroke width.
    low = rng.uniform(0.22, 0.42)
    strokes = np.clip((np.asarray(rotated) - low) / 0.14, 0.0, 1.0)
    strokes = strokes * strokes * (3.0 - 2.0 * strokes)
    rows, cols = strokes.shape
    top = int(rng.integers(0, IMAGE_SIZE - rows + 1))
    left = int(rng.integers(0, IMAGE_SIZE - cols + 1))
    mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    mask[top : top + rows, left : left + cols] = strokes
    return mask


def _smooth_upscale(values: np.ndarray, size: int) -> np.ndarray:
    field = Image.fromarray(values.astype(np.float32), "F")
    return np.asarray(field.resize((size, size), Image.Resampling.BICUBIC))


def _hsv(hue: float, saturation: float, value: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue, saturation, value), dtype=np.float32)


def encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def encode_jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
