"""Build the demo project: photo-like digit images in split/class folders, with planted problems.

The images come from scikit-learn's bundled 8x8 digits (no download). Each digit is upscaled
smoothly, given crisp ink edges, a random pose (scale, stretch, rotation, position) and drawn on
a tinted, unevenly lit background (paper, or a chalkboard with light ink) with mild sensor noise.
Ordinary images are kept far apart under the 64-bit perceptual hash so that every near-duplicate
a check reports in the demo is one that was planted on purpose.
"""

from __future__ import annotations

import colorsys
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import laplace

from dlqa.core.errors import UsageError
from dlqa.data.probes.phash import center_hash, perceptual_hash
from dlqa.demo.audio_part import AudioPart, build_audio_part
from dlqa.demo.gates import gates_toml
from dlqa.demo.naming import NameDealer
from dlqa.demo.text_part import TextPart, build_text_part

CLASS_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
PLANTED_PROBLEMS = (
    "mislabeled",
    "exact_duplicates",
    "near_duplicate",
    "split_leakage",
    "corrupt",
    "format_mismatch",
    "dark",
)
IMAGE_SIZE = 112
TRAIN_FRACTION = 0.8
# Ordinary images differ in at least this many of the 64 pHash bits: well above the near-duplicate
# threshold (10 at most), so JPEG re-encoding or a smaller decode cannot bring two of them close.
MIN_HASH_DISTANCE = 16
LUMA_WINDOW = (70.0, 180.0)  # mean luma of ordinary images, inside the brightness checks' window
MIN_LUMA_STD = 25.0  # ordinary images keep a clear contrast
MIN_SHARPNESS = 150.0  # variance of the Laplacian of luma at full size; blur checks look lower
DARK_LUMA = 8.0
JPEG_QUALITY = 92
NEAR_DUPLICATE_SCALE = 0.9
NEAR_DUPLICATE_JPEG_QUALITY = 80
CORRUPT_KEEP_FRACTION = 0.6  # the truncated JPEG keeps this share of its bytes
_MAX_ATTEMPTS = 5000  # per image; a few dozen suffice even at the largest size
MIN_PER_CLASS, MAX_PER_CLASS = 5, 170  # the rarest digit class has 174 images; 1 is kept spare

_GRID = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32) / (IMAGE_SIZE - 1) - 0.5
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's "L"


@dataclass(frozen=True)
class DemoProject:
    root: Path  # project folder, holds dlqa.toml, data/ and (unless left out) audio/ and text/
    data_dir: Path  # root / "data"
    # problem name -> sample ids (relative to data_dir, POSIX) that a check must flag. The first id
    # is the planted file; for copies the second is the original it was copied from.
    planted: dict[str, list[str]]
    audio: AudioPart | None = None  # root / "audio", profiled as a run of its own
    text: TextPart | None = None  # root / "text" / "texts.csv", likewise

    def planted_by_part(self) -> dict[str, dict[str, list[str]]]:
        """Part ("image", "audio", "text") -> its planted problems, for the parts built."""
        parts = {"image": self.planted}
        if self.audio is not None:
            parts["audio"] = self.audio.planted
        if self.text is not None:
            parts["text"] = self.text.planted
        return parts


def demo_config_text() -> str:
    """The demo project's ``dlqa.toml``."""
    return """\
# dlqa demo project: image classification on upscaled scikit-learn digits (data/), plus an
# audio part (audio/) and a text part (text/texts.csv) that `dlqa demo` profiles as runs of
# their own, as these commands do here:
#   dlqa data profile audio
#   dlqa data profile text/texts.csv --text-column text --id-column id
[project]
name = "digits-demo"

[data]
source = "data"

# A small CNN on these images (dlqa/demo/training.py): the sanity battery and the fast loop.
[train]
model = "dlqa.demo.training:build_model"
loss = "dlqa.demo.training:loss_fn"
optimizer = "dlqa.demo.training:make_optimizer"
batch = "dlqa.demo.training:one_batch"
fast = "dlqa.demo.training:fast_train"

""" + gates_toml()


