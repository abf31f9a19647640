"""Perceptual hashes of about a million images made from real ones, for near_duplicates.py.

Random 64-bit hashes flatter a multi-index search: real pHash bits are correlated (the DC bit
is always set, exactly 32 bits are set, low frequencies go together) and real images come in
clusters of look-alikes. So the million images are built from what this machine ships, in
slot order:

* ``scale``: the 32 x 32 PNGs of benchmarks/_data/scale (scale_profile.py), read as files; when
  that cache is missing, the same pixels from ``scale_profile.make_images``. At most 40 %.
* ``natural``: the ~2,900 files of the natural set (_natural_images.py: icons, clip art, doc
  figures, photographs and crops, handwritten digits), as shipped.
* ``crop``: crops of the natural images and the bundled photographs, each overlapping any other
  crop of the same source by at most half, resized to 48-192 px.
* ``composite``: the rest; a background (a crop of a photograph, or a smooth field of its own)
  with one to three natural images pasted on it at 25-80 % of the side, some mirrored.
* ``copy``: the planted near-duplicates, last: a transformed copy of an earlier image (the
  transforms of _images.py: 90 % resize, JPEG q60, +10 % or x1.1 brightness, 2.5 % border crop,
  resize + JPEG), saved as PNG. The pairs (source, copy) are the known true duplicates.

Generated images are re-encoded (JPEG q60-95, WebP q60-90 or PNG) and every image is probed
as a file: decoded at the probe's working size (``decode_working_image``) and hashed by
``image_signatures``, the values `dlqa data profile` stores. The arrays are cached in
benchmarks/_data/real_hashes (git-ignored).
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _images import EXTRA_TRANSFORMS, MIN_LUMA_STD, TRANSFORMS, photographs  # noqa: E402
from _natural_images import build as build_natural_set  # noqa: E402
from scale_profile import DATA_ROOT as SCALE_ROOT  # noqa: E402
from scale_profile import image_path as scale_image_path  # noqa: E402
from scale_profile import make_images  # noqa: E402

from dlqa.data.probes.image import decode_working_image  # noqa: E402
from dlqa.data.probes.phash import image_signatures  # noqa: E402

CACHE_ROOT = Path(__file__).resolve().parent / "_data" / "real_hashes"
_VERSION = 1  # bump when the images change: cached hashes are then rebuilt
_SCALE_FRACTION = 0.4
_TASK_SLOTS = 1000
_COPY_TRANSFORMS = [*TRANSFORMS.values(), *EXTRA_TRANSFORMS.values()]
_COPY_NAMES = [*TRANSFORMS, *EXTRA_TRANSFORMS]
_SMOOTH_BATCH = 100
_SMOOTH_SEED_BASE = 10_000_000  # make_images seeds of composite backgrounds: past any scale set


# ---------------------------------------------------------------- sources (one per worker)

_sources: list[Image.Image] = []  # natural images (RGB) then the photographs
_pieces: list[Image.Image] = []  # the same, at most 192 px: what composites paste (speed)
_masks: list[Image.Image | None] = []  # where a piece is not its white flattening background
_files: list[Path] = []  # the natural files, as shipped
_scale_root: Path | None = None
_n_photos = 0


def _load_sources() -> None:
    global _scale_root, _n_photos
    if _sources:
        return
    manifest = build_natural_set()
    root = Path(__file__).resolve().parent / "_data" / "natural"
    for entry in manifest["files"]:
        path = root / entry["dataset"] / entry["file"]
        with Image.open(path) as image:
            rgb = image.convert("RGB")
        _files.append(path)
        _sources.append(rgb)
        _add_piece(rgb, entry["dataset"] in ("clipart", "glyphs"))
    for photo in photographs().values():
        _sources.append(photo.convert("RGB"))
        _add_piece(_sources[-1], False)
        _n_photos += 1
    complete = [p.parent for p in SCALE_ROOT.glob("*/.complete")]
    _scale_root = max(complete, key=lambda p: int(p.name)) if complete else None


def _add_piece(image: Image.Image, on_white: bool) -> None:
    piece = image.copy()
    piece.thumbnail((192, 192), Image.Resampling.BILINEAR)
    _pieces.append(piece)
    # Icons and glyphs were flattened onto white: paste only their drawn part.
    drawn = np.asarray(piece.convert("L")) < 245
    masked = on_white and 0.05 < drawn.mean() < 0.95
    _masks.append(Image.fromarray(drawn.astype(np.uint8) * 255, "L") if masked else None)


def _overlap(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Intersection over the smaller area."""
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return width * height / min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))


