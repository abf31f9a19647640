"""Offline image sets for the near-duplicate benchmarks: unrelated images and transformed copies.

Unrelated images are random crops of the photographs bundled with scikit-learn and matplotlib
(crops of one photograph overlap by at most half of the smaller one) and procedurally
generated scenes: textured landscapes, shapes on gradients, 1/f noise textures and gratings.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

_SAMPLE_DATA = Path(matplotlib.get_data_path()) / "sample_data"
MIN_LUMA_STD = 8.0  # grey levels
_COLORMAPS = ("viridis", "terrain", "gist_earth", "copper", "ocean", "magma", "cividis", "YlGn")


def _to_uint8(values: np.ndarray) -> np.ndarray:
    low, high = np.percentile(values, [1, 99])
    scaled = (values - low) / max(high - low, 1e-9)
    return (np.clip(scaled, 0, 1) * 255).astype(np.uint8)


def _colourise(values: np.ndarray, cmap_name: str) -> Image.Image:
    rgba = matplotlib.colormaps[cmap_name](_to_uint8(values) / 255.0)
    return Image.fromarray((rgba[..., :3] * 255).astype(np.uint8), "RGB")


def photographs() -> dict[str, Image.Image]:
    """Photographs and measured rasters shipped with scikit-learn and matplotlib."""
    from sklearn.datasets import load_sample_images

    photos = {
        f"sklearn_{index}": Image.fromarray(array)
        for index, array in enumerate(load_sample_images().images)
    }
    photos["grace_hopper"] = Image.open(_SAMPLE_DATA / "grace_hopper.jpg").convert("RGB")
    elevation = np.load(_SAMPLE_DATA / "jacksboro_fault_dem.npz")["elevation"].astype(float)
    photos["dem_gray"] = Image.fromarray(_to_uint8(elevation), "L").convert("RGB")
    photos["dem_terrain"] = _colourise(elevation[::-1].T, "terrain")
    with gzip.open(_SAMPLE_DATA / "s1045.ima.gz") as handle:
        mri = np.frombuffer(handle.read(), np.uint16).reshape(256, 256).astype(float)
    photos["mri"] = Image.fromarray(_to_uint8(mri), "L").convert("RGB")
    return photos


def photo_crops(rng: np.random.Generator, crops_per_photo: int) -> list[Image.Image]:
    """Random crops (10-50 % of the side) of each photograph, resized to 96-320 pixels."""
    crops: list[Image.Image] = []
    for photo in photographs().values():
        width, height = photo.size
        boxes: list[tuple[int, int, int, int]] = []
        for _ in range(crops_per_photo * 50):
            if len(boxes) == crops_per_photo:
                break
            side = rng.uniform(0.1, 0.5)
            box_w = int(width * side * rng.uniform(0.75, 1.33))
            box_h = int(height * side * rng.uniform(0.75, 1.33))
            if box_w < 24 or box_h < 24 or box_w >= width or box_h >= height:
                continue
            left = int(rng.integers(0, width - box_w))
            top = int(rng.integers(0, height - box_h))
            box = (left, top, left + box_w, top + box_h)
            # Blank crops (the black surround of the MRI) all hash alike: a blank-image check's
            # business, not a near-duplicate one, so they are left out of the unrelated set.
            if _luma_std(photo.crop(box)) < MIN_LUMA_STD:
                continue
            if all(_overlap(box, other) <= 1 / 2 for other in boxes):
                boxes.append(box)
        for box in boxes:
            target = int(rng.integers(96, 321))
            scale = target / max(box[2] - box[0], box[3] - box[1])
            size = (
                max(16, round((box[2] - box[0]) * scale)),
                max(16, round((box[3] - box[1]) * scale)),
            )
            crops.append(photo.crop(box).resize(size, Image.Resampling.LANCZOS))
    return crops


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over the smaller area."""
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return width * height / smaller


