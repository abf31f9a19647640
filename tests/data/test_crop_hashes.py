"""Border-crop matching through centre hashes, and confirmation by structure grids."""

import io

import numpy as np
from PIL import Image, ImageDraw

from dlqa.data.crop_hashes import (
    DEFAULT_MIN_CORRELATION,
    confirm_pairs,
    find_near_duplicate_samples,
    structure_correlation,
)
from dlqa.data.duplicates import DEFAULT_MAX_DISTANCE
from dlqa.data.probes.phash import image_signature


def scene(seed: int) -> Image.Image:
    """A gradient with a few small shapes: little structure, the hard case for a DCT hash."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:240, 0:320].astype(np.float32)
    t = (x * rng.uniform(-1, 1) + y * rng.uniform(-1, 1)) / 560 + 0.5
    start, end = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    pixels = start * (1 - t[..., None]) + end * t[..., None]
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = rng.integers(0, 280), rng.integers(0, 200)
        size = rng.integers(15, 60)
        draw.ellipse((x0, y0, x0 + size, y0 + size), fill=tuple(rng.integers(0, 255, 3).tolist()))
    return image


def signature(image: Image.Image) -> dict:
    return image_signature(image.convert("L"))


def grids(signatures: list[dict], key: str) -> np.ndarray:
    return np.stack([np.frombuffer(s[key], dtype=np.uint8) for s in signatures])


def test_copies_correlate_and_unrelated_scenes_do_not():
    original = scene(1)
    buffer = io.BytesIO()
    original.save(buffer, format="JPEG", quality=60)
    copies = [
        original.resize((288, 216)),
        Image.open(io.BytesIO(buffer.getvalue())),
        Image.fromarray(np.clip(np.asarray(original, np.int16) + 26, 0, 255).astype(np.uint8)),
        original.crop((8, 6, 312, 234)),
    ]
    signatures = [signature(original)] + [signature(c) for c in copies]
    signatures += [signature(scene(seed)) for seed in range(100, 140)]
    full, center = grids(signatures, "grid"), grids(signatures, "grid_center")
    copy_pairs = np.array([(0, k) for k in range(1, 5)])
    assert (confirm_pairs(copy_pairs, full, center) >= DEFAULT_MIN_CORRELATION).all()
    unrelated = np.array([(a, b) for a in range(5, 45) for b in range(a + 1, 45)])
    assert (confirm_pairs(unrelated, full, center) < DEFAULT_MIN_CORRELATION).all()
    # Every copy is also a hash candidate (the crop through the centre hash).
    hashes = np.array([s["phash"] for s in signatures[:5]], dtype=np.uint64)
    centres = np.array([s["phash_center"] for s in signatures[:5]], dtype=np.uint64)
    pairs, _ = find_near_duplicate_samples(hashes, centres, DEFAULT_MAX_DISTANCE)
    assert {(0, k) for k in range(1, 5)} <= {tuple(p) for p in pairs.tolist()}


def test_flat_grids_correlate_only_with_flat_grids():
    flat = np.full((1, 256), 128, dtype=np.uint8)
    ramp = np.tile(np.arange(16, dtype=np.uint8) * 10, 16)[None, :]  # a plane: no structure
    textured = np.random.default_rng(0).integers(0, 255, (1, 256), dtype=np.uint8)
    assert structure_correlation(flat, ramp)[0] == 1.0  # gradients are removed first
    assert structure_correlation(flat, textured)[0] == 0.0
    assert structure_correlation(textured, textured)[0] > 0.999


def test_unconfirmed_candidates_are_dropped_by_the_check(tmp_path):
    from dlqa.core.registry import get_spec
    from tests.data.checks.conftest import build_profile

    rng = np.random.default_rng(1)
    a, b = (rng.integers(0, 255, 256, dtype=np.uint8).tobytes() for _ in range(2))
    rows = [
        {"sample_id": "x", "phash": 7, "grid": a, "grid_center": a, "sha256": "1"},
        {"sample_id": "y", "phash": 7, "grid": b, "grid_center": b, "sha256": "2"},
    ]
    spec = get_spec("data.near_duplicates")
    result = spec.func(build_profile(rows), spec.resolve_params({"max_fraction": 0.0}))
    assert result.evidence == []  # same hash, different structure: not a near-duplicate
    loose_params = {"min_correlation": 0.0, "max_local_difference": 255.0}
    loose = spec.func(build_profile(rows), spec.resolve_params(loose_params))
    assert loose.evidence[0].total == 1


def test_colour_layout_separates_same_layout_in_other_colours():
    from dlqa.data.crop_hashes import DEFAULT_MAX_COLOUR_DISTANCE, colour_distance
    from dlqa.data.probes.phash import colour_layout

    y, x = np.mgrid[0:96, 0:128]
    ramp = (x + y)[..., None] / 224.0
    purple = (ramp * [150, 40, 200] + 30).astype(np.uint8)
    olive = (ramp * [150, 160, 40] + 30).astype(np.uint8)
    brighter = np.clip(purple.astype(np.int16) + 26, 0, 255).astype(np.uint8)

    def layout(rgb):
        return np.frombuffer(colour_layout(rgb)["colour"], dtype=np.uint8)[None, :]

    assert colour_distance(layout(purple), layout(brighter))[0] <= DEFAULT_MAX_COLOUR_DISTANCE
    assert colour_distance(layout(purple), layout(olive))[0] > 3 * DEFAULT_MAX_COLOUR_DISTANCE
    gray = np.repeat(purple[..., :1], 3, axis=2)
    assert np.all(layout(gray) == 128)  # no colour: neutral