def crop_boxes(rng: np.random.Generator) -> list[tuple[int, tuple[int, int, int, int]]]:
    """(source, box) of every crop: 20-70 % of the side, at most half overlapping another crop
    of the same source (more overlap makes look-alikes, not distinct images), not blank."""
    boxes = []
    for source, image in enumerate(_sources):
        width, height = image.size
        if min(width, height) < 40:
            continue
        kept: list[tuple[int, int, int, int]] = []
        for _ in range(400):
            side = rng.uniform(0.2, 0.7)
            box_w = max(16, int(width * side * rng.uniform(0.8, 1.25)))
            box_h = max(16, int(height * side))
            if box_w >= width or box_h >= height:
                continue
            left, top = int(rng.integers(0, width - box_w)), int(rng.integers(0, height - box_h))
            box = (left, top, left + box_w, top + box_h)
            if not all(_overlap(box, other) <= 0.5 for other in kept):
                continue
            # Blank crops (white around an icon) all hash alike: a blank-image check's
            # business, not a near-duplicate one (as in _images.photo_crops).
            if np.asarray(image.crop(box).convert("L"), dtype=np.float32).std() >= MIN_LUMA_STD:
                kept.append(box)
        boxes += [(source, box) for box in kept]
    return boxes


# ---------------------------------------------------------------- one image per slot