def _power_law_noise(rng: np.random.Generator, height: int, width: int, beta: float) -> np.ndarray:
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.hypot(fx, fy)
    radius[0, 0] = 1.0
    spectrum = rng.normal(size=radius.shape) + 1j * rng.normal(size=radius.shape)
    spectrum /= radius ** (beta / 2)
    spectrum[0, 0] = 0
    return np.fft.irfft2(spectrum, s=(height, width))


def _gradient(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width]
    ramp = (np.cos(angle) * xx / width + np.sin(angle) * yy / height + 1) / 2
    start, end = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    return start + (end - start) * ramp[..., None]


def _random_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(channel) for channel in rng.integers(0, 256, 3))


def _draw_shapes(image: Image.Image, rng: np.random.Generator, count: int) -> Image.Image:
    draw = ImageDraw.Draw(image)
    width, height = image.size
    for _ in range(count):
        # Shapes 5-50 % of the side, centred inside the image, so none blanks the canvas.
        centre_x, centre_y = rng.uniform(0, width), rng.uniform(0, height)
        half_w, half_h = rng.uniform(0.025, 0.25) * width, rng.uniform(0.025, 0.25) * height
        x0, x1 = int(centre_x - half_w), int(centre_x + half_w)
        y0, y1 = int(centre_y - half_h), int(centre_y + half_h)
        kind = rng.integers(0, 4)
        colour = _random_colour(rng)
        if kind == 0:
            draw.ellipse((x0, y0, x1 + 1, y1 + 1), fill=colour)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        elif kind == 2:
            points = [
                (int(rng.integers(0, width)), int(rng.integers(0, height)))
                for _ in range(3 + rng.integers(0, 4))
            ]
            draw.polygon(points, fill=colour)
        else:
            draw.line(
                (x0, y0, x1, y1), fill=colour, width=int(rng.integers(2, max(3, width // 12)))
            )
    return image


def procedural_image(kind: str, rng: np.random.Generator) -> Image.Image:
    """One generated image of the given kind: landscape, shapes, texture or grating."""
    width, height = (int(side) for side in rng.integers(96, 385, 2))
    if kind == "landscape":
        sky = _gradient(rng, height, width)
        ground = _colourise(
            _power_law_noise(rng, height, width, rng.uniform(1.5, 3.0)), rng.choice(_COLORMAPS)
        )
        ridge = _power_law_noise(rng, 1, width, 2.5)[0]
        horizon = height * rng.uniform(0.25, 0.75) + _to_uint8(ridge) / 255 * height * 0.3
        below = np.arange(height)[:, None] > horizon[None, :]
        pixels = np.where(below[..., None], np.asarray(ground, dtype=float), sky)
        image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")
        return _draw_shapes(image, rng, int(rng.integers(0, 4)))
    if kind == "shapes":
        background = Image.fromarray(_gradient(rng, height, width).astype(np.uint8), "RGB")
        return _draw_shapes(background, rng, int(rng.integers(3, 16)))
    if kind == "texture":
        noise = _power_law_noise(rng, height, width, rng.uniform(1.0, 3.5))
        return _colourise(noise, rng.choice(_COLORMAPS))
    if kind == "grating":
        yy, xx = np.mgrid[0:height, 0:width]
        values = np.zeros((height, width))
        for _ in range(int(rng.integers(1, 4))):
            angle, period = rng.uniform(0, np.pi), rng.uniform(6, max(width, height))
            phase = rng.uniform(0, 2 * np.pi)
            values += np.sin(2 * np.pi * (np.cos(angle) * xx + np.sin(angle) * yy) / period + phase)
        noise = _power_law_noise(rng, height, width, 2.0)
        values += 0.3 * noise / noise.std()
        return _colourise(values, rng.choice(_COLORMAPS))
    raise ValueError(f"unknown procedural kind {kind!r}")


PROCEDURAL_KINDS = ("landscape", "shapes", "texture", "grating")


def unrelated_images(
    seed: int, crops_per_photo: int, procedural_per_kind: int
) -> list[tuple[str, Image.Image]]:
    """(category, image) for every photo crop and generated scene; all mutually unrelated."""
    rng = np.random.default_rng(seed)
    images = [("photo_crop", crop) for crop in photo_crops(rng, crops_per_photo)]
    images += [("flat_scene", image) for image in flat_scenes(seed, procedural_per_kind)]
    for kind in PROCEDURAL_KINDS:
        made = 0
        while made < procedural_per_kind:
            image = procedural_image(kind, rng)
            if _luma_std(image) >= MIN_LUMA_STD:  # near-blank images are not "scenes"
                images.append((kind, image))
                made += 1
    return images


def flat_scenes(seed: int, count: int) -> list[Image.Image]:
    """The image-profile benchmark's scenes (a colour gradient with a few small shapes and
    lines), reduced to at most 320 px: little structure, the hard case for a DCT hash."""
    from image_profile import draw_photo_like_image

    scenes = []
    for index in range(count):
        image = draw_photo_like_image(1_000_000 * (seed + 1) + index)
        image.thumbnail((320, 320))
        scenes.append(image)
    return scenes


def _luma_std(image: Image.Image) -> float:
    return float(np.asarray(image.convert("L"), dtype=float).std())


def resize_90(image: Image.Image) -> Image.Image:
    width, height = image.size
    return image.resize((round(width * 0.9), round(height * 0.9)), Image.Resampling.LANCZOS)


def jpeg_q60(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=60)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def brightness_shift_10(image: Image.Image) -> Image.Image:
    """+10 % of the full range (+26 levels) added to every channel, clipped at 255."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16) + 26
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")


def brightness_scale_10(image: Image.Image) -> Image.Image:
    """Every channel multiplied by 1.1 (Pillow ImageEnhance.Brightness), clipped at 255."""
    return ImageEnhance.Brightness(image.convert("RGB")).enhance(1.1)


def border_crop_2_5(image: Image.Image) -> Image.Image:
    """2.5 % cut from each side; the smaller size is kept (no resize back)."""
    width, height = image.size
    dx, dy = round(width * 0.025), round(height * 0.025)
    return image.crop((dx, dy, width - dx, height - dy))


TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "resize_90": resize_90,
    "jpeg_q60": jpeg_q60,
    "brightness_+10%": brightness_shift_10,
    "border_crop_2.5%": border_crop_2_5,
}
EXTRA_TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "brightness_x1.1": brightness_scale_10,
    "resize_90+jpeg_q60": lambda image: jpeg_q60(resize_90(image)),
}


# ---------------------------------------------------------------- re-encoded copies

REENCODE_OPTIONS: dict[str, dict[str, object]] = {
    "PNG": {"compress_level": 6},  # Pillow's default: how a PNG is usually written
    "WEBP": {"quality": 90, "method": 4},  # lossy, Pillow's default effort
}


def reencode_image(task: tuple[str, str, str]) -> None:
    """Decode ``source`` and save its pixels as ``image_format`` at ``target`` (atomically:
    an interrupted run never leaves a half-written file)."""
    source, target, image_format = task
    with Image.open(source) as image:
        pixels = image.convert("RGB")
    partial = target + ".partial"
    pixels.save(partial, image_format, **REENCODE_OPTIONS[image_format])
    Path(partial).replace(target)


def reencoded_copies(
    paths: list[Path], source_root: Path, target_root: Path, image_format: str, pool: Executor
) -> list[Path]:
    """The images at ``paths`` (under ``source_root``) saved again as ``image_format`` ("PNG"
    or "WEBP") under ``target_root``, same relative paths and new suffix; copies already
    there are kept (a cache)."""
    suffix = "." + image_format.lower()
    targets = [target_root / path.relative_to(source_root).with_suffix(suffix) for path in paths]
    missing = [
        (str(path), str(target), image_format)
        for path, target in zip(paths, targets, strict=True)
        if not target.exists()
    ]
    for target in {Path(task[1]).parent for task in missing}:
        target.mkdir(parents=True, exist_ok=True)
    for _ in pool.map(reencode_image, missing, chunksize=8):
        pass
    return targets
