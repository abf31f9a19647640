"""A clean set of natural images, assembled offline from what the installed packages ship.

Nothing is planted: every file is a picture a package ships (or a crop of a shipped
photograph), saved once. The set is split into four datasets, profiled one at a time the way
a user would (one dataset = one folder), because the image checks judge a sample against its
own dataset:

* ``clipart``: the colour icons of the installed icon themes (/usr/share/icons), one size per
  icon name (the largest; other sizes are the same picture), plus the raster images of
  /usr/share/doc, /usr/share/pixmaps and the site-packages of the virtualenv (matplotlib's
  toolbar icons and sample pictures, plots of test baselines, logos). Class = the icon's
  context folder (actions, devices, status, ...) or the origin of the other images.
* ``glyphs``: the "symbolic" icons, monochrome glyphs. As shipped their colour channels are
  black and the shape lives in alpha only, so they are flattened onto white and stored as
  1-channel PNGs (how a glyph dataset would be stored). Class = context folder.
* ``photos``: the photographs that scikit-learn and matplotlib ship (china, flower,
  grace_hopper), whole, plus crops of them (15-40 % of the side, overlapping at most a
  quarter of the smaller crop, one in four halved), saved as JPEG q90. Class = photograph.
* ``digits``: scikit-learn's 1,797 handwritten digits (8 x 8, 17 gray levels), as 1-channel
  PNGs, 80 % train / 20 % test. Class = digit.

Images with alpha are flattened onto white (what a viewer shows; dropping alpha would turn
most icons into black squares). Pixel-identical images (one icon under two names) are kept
once. Every image also gets a half, ``tune`` or ``report``, from a hash of its name:
thresholds are tuned on the first and reported on the second.

The set is cached under benchmarks/_data/natural (git-ignored) with a manifest.json that
lists every file with its origin and half. On the Debian + virtualenv of this project it holds
2,851 images (1,474 tune, 1,377 report):

    clipart  446: 362 colour icons, 44 from /usr/share/doc, 5 pixmaps, 35 from site-packages
    glyphs   539: symbolic icons (108 more were pixel-identical to one kept, under another name)
    photos    69: 3 whole photographs, 66 crops
    digits 1,797: scikit-learn's digits (1,438 train, 359 test)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

NATURAL_ROOT = Path(__file__).resolve().parent / "_data" / "natural"
DATASETS = ("clipart", "glyphs", "photos", "digits")
_RASTER = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".xpm", ".tif", ".tiff", ".webp"}
_VERSION = 2  # bump when the assembly changes: the cache is rebuilt


def half_of(name: str) -> str:
    """``tune`` or ``report``: a stable coin flip on the file name."""
    return "tune" if hashlib.sha256(name.encode()).digest()[0] % 2 == 0 else "report"


def _flatten(image: Image.Image) -> Image.Image:
    """RGB (or L for gray sources) over white when there is alpha; the image as is otherwise."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if not has_alpha:
        return image
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    flat = Image.alpha_composite(white, rgba).convert("RGB")
    return flat.convert("L") if image.mode in ("LA", "L") else flat


def _icon_side(path: Path) -> int:
    match = re.search(r"/(\d+)x\d+(@\d+)?/", str(path))
    return int(match.group(1)) if match else 0


def _icons() -> dict[str, Path]:
    """Icon name -> the file of its largest size."""
    best: dict[str, Path] = {}
    for path in sorted(Path("/usr/share/icons").rglob("*.png")):
        name = path.name.split(".")[0]
        if name not in best or _icon_side(path) > _icon_side(best[name]):
            best[name] = path
    return best


def _site_packages() -> Path:
    import matplotlib

    return Path(matplotlib.__file__).resolve().parents[1]


def _misc_files() -> list[tuple[str, Path]]:
    """(class, path) of raster images shipped outside the icon themes."""
    roots = [
        ("doc", Path("/usr/share/doc")),
        ("pixmaps", Path("/usr/share/pixmaps")),
        ("site_packages", _site_packages()),
    ]
    found = []
    for label, root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() in _RASTER and path.is_file():
                # the photographs go to their own dataset
                if path.name in ("china.jpg", "flower.jpg", "grace_hopper.jpg"):
                    continue
                found.append((label, path))
    return found


def _photographs() -> dict[str, Image.Image]:
    import matplotlib
    from sklearn.datasets import load_sample_images

    sample = Path(matplotlib.get_data_path()) / "sample_data"
    names = ("china", "flower")
    photos = {
        name: Image.fromarray(a) for name, a in zip(names, load_sample_images().images, strict=True)
    }
    photos["grace_hopper"] = Image.open(sample / "grace_hopper.jpg").convert("RGB")
    return photos