def _resized(image: Image.Image, long_side: int) -> Image.Image:
    scale = long_side / max(image.size)
    size = (max(8, round(image.width * scale)), max(8, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR)


def _encode(image: Image.Image, rng: np.random.Generator) -> bytes:
    buffer = io.BytesIO()
    draw = rng.random()
    if draw < 0.6:
        image.save(buffer, "JPEG", quality=int(rng.integers(60, 96)))
    elif draw < 0.8:
        image.save(buffer, "WEBP", quality=int(rng.integers(60, 91)), method=0)
    else:
        image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _composite(rng: np.random.Generator, smooth: np.ndarray) -> Image.Image:
    size = (int(rng.integers(64, 193)), int(rng.integers(64, 193)))
    if rng.random() < 0.5:
        canvas = Image.fromarray(smooth, "RGB").resize(size, Image.Resampling.BILINEAR)
    else:
        photo = _pieces[len(_pieces) - 1 - int(rng.integers(0, _n_photos))]
        side = rng.uniform(0.15, 0.6)
        box_w, box_h = int(photo.width * side), int(photo.height * side * rng.uniform(0.8, 1.2))
        box_h = min(box_h, photo.height - 1)
        left = int(rng.integers(0, photo.width - box_w))
        top = int(rng.integers(0, photo.height - box_h))
        box = (left, top, left + box_w, top + box_h)
        canvas = photo.crop(box).resize(size, Image.Resampling.BILINEAR)
    for number in range(int(rng.integers(1, 4))):
        source = int(rng.integers(0, len(_sources)))
        share = rng.uniform(0.45, 0.8) if number == 0 else rng.uniform(0.25, 0.5)
        piece = _resized(_pieces[source], max(8, int(max(size) * share)))
        mask = _masks[source]
        mask = None if mask is None else mask.resize(piece.size)
        if rng.random() < 0.5:
            piece = ImageOps.mirror(piece)
            mask = None if mask is None else ImageOps.mirror(mask)
        canvas.paste(
            piece, (_offset(rng, piece.width, size[0]), _offset(rng, piece.height, size[1])), mask
        )
    return canvas


def _offset(rng: np.random.Generator, piece: int, canvas: int) -> int:
    """Where a piece goes: at most a quarter of it outside the canvas, when it fits."""
    low = -(piece // 4)
    return int(rng.integers(low, max(low + 1, canvas - piece * 3 // 4 + 1)))


def _slot_bytes(
    seed: int, slot: int, kind: str, arg: Any, smooth: np.ndarray | None
) -> tuple[bytes, bool]:
    """The file bytes of one slot, and whether it was generated (False: a file as shipped)."""
    rng = np.random.default_rng([seed, slot])
    if kind == "scale":
        if _scale_root is not None:
            return scale_image_path(_scale_root, arg).read_bytes(), False
        buffer = io.BytesIO()  # the very pixels of the cached file, which is a lossless PNG
        Image.fromarray(_scale_batch(arg - arg % 500)[arg % 500], "RGB").save(buffer, "PNG")
        return buffer.getvalue(), True
    if kind == "natural":
        return _files[arg].read_bytes(), False
    if kind == "crop":
        source, box, long_side = arg
        return _encode(_resized(_sources[source].crop(box), long_side), rng), True
    if kind == "composite":
        assert smooth is not None
        return _encode(_composite(rng, smooth), rng), True
    source_slot, source_kind, source_arg, transform = arg  # a planted copy
    smooth = smooth_for(seed, source_slot) if source_kind == "composite" else None
    source_data, _ = _slot_bytes(seed, source_slot, source_kind, source_arg, smooth)
    with Image.open(io.BytesIO(source_data)) as image:
        copy = _COPY_TRANSFORMS[transform](image.convert("RGB"))
    buffer = io.BytesIO()
    copy.convert("RGB").save(buffer, "PNG", compress_level=1)
    return buffer.getvalue(), True


@lru_cache(maxsize=4)
def _scale_batch(start: int) -> np.ndarray:
    """One batch of scale_profile's images (it seeds a batch of 500 by its first index)."""
    return make_images(start, 500)


@lru_cache(maxsize=4)
def _smooth_batch(seed: int, start: int) -> np.ndarray:
    return make_images(_SMOOTH_SEED_BASE + seed * 1_000_000_000 + start, _SMOOTH_BATCH)


def smooth_for(seed: int, slot: int) -> np.ndarray:
    """The smooth-field background of a composite slot: its own image of a make_images batch
    seeded past any scale set (a make_images call per image would cost more than the rest)."""
    return _smooth_batch(seed, slot - slot % _SMOOTH_BATCH)[slot % _SMOOTH_BATCH]


def probe_hashes(encoded: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(full, centre) pHashes of encoded images, as the image probe computes them."""
    lumas = []
    for data in encoded:
        with Image.open(io.BytesIO(data)) as image:
            lumas.append(decode_working_image(image)[0])
    full = np.zeros(len(lumas), dtype=np.uint64)
    center = np.zeros(len(lumas), dtype=np.uint64)
    by_size: dict[tuple[int, int], list[int]] = {}
    for index, luma in enumerate(lumas):
        by_size.setdefault(luma.size, []).append(index)
    for members in by_size.values():
        for start in range(0, len(members), 64):  # the probe's batch (values do not depend on it)
            batch = members[start : start + 64]
            stack = np.stack([np.asarray(lumas[i]) for i in batch])
            for index, row in zip(
                batch, image_signatures([lumas[i] for i in batch], stack), strict=True
            ):
                full[index], center[index] = row["phash"], row["phash_center"]
    return full, center


def hash_task(task: tuple[int, list[tuple[int, str, Any]]]) -> tuple[np.ndarray, ...]:
    """Slots, full and centre hashes of one task's slots."""
    _load_sources()
    seed, slots = task
    encoded = []
    for slot, kind, arg in slots:
        smooth = smooth_for(seed, slot) if kind == "composite" else None
        encoded.append(_slot_bytes(seed, slot, kind, arg, smooth)[0])
    full, center = probe_hashes(encoded)
    return np.array([slot for slot, _, _ in slots], dtype=np.int64), full, center


# ---------------------------------------------------------------- the whole set, cached


def plan_slots(n: int, planted: int, seed: int) -> tuple[list[tuple[str, Any]], np.ndarray]:
    """(kind, arg) of every slot, and the planted (source, copy) pairs."""
    _load_sources()
    rng = np.random.default_rng(seed)
    distinct = n - planted
    n_scale = min(int(distinct * _SCALE_FRACTION), _scale_count())
    recipes: list[tuple[str, Any]] = [("scale", index) for index in range(n_scale)]
    recipes += [("natural", index) for index in range(min(len(_files), distinct - len(recipes)))]
    for source, box in crop_boxes(rng):
        if len(recipes) == distinct:
            break
        recipes.append(("crop", (source, box, int(rng.integers(48, 193)))))
    recipes += [("composite", None)] * (distinct - len(recipes))
    sources = rng.choice(distinct, size=planted, replace=False)
    for number, source in enumerate(sources):
        kind, arg = recipes[source]
        recipes.append(("copy", (int(source), kind, arg, number % len(_COPY_TRANSFORMS))))
    pairs = np.stack([sources, np.arange(distinct, n)], axis=1).astype(np.int64)
    return recipes, pairs


def _init_worker() -> None:
    from threadpoolctl import threadpool_limits  # installed with scikit-learn, needed anyway

    threadpool_limits(1)  # one process per core: BLAS threads in each would only contend
    _load_sources()


def _scale_count() -> int:
    return int(_scale_root.name) if _scale_root is not None else 400_000


def load_or_build(n: int, planted: int, seed: int, workers: int) -> dict[str, Any]:
    """{"full", "center", "planted", "kinds", "transforms", "info"} for n images, from the cache
    when present. Building prints progress; a million took 1,296 s on 2 cores (a machine
    shared with other jobs), most of it making and re-encoding the composites."""
    path = CACHE_ROOT / f"v{_VERSION}_n{n}_planted{planted}_seed{seed}.npz"
    if path.exists():
        with np.load(path) as cached:
            arrays = {key: cached[key] for key in cached.files}
        arrays["info"] = json.loads(str(arrays["info"]))
        arrays["info"]["cached"] = True
        return arrays
    began = time.perf_counter()
    recipes, pairs = plan_slots(n, planted, seed)
    tasks = [
        (seed, [(slot, *recipes[slot]) for slot in range(start, min(n, start + _TASK_SLOTS))])
        for start in range(0, n, _TASK_SLOTS)
    ]
    full = np.zeros(n, dtype=np.uint64)
    center = np.zeros(n, dtype=np.uint64)
    done = 0
    with ProcessPoolExecutor(workers, initializer=_init_worker) as pool:
        for slots, task_full, task_center in pool.map(hash_task, tasks):
            full[slots], center[slots] = task_full, task_center
            done += len(slots)
            if done % (50 * _TASK_SLOTS) == 0 or done == n:
                elapsed = time.perf_counter() - began
                print(f"  hashed {done:,}/{n:,} images in {elapsed:.0f} s", file=sys.stderr)
    kinds = [kind for kind, _ in recipes]
    info = {
        "generation_seconds": round(time.perf_counter() - began, 1),
        "workers": workers,
        "counts": {kind: kinds.count(kind) for kind in dict.fromkeys(kinds)},
        "scale_source": str(_scale_root) if _scale_root else "scale_profile.make_images",
        "cached": False,
    }
    transforms = np.array([_COPY_NAMES[arg[3]] for kind, arg in recipes if kind == "copy"])
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(
        partial, full=full, center=center, planted=pairs, kinds=np.array(kinds),
        transforms=transforms, info=json.dumps(info),
    )  # fmt: skip
    os.replace(partial, path)
    return {"full": full, "center": center, "planted": pairs, "kinds": np.array(kinds),
            "transforms": transforms, "info": info}  # fmt: skip