def build_demo_project(
    root: Path,
    *,
    seed: int = 0,
    n_per_class: int = 60,
    overwrite: bool = False,
    audio_and_text: bool = True,
) -> DemoProject:
    """Write ``root/dlqa.toml`` and images in ``root/data/<split>/<class>/``; same seed, same bytes.

    ``n_per_class`` ordinary images per class (5..170) are split 80/20 into train and test; seven
    problems are planted on top (see :data:`PLANTED_PROBLEMS` and :attr:`DemoProject.planted`).
    With ``audio_and_text``, the audio part (``root/audio``, see ``audio_part.py``) and the text
    part (``root/text/texts.csv``, see ``text_part.py``) are built too, with their own plants.
    Existing parts or ``dlqa.toml`` are replaced only with ``overwrite=True``.
    """
    if not MIN_PER_CLASS <= n_per_class <= MAX_PER_CLASS:
        raise UsageError(
            f"n_per_class must be between {MIN_PER_CLASS} and {MAX_PER_CLASS}, got {n_per_class}",
            hint="the bundled digits hold about 175 images per class",
        )
    root = Path(root)
    data_dir = root / "data"
    _prepare_folder(root, data_dir, overwrite)

    rng = np.random.default_rng(seed)
    digits, targets = _load_digits()
    renderer = _DistinctRenderer(rng)
    files: dict[str, bytes] = {}  # sample id -> file bytes, in a deterministic insertion order
    train_ids: dict[int, list[str]] = {}
    names = NameDealer(rng, capacity=10 * (n_per_class + 8), prefix="img_")
    spare_digit: dict[int, np.ndarray] = {}

    n_train = round(n_per_class * TRAIN_FRACTION)
    for class_index, class_name in enumerate(CLASS_NAMES):
        order = rng.permutation(np.flatnonzero(targets == class_index))
        spare_digit[class_index] = digits[order[n_per_class]]
        train_ids[class_index] = []
        for position, digit_index in enumerate(order[:n_per_class]):
            split = "train" if position < n_train else "test"
            as_png = rng.random() < 0.5
            sample_id = f"{split}/{class_name}/{names.next('.png' if as_png else '.jpg')}"
            files[sample_id] = renderer.render(digits[digit_index], as_png=as_png)
            if split == "train":
                train_ids[class_index].append(sample_id)

    planted = _plant_problems(rng, renderer, names, files, train_ids, spare_digit)
    for sample_id, content in files.items():
        path = data_dir / sample_id
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (root / "dlqa.toml").write_text(demo_config_text(), encoding="utf-8")
    if not audio_and_text:
        return DemoProject(root=root, data_dir=data_dir, planted=planted)
    return DemoProject(
        root=root,
        data_dir=data_dir,
        planted=planted,
        audio=build_audio_part(root, seed=seed),
        text=build_text_part(root, seed=seed),
    )


def _plant_problems(
    rng: np.random.Generator,
    renderer: _DistinctRenderer,
    names: NameDealer,
    files: dict[str, bytes],
    train_ids: dict[int, list[str]],
    spare_digit: dict[int, np.ndarray],
) -> dict[str, list[str]]:
    # Each plant gets a class of its own (eight of the ten), so plants never interact.
    source_class, target_class, duplicate_class, near_class, leak_class, *fresh_classes = (
        int(c) for c in rng.permutation(len(CLASS_NAMES))
    )
    corrupt_class, mismatch_class, dark_class = fresh_classes[:3]
    originals = {
        c: train_ids[c][int(rng.integers(len(train_ids[c])))]
        for c in (source_class, duplicate_class, near_class, leak_class)
    }

    def add(split: str, class_index: int, extension: str, content: bytes) -> str:
        sample_id = f"{split}/{CLASS_NAMES[class_index]}/{names.next(extension)}"
        files[sample_id] = content
        return sample_id

    def extension_of(sample_id: str) -> str:
        return Path(sample_id).suffix

    planted: dict[str, list[str]] = {}
    original = originals[source_class]
    copy = add("train", target_class, extension_of(original), files[original])
    planted["mislabeled"] = [copy, original]

    original = originals[duplicate_class]
    copy = add("train", duplicate_class, extension_of(original), files[original])
    planted["exact_duplicates"] = [copy, original]

    original = originals[near_class]
    with Image.open(io.BytesIO(files[original])) as decoded:
        smaller_size = round(IMAGE_SIZE * NEAR_DUPLICATE_SCALE)
        smaller = decoded.convert("RGB").resize(
            (smaller_size, smaller_size), Image.Resampling.BICUBIC
        )
    copy = add("train", near_class, ".jpg", _encode_jpeg(smaller, NEAR_DUPLICATE_JPEG_QUALITY))
    planted["near_duplicate"] = [copy, original]

    original = originals[leak_class]
    copy = add("test", leak_class, extension_of(original), files[original])
    planted["split_leakage"] = [copy, original]

    whole_jpeg = renderer.render(spare_digit[corrupt_class], as_png=False)
    truncated = whole_jpeg[: int(len(whole_jpeg) * CORRUPT_KEEP_FRACTION)]
    planted["corrupt"] = [add("train", corrupt_class, ".jpg", truncated)]

    png_bytes = renderer.render(spare_digit[mismatch_class], as_png=True)
    planted["format_mismatch"] = [add("train", mismatch_class, ".jpg", png_bytes)]

    dark_png = renderer.render(spare_digit[dark_class], as_png=True, darken=True)
    planted["dark"] = [add("train", dark_class, ".png", dark_png)]
    return planted


class _DistinctRenderer:
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
            rgb = _render_digit(digit, self._rng)
            if darken:
                rgb = rgb * np.float32(DARK_LUMA / float((rgb @ _LUMA_WEIGHTS).mean()))
            image = Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), "RGB")
            content = _encode_png(image) if as_png else _encode_jpeg(image, JPEG_QUALITY)
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


def _render_digit(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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


def _encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _encode_jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # imported here: only the demo needs scikit-learn

    bunch = load_digits()
    return np.asarray(bunch.images), np.asarray(bunch.target)


def _prepare_folder(root: Path, data_dir: Path, overwrite: bool) -> None:
    config = root / "dlqa.toml"
    parts = (data_dir, root / "audio", root / "text")
    taken = [p for p in (*parts, config) if p.exists() and (p.is_file() or any(p.iterdir()))]
    if taken and not overwrite:
        raise UsageError(
            f"{root} already holds a demo project ({', '.join(p.name for p in taken)})",
            hint="choose an empty folder, or remove the existing data, audio and text folders "
            "and dlqa.toml",
        )
    for part in parts:
        if part.is_dir():
            shutil.rmtree(part)
        elif part.exists():
            part.unlink()
    root.mkdir(parents=True, exist_ok=True)