def _overlap(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return width * height / smaller


def _photo_crops(photo: Image.Image, rng: np.random.Generator, count: int) -> list[Image.Image]:
    width, height = photo.size
    boxes: list[tuple[int, int, int, int]] = []
    for _ in range(count * 200):
        if len(boxes) == count:
            break
        side = rng.uniform(0.15, 0.4)
        box_w, box_h = int(width * side * rng.uniform(0.8, 1.25)), int(height * side)
        left = int(rng.integers(0, width - box_w))
        top = int(rng.integers(0, height - box_h))
        box = (left, top, left + box_w, top + box_h)
        if all(_overlap(box, other) <= 0.25 for other in boxes):
            boxes.append(box)
    crops = []
    for k, box in enumerate(boxes):
        crop = photo.crop(box)
        if k % 4 == 0:  # a few at another scale, as collected photos come in many sizes
            # (reduced, never enlarged: an enlarged crop is soft, which would plant blur)
            crop = crop.resize((crop.width // 2, crop.height // 2), Image.Resampling.LANCZOS)
        crops.append(crop)
    return crops


def _digits() -> tuple[np.ndarray, np.ndarray]:
    import sklearn

    path = Path(sklearn.__file__).parent / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",")
    images = (table[:, :-1].reshape(-1, 8, 8) * (255 / 16)).round().astype(np.uint8)
    return images, table[:, -1].astype(int)


class _Writer:
    """Saves images into the datasets, once per pixel content, and records the manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: set[tuple[str, str]] = set()
        self.entries: list[dict[str, str]] = []
        self.dropped: Counter[str] = Counter()

    def add(self, dataset: str, relative: str, origin: str, image: Image.Image | None,
            data: bytes | None = None) -> None:  # fmt: skip
        pixels = image if image is not None else Image.open(io.BytesIO(data or b""))
        key = hashlib.sha256(f"{pixels.mode}{pixels.size}".encode() + pixels.tobytes()).hexdigest()
        if (dataset, key) in self.seen:
            self.dropped[origin] += 1
            return
        self.seen.add((dataset, key))
        target = self.root / dataset / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            target.write_bytes(data)
        elif target.suffix == ".jpg":
            image.save(target, quality=90)  # type: ignore[union-attr]
        else:
            image.save(target)  # type: ignore[union-attr]
        self.entries.append(
            {"dataset": dataset, "file": relative, "origin": origin, "half": half_of(relative)}
        )


def _add_file(writer: _Writer, dataset: str, label: str, origin: str, path: Path,
              name: str) -> None:  # fmt: skip
    """Copy a file as shipped, or flatten it onto white when it has alpha (as PNG)."""
    try:
        with Image.open(path) as image:
            image.load()
            flat = _flatten(image)
    except Exception:  # noqa: BLE001 - a file Pillow cannot read is simply not in the set
        writer.dropped[f"{origin} (unreadable)"] += 1
        return
    if flat is image and path.suffix.lower() in (".png", ".jpg", ".jpeg", ".gif", ".bmp"):
        writer.add(dataset, f"{label}/{name}{path.suffix.lower()}", origin, None,
                   path.read_bytes())  # fmt: skip
    else:
        writer.add(dataset, f"{label}/{name}.png", origin, flat)


def build(root: Path = NATURAL_ROOT, seed: int = 0) -> dict:
    """Assemble the natural set under ``root`` (reused when complete); return its manifest."""
    manifest_path = root / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("version") == _VERSION:
            return manifest
    if root.exists():
        shutil.rmtree(root)
    writer = _Writer(root)
    for name, path in _icons().items():
        context = path.parent.name
        if "symbolic" in name:
            with Image.open(path) as image:
                glyph = _flatten(image).convert("L")
            writer.add("glyphs", f"{context}/{name}.png", "icons_symbolic", glyph)
        else:
            _add_file(writer, "clipart", context, "icons_colour", path, name)
    for k, (label, path) in enumerate(_misc_files()):
        _add_file(writer, "clipart", label, f"misc_{label}", path, f"{k:03d}_{path.stem}")
    rng = np.random.default_rng(seed)
    for name, photo in _photographs().items():
        writer.add("photos", f"{name}/{name}_whole.jpg", "photo_whole", photo)
        for k, crop in enumerate(_photo_crops(photo, rng, 40)):
            writer.add("photos", f"{name}/{name}_crop{k:02d}.jpg", "photo_crop", crop)
    images, labels = _digits()
    for k, (pixels, label) in enumerate(zip(images, labels, strict=True)):
        split = "test" if k % 5 == 4 else "train"
        writer.add("digits", f"{split}/{label}/digit{k:04d}.png", "sklearn_digits",
                   Image.fromarray(pixels, "L"))  # fmt: skip
    counts = Counter((e["dataset"], e["origin"]) for e in writer.entries)
    manifest = {
        "version": _VERSION,
        "counts": {f"{d}/{o}": c for (d, o), c in sorted(counts.items())},
        "duplicates_dropped": dict(writer.dropped),
        "files": writer.entries,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


if __name__ == "__main__":
    built = build()
    print(json.dumps({k: v for k, v in built.items() if k != "files"}, indent=1))
    print(len(built["files"]), "images", file=sys.stderr)
